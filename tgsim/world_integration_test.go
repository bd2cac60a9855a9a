package tgsim_test

import (
	"encoding/binary"
	"strings"
	"testing"
	"time"

	"github.com/gotd/td/bin"
	"github.com/gotd/td/tg"

	"github.com/tlsched/tlsched/tgsim"
)

// loggedIn dials the bot's home DC (2) and initialises the key; with the
// default config a new key acts as the bot.
func loggedIn(t *testing.T, srv *tgsim.Server) *rawClient {
	c := dialRaw(t, srv, srv.Bot().DC)
	c.init()
	return c
}

func resolve(t *testing.T, c *rawClient, name string) *tg.ContactsResolvedPeer {
	t.Helper()
	var r tg.ContactsResolvedPeer
	c.ok(c.call(&tg.ContactsResolveUsernameRequest{Username: name}), &r)
	return &r
}

func TestWorldUsers(t *testing.T) {
	t.Parallel()
	srv := startSim(t, tgsim.Config{World: tgsim.WorldConfig{Users: 10}})
	c := loggedIn(t, srv)

	r := resolve(t, c, "User3") // usernames are case-insensitive
	u, ok := r.Users[len(r.Users)-1].(*tg.User)
	if !ok || u.Username != "user3" || u.AccessHash == 0 || r.Peer.(*tg.PeerUser).UserID != u.ID {
		t.Fatalf("resolved %+v", r)
	}
	var users tg.UserClassVector
	c.ok(c.call(&tg.UsersGetUsersRequest{ID: []tg.InputUserClass{&tg.InputUserSelf{}, &tg.InputUser{UserID: u.ID, AccessHash: u.AccessHash}}}), &users)
	if len(users.Elems) != 2 || !users.Elems[0].(*tg.User).Self || !users.Elems[0].(*tg.User).Bot || users.Elems[1].(*tg.User).ID != u.ID {
		t.Fatalf("users.getUsers: %+v", users.Elems)
	}
	c.fails(c.call(&tg.UsersGetUsersRequest{ID: []tg.InputUserClass{&tg.InputUser{UserID: u.ID, AccessHash: u.AccessHash + 1}}}), 400, "USER_ID_INVALID")
	// A bot may look a user up without a hash (Telegram allows it for users
	// the bot has met; Telethon relies on it).
	c.ok(c.call(&tg.UsersGetUsersRequest{ID: []tg.InputUserClass{&tg.InputUser{UserID: u.ID}}}), &users)
	if users.Elems[0].(*tg.User).AccessHash != u.AccessHash {
		t.Fatal("users.getUsers with hash 0 did not return the user with its hash")
	}
	var byPhone tg.ContactsResolvedPeer
	c.ok(c.call(&tg.ContactsResolvePhoneRequest{Phone: srv.Users()[2].Phone}), &byPhone)
	if got := byPhone.Users[1].(*tg.User); got.ID != u.ID || "+"+got.Phone != srv.Users()[2].Phone {
		t.Fatalf("contacts.resolvePhone: %+v", got)
	}
	c.fails(c.call(&tg.ContactsResolvePhoneRequest{Phone: "+1000"}), 400, "PHONE_NOT_OCCUPIED")
	var full tg.UsersUserFull
	c.ok(c.call(&tg.UsersGetFullUserRequest{ID: &tg.InputUser{UserID: u.ID, AccessHash: u.AccessHash}}), &full)
	if full.FullUser.ID != u.ID {
		t.Fatalf("users.getFullUser: %+v", full.FullUser)
	}

	c.fails(c.call(&tg.ContactsResolveUsernameRequest{Username: "nobody_here"}), 400, "USERNAME_NOT_OCCUPIED")
	for _, bad := range []string{"abc", "1user", "user_", "us er1", strings.Repeat("a", 33)} {
		c.fails(c.call(&tg.ContactsResolveUsernameRequest{Username: bad}), 400, "USERNAME_INVALID")
	}

	var st tg.UpdatesState
	c.ok(c.call(&tg.UpdatesGetStateRequest{}), &st)
	if st.Pts == 0 {
		t.Fatalf("updates.getState: %+v", st)
	}
}

func TestWorldSendMessageAndHistory(t *testing.T) {
	t.Parallel()
	srv := startSim(t, tgsim.Config{World: tgsim.WorldConfig{Users: 10}, Flood: tgsim.FloodConfig{Off: true}})
	c := loggedIn(t, srv)
	u := resolve(t, c, "user1").Users[1].(*tg.User)
	peer := &tg.InputPeerUser{UserID: u.ID, AccessHash: u.AccessHash}

	send := func(random int64, text string) *tg.UpdateShortSentMessage {
		t.Helper()
		var box tg.UpdatesBox
		c.ok(c.call(&tg.MessagesSendMessageRequest{Peer: peer, Message: text, RandomID: random}), &box)
		return box.Updates.(*tg.UpdateShortSentMessage)
	}
	first := send(1, "hello")
	second := send(2, "again")
	repeat := send(1, "hello") // the same random_id: the same message
	if second.ID != first.ID+1 || repeat.ID != first.ID {
		t.Fatalf("message ids %d, %d, repeat %d", first.ID, second.ID, repeat.ID)
	}
	if got := srv.Counters().Duplicates; got != 1 {
		t.Fatalf("Duplicates = %d, want 1", got)
	}
	c.fails(c.call(&tg.MessagesSendMessageRequest{Peer: &tg.InputPeerUser{UserID: u.ID, AccessHash: 1}, Message: "x", RandomID: 3}), 400, "PEER_ID_INVALID")
	c.fails(c.call(&tg.MessagesSendMessageRequest{Peer: peer, Message: " ", RandomID: 4}), 400, "MESSAGE_EMPTY")
	c.fails(c.call(&tg.MessagesSendMessageRequest{Peer: peer, Message: strings.Repeat("x", 4097), RandomID: 5}), 400, "MESSAGE_TOO_LONG")

	var hist tg.MessagesMessagesBox
	c.ok(c.call(&tg.MessagesGetHistoryRequest{Peer: peer, Limit: 10}), &hist)
	msgs := hist.Messages.(*tg.MessagesMessagesSlice).Messages
	if len(msgs) != 2 || msgs[0].(*tg.Message).Message != "again" || msgs[1].(*tg.Message).Message != "hello" {
		t.Fatalf("history: %+v", msgs)
	}

	// A channel: resolved by username, checked by channels.getChannels,
	// written to with updates carrying the message.
	r := resolve(t, c, "channel1")
	ch := r.Chats[0].(*tg.Channel)
	var chats tg.MessagesChatsBox
	c.ok(c.call(&tg.ChannelsGetChannelsRequest{ID: []tg.InputChannelClass{&tg.InputChannel{ChannelID: ch.ID, AccessHash: ch.AccessHash}}}), &chats)
	if got := chats.Chats.(*tg.MessagesChats).Chats[0].(*tg.Channel); got.ID != ch.ID || !got.Broadcast {
		t.Fatalf("channels.getChannels: %+v", got)
	}
	c.fails(c.call(&tg.ChannelsGetChannelsRequest{ID: []tg.InputChannelClass{&tg.InputChannel{ChannelID: ch.ID, AccessHash: 7}}}), 400, "CHANNEL_INVALID")
	var box tg.UpdatesBox
	c.ok(c.call(&tg.MessagesSendMessageRequest{Peer: &tg.InputPeerChannel{ChannelID: ch.ID, AccessHash: ch.AccessHash}, Message: "post", RandomID: 9}), &box)
	ups := box.Updates.(*tg.Updates)
	if id := ups.Updates[0].(*tg.UpdateMessageID); id.RandomID != 9 || id.ID != 1 {
		t.Fatalf("channel post: %+v", ups.Updates)
	}
	// A basic group by id.
	c.ok(c.call(&tg.MessagesSendMessageRequest{Peer: &tg.InputPeerChat{ChatID: srv.Chats()[0].ID}, Message: "hi group", RandomID: 10}), &box)
	c.fails(c.call(&tg.MessagesSendMessageRequest{Peer: &tg.InputPeerChat{ChatID: 1}, Message: "x", RandomID: 11}), 400, "PEER_ID_INVALID")
}

func TestWorldUnknownMethods(t *testing.T) {
	t.Parallel()
	srv := startSim(t, tgsim.Config{})
	c := loggedIn(t, srv)
	c.fails(c.call(&tg.MessagesSendMediaRequest{Peer: &tg.InputPeerSelf{}, Media: &tg.InputMediaEmpty{}, Message: "x"}), 400, "METHOD_NOT_SIMULATED_messages.sendMedia")
	var b bin.Buffer
	b.PutID(0x0badf00d)
	c.fails(c.call(rawBody(b.Buf)), 400, "INPUT_METHOD_INVALID_195948557")
}

// rawBody sends bytes as they are.
type rawBody []byte

func (r rawBody) Encode(b *bin.Buffer) error { b.Put(r); return nil }

func TestLatencyOrderAndContainers(t *testing.T) {
	t.Parallel()
	srv := startSim(t, tgsim.Config{
		Latency:       tgsim.NoLatency,
		MethodLatency: map[string]tgsim.Latency{"users.getFullUser": {Base: 200 * time.Millisecond}},
		GzipThreshold: 100,
	})
	c := loggedIn(t, srv)
	// The slow call is sent first; the fast one's result comes first.
	ids := c.container(&tg.UsersGetFullUserRequest{ID: &tg.InputUserSelf{}}, &tg.HelpGetNearestDCRequest{})
	fast := c.next("first result", ofType(0xf35c6d01))
	if got := int64(binary.LittleEndian.Uint64(fast.body[4:])); got != ids[1] {
		t.Fatalf("first result is for %d, want the fast call %d", got, ids[1])
	}
	c.ok(ids[0], nil)

	// Results ready together go out together: 50 calls answered at once
	// come back in one container.
	qs := make([]bin.Encoder, 50)
	for i := range qs {
		qs[i] = &tg.HelpGetNearestDCRequest{}
	}
	ids = c.container(qs...)
	var frames = map[int]int{}
	for _, id := range ids {
		m := c.resultMsg(id)
		frames[m.frame] = m.inFrame
	}
	for f, n := range frames {
		if n < 2 {
			t.Fatalf("frame %d carried a single message; results ready together should share containers (%v)", f, frames)
		}
	}
	// A large result is gzip-packed (the threshold is 100 bytes here).
	before := srv.Counters().GzippedOut
	c.ok(c.call(&tg.HelpGetConfigRequest{}), &tg.Config{})
	if srv.Counters().GzippedOut != before+1 {
		t.Fatal("help.getConfig result was not gzip-packed")
	}
}
