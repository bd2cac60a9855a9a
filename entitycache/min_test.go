package entitycache

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/gotd/td/bin"
	"github.com/gotd/td/tg"
	"github.com/gotd/td/tgerr"

	"github.com/tlsched/tlsched/tl"
)

// TestMinNeverHandedOut: a min hash is never returned as a full one; with a
// message that mentioned the min peer the cache builds the ...FromMessage
// form; a full hash, once seen, wins. Before, InputPeer("9") returned
// inputPeerUser{9, 777}.
func TestMinNeverHandedOut(t *testing.T) {
	ctx := context.Background()
	c, _ := newMem(t)
	c.Learn(&tg.User{ID: 9, AccessHash: 777, Min: true})
	var nf *NotFoundError
	if p, err := c.InputPeer(ctx, "9"); !errors.As(err, &nf) {
		t.Fatalf("min user with no message: %v %v, want a miss (*NotFoundError without an Invoker)", p, err)
	}
	c.Learn(&tg.Channel{ID: 61, AccessHash: 6100, Min: true, Photo: &tg.ChatPhotoEmpty{}})
	if p, err := c.InputPeer(ctx, "-1000000000061"); !errors.As(err, &nf) {
		t.Fatalf("min channel: %v %v, want a miss", p, err)
	}

	// A supergroup's history: user 9 and channel 61 wrote in channel 50.
	c.Learn(&tg.MessagesChannelMessages{
		Messages: []tg.MessageClass{
			&tg.Message{ID: 12, FromID: &tg.PeerUser{UserID: 9}, PeerID: &tg.PeerChannel{ChannelID: 50}},
			&tg.Message{ID: 13, FromID: &tg.PeerChannel{ChannelID: 61}, PeerID: &tg.PeerChannel{ChannelID: 50}},
		},
		Chats: []tg.ChatClass{
			&tg.Channel{ID: 50, AccessHash: 5000, Megagroup: true, Photo: &tg.ChatPhotoEmpty{}},
			&tg.Channel{ID: 61, AccessHash: 6100, Min: true, Photo: &tg.ChatPhotoEmpty{}},
		},
		Users: []tg.UserClass{&tg.User{ID: 9, AccessHash: 777, Min: true}},
	})
	group := &tg.InputPeerChannel{ChannelID: 50, AccessHash: 5000}
	p, err := c.InputPeer(ctx, "9")
	if want := (&tg.InputPeerUserFromMessage{Peer: group, MsgID: 12, UserID: 9}); err != nil || p.String() != want.String() {
		t.Fatalf("min user seen in a message: %v %v, want %v", p, err, want)
	}
	u, err := c.InputUser(ctx, "9")
	if want := (&tg.InputUserFromMessage{Peer: group, MsgID: 12, UserID: 9}); err != nil || u.String() != want.String() {
		t.Fatalf("InputUser: %v %v, want %v", u, err, want)
	}
	p, err = c.InputPeer(ctx, "-1000000000061")
	if want := (&tg.InputPeerChannelFromMessage{Peer: group, MsgID: 13, ChannelID: 61}); err != nil || p.String() != want.String() {
		t.Fatalf("min channel seen in a message: %v %v, want %v", p, err, want)
	}
	ch, err := c.InputChannel(ctx, "-1000000000061")
	if want := (&tg.InputChannelFromMessage{Peer: group, MsgID: 13, ChannelID: 61}); err != nil || ch.String() != want.String() {
		t.Fatalf("InputChannel: %v %v, want %v", ch, err, want)
	}

	// The message reference survives the store.
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
	if e, _, _ := c.store.Get(Key{User, 9}); e.Via != (MessageRef{Key{Channel, 50}, 12}) || !e.Min {
		t.Fatalf("stored %+v", e)
	}

	// A full hash replaces the min one.
	c.Learn(&tg.User{ID: 9, AccessHash: 778})
	if p, err := c.InputPeer(ctx, "9"); err != nil || p.(*tg.InputPeerUser).AccessHash != 778 {
		t.Fatalf("after the full user: %v %v", p, err)
	}
}

// fakeServer answers the calls the cache and Invoke make, counting them.
type fakeServer struct {
	mu    sync.Mutex
	calls map[string]int
	// answers by TL type name; nil: an empty success.
	errs map[string]error
}

func (f *fakeServer) Invoke(ctx context.Context, req bin.Encoder, res bin.Decoder) error {
	name := req.(interface{ TypeName() string }).TypeName()
	f.mu.Lock()
	if f.calls == nil {
		f.calls = map[string]int{}
	}
	f.calls[name]++
	f.mu.Unlock()
	return f.errs[name]
}

func (f *fakeServer) total() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, v := range f.calls {
		n += v
	}
	return n
}

// TestRefreshThatCannotHelp: the server rejects a cached hash and will not
// look the numeric id up either. The caller gets the server's error, not a
// *NotFoundError, and later calls cost one RPC each, not two. Before, the
// caller got NotFoundError and every call sent messages.sendMessage and
// users.getUsers.
func TestRefreshThatCannotHelp(t *testing.T) {
	srv := &fakeServer{errs: map[string]error{
		"messages.sendMessage": tgerr.New(400, "PEER_ID_INVALID"),
		"users.getUsers":       tgerr.New(400, "USER_ID_INVALID"),
	}}
	c, err := Open(Config{Invoker: srv})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Learn(&tg.User{ID: 10, AccessHash: 5})
	send := func() error {
		return c.Invoke(context.Background(), srv, func(ctx context.Context, r tl.Resolver) (bin.Encoder, error) {
			p, err := r.Resolve(ctx, "InputPeer", "10")
			if err != nil {
				return nil, err
			}
			return &tg.MessagesSendMessageRequest{Peer: p.(tg.InputPeerClass), Message: "hi", RandomID: 1}, nil
		}, &tg.UpdatesBox{})
	}
	for i := range 3 {
		before := srv.total()
		err := send()
		var nf *NotFoundError
		if !tgerr.Is(err, "PEER_ID_INVALID") || errors.As(err, &nf) {
			t.Fatalf("call %d: %v, want the server's PEER_ID_INVALID", i, err)
		}
		want := 1
		if i == 0 {
			want = 2 // the send and one users.getUsers
		}
		if n := srv.total() - before; n != want {
			t.Fatalf("call %d cost %d RPCs (%v), want %d", i, n, srv.calls, want)
		}
	}
}

// nameServer answers contacts.resolveUsername with a full user and refuses
// users.getUsers, as Telegram does for a user account and an id with no
// hash.
type nameServer struct{ fakeServer }

func (s *nameServer) Invoke(ctx context.Context, req bin.Encoder, res bin.Decoder) error {
	if err := s.fakeServer.Invoke(ctx, req, res); err != nil {
		return err
	}
	r, ok := req.(*tg.ContactsResolveUsernameRequest)
	if !ok {
		return tgerr.New(400, "USER_ID_INVALID")
	}
	var b bin.Buffer
	if err := (&tg.ContactsResolvedPeer{Peer: &tg.PeerUser{UserID: 9}, Users: []tg.UserClass{&tg.User{ID: 9, AccessHash: 999, Username: r.Username}}}).Encode(&b); err != nil {
		return err
	}
	return res.Decode(&b)
}

// TestMinWithUsernameResolvesByName: a min user with no message but a
// username is resolved by its name (contacts.resolveUsername), not by an id
// lookup without a hash that the server refuses.
func TestMinWithUsernameResolvesByName(t *testing.T) {
	srv := &nameServer{}
	c, err := Open(Config{Invoker: srv})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Learn(&tg.User{ID: 9, AccessHash: 777, Min: true, Username: "nine_user"})
	p, err := c.InputPeer(context.Background(), "9")
	if err != nil || p.(*tg.InputPeerUser).AccessHash != 999 {
		t.Fatalf("min user with a username: %v %v, want the full hash from resolveUsername", p, err)
	}
	if srv.calls["users.getUsers"] != 0 || srv.calls["contacts.resolveUsername"] != 1 {
		t.Fatalf("calls %v, want one contacts.resolveUsername", srv.calls)
	}
}
