package entitycache_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/gotd/td/bin"
	"github.com/gotd/td/exchange"
	"github.com/gotd/td/tg"

	"github.com/tlsched/tlsched/actors"
	"github.com/tlsched/tlsched/entitycache"
	"github.com/tlsched/tlsched/tgsim"
	"github.com/tlsched/tlsched/tl"
)

var (
	keyOnce sync.Once
	key     *rsa.PrivateKey
)

// world is tgsim, an actors client for it, and a cache on both.
type world struct {
	srv   *tgsim.Server
	c     *actors.Client
	cache *entitycache.Cache
}

func start(t testing.TB, path string) *world {
	t.Helper()
	keyOnce.Do(func() { key, _ = rsa.GenerateKey(rand.Reader, 2048) })
	srv, err := tgsim.Start(tgsim.Config{Key: key, Latency: tgsim.NoLatency, Flood: tgsim.FloodConfig{Off: true}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return attach(t, srv, path)
}

// attach starts a client and a cache (on the file at path, or in memory).
func attach(t testing.TB, srv *tgsim.Server, path string) *world {
	t.Helper()
	w := &world{srv: srv}
	dcs := srv.DCAddrs()
	var hook func(*tl.Definition, []byte)
	c, err := actors.Start(context.Background(), actors.Config{
		DCs: dcs, PublicKeys: []exchange.PublicKey{srv.PublicKey()}, Store: actors.NewMemoryStore(),
		OnResult: func(m *tl.Definition, b []byte) { hook(m, b) },
	})
	if err != nil {
		t.Fatal(err)
	}
	w.c = c
	w.cache, err = entitycache.Open(entitycache.Config{Path: path, Invoker: c})
	if err != nil {
		t.Fatal(err)
	}
	hook = w.cache.LearnResult
	t.Cleanup(w.close)
	return w
}

func (w *world) close() {
	w.cache.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	w.c.Close(ctx)
}

func (w *world) calls(method string) int64 { return w.srv.Counters().Calls[method] }

func ctx(t testing.TB) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return c
}

func TestColdThenWarm(t *testing.T) {
	w := start(t, "")
	p, err := w.cache.InputPeer(ctx(t), "@user5")
	if err != nil {
		t.Fatal(err)
	}
	if w.calls("contacts.resolveUsername") != 1 {
		t.Fatalf("cold resolve: %d network calls, want 1", w.calls("contacts.resolveUsername"))
	}
	for _, s := range []string{"@USER5", "t.me/user5", "https://t.me/user5", fmt.Sprint(p.(*tg.InputPeerUser).UserID)} {
		q, err := w.cache.InputPeer(ctx(t), s)
		if err != nil || q.(*tg.InputPeerUser).AccessHash != p.(*tg.InputPeerUser).AccessHash {
			t.Fatalf("warm %s: %v %v", s, q, err)
		}
	}
	if n := w.calls("contacts.resolveUsername") + w.calls("users.getUsers"); n != 1 {
		t.Fatalf("warm resolves went to the network: %d calls in all", n)
	}

	// Ids and phones not seen yet: users.getUsers (a bot may pass hash 0),
	// channels.getChannels, contacts.resolvePhone.
	users := w.srv.Users()
	if _, err := w.cache.InputUser(ctx(t), fmt.Sprint(users[9].ID)); err != nil {
		t.Fatal(err)
	}
	var ch tgsim.Chat
	for _, c := range w.srv.Chats() {
		if c.Kind == "channel" {
			ch = c
			break
		}
	}
	if _, err := w.cache.InputChannel(ctx(t), fmt.Sprint(-1_000_000_000_000-ch.ID)); err != nil {
		t.Fatal(err)
	}
	if p, err := w.cache.InputPeer(ctx(t), users[3].Phone); err != nil || p.(*tg.InputPeerUser).UserID != users[3].ID {
		t.Fatalf("phone: %v %v", p, err)
	}
	if w.calls("users.getUsers") != 1 || w.calls("channels.getChannels") != 1 || w.calls("contacts.resolvePhone") != 1 {
		t.Fatalf("calls: %v", w.srv.Counters().Calls)
	}

	// Unknown names: a typed error, remembered briefly.
	var nf *entitycache.NotFoundError
	for range 3 {
		if _, err := w.cache.InputPeer(ctx(t), "@nobody_here"); !errors.As(err, &nf) {
			t.Fatalf("unknown name: %v", err)
		}
	}
	if w.calls("contacts.resolveUsername") != 2 {
		t.Fatalf("negative cache: %d resolveUsername calls, want 2", w.calls("contacts.resolveUsername"))
	}
}

func TestLearnsFromEveryResult(t *testing.T) {
	w := start(t, "")
	// A call made through the facade, not through the cache.
	if _, err := w.c.Call(ctx(t), &tg.ContactsResolveUsernameRequest{Username: "channel2"}); err != nil {
		t.Fatal(err)
	}
	// OnResult queued the result for the cache's learner before the call
	// returned; Settle waits until it is learned.
	if err := w.cache.Settle(ctx(t)); err != nil {
		t.Fatal(err)
	}
	p, err := w.cache.InputChannel(ctx(t), "@channel2")
	if err != nil || p.(*tg.InputChannel).AccessHash == 0 {
		t.Fatalf("@channel2: %v %v", p, err)
	}
	if n := w.calls("contacts.resolveUsername"); n != 1 {
		t.Fatalf("the cache asked the server again (%d calls): it did not learn from the facade's result", n)
	}
}

func TestStaleHashRefreshesOnce(t *testing.T) {
	w := start(t, "")
	u := w.srv.Users()[0]
	// A hash the server will not accept (learned by another account, say).
	w.cache.Learn(&tg.User{ID: u.ID, AccessHash: 12345, Username: u.Username})
	var res tg.UpdatesBox
	err := w.cache.Invoke(ctx(t), w.c, func(ctx context.Context, r tl.Resolver) (bin.Encoder, error) {
		return tl.DecodeRequest(ctx, "messages.sendMessage", []byte(`{"peer":"@`+u.Username+`","message":"hi","random_id":1}`), tl.DecodeOptions{Resolver: r})
	}, &res)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := res.Updates.(*tg.UpdateShortSentMessage); !ok {
		t.Fatalf("result %T", res.Updates)
	}
	c := w.srv.Counters()
	if c.Calls["messages.sendMessage"] != 2 || c.Calls["contacts.resolveUsername"] != 1 || c.Errors["PEER_ID_INVALID"] != 1 {
		t.Fatalf("server saw %v, errors %v: want one rejected send, one resolve, one good send", c.Calls, c.Errors)
	}
	// The fresh hash is kept: the next send needs nothing more.
	err = w.cache.Invoke(ctx(t), w.c, func(ctx context.Context, r tl.Resolver) (bin.Encoder, error) {
		p, err := r.Resolve(ctx, "InputPeer", "@"+u.Username)
		if err != nil {
			return nil, err
		}
		return &tg.MessagesSendMessageRequest{Peer: p.(tg.InputPeerClass), Message: "again", RandomID: 2}, nil
	}, &res)
	if err != nil || w.calls("contacts.resolveUsername") != 1 || w.cache.Stats().Refreshes != 1 {
		t.Fatalf("second send: %v, resolves %d, refreshes %d", err, w.calls("contacts.resolveUsername"), w.cache.Stats().Refreshes)
	}
}

func TestSurvivesRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "entities.db")
	w := start(t, path)
	p, err := w.cache.InputPeer(ctx(t), "@supergroup3")
	if err != nil {
		t.Fatal(err)
	}
	w.close()
	// A new process: a new client and cache on the same file and server.
	w2 := attach(t, w.srv, path)
	q, err := w2.cache.InputPeer(ctx(t), "@supergroup3")
	if err != nil || q.(*tg.InputPeerChannel).AccessHash != p.(*tg.InputPeerChannel).AccessHash {
		t.Fatalf("after restart: %v %v", q, err)
	}
	if n := w2.calls("contacts.resolveUsername"); n != 1 {
		t.Fatalf("%d resolve calls: the restarted cache asked the server again", n)
	}
}

func TestConcurrentResolvesMerge(t *testing.T) {
	w := start(t, "")
	var wg sync.WaitGroup
	errs := make(chan error, 1000)
	hashes := make(chan int64, 1000)
	for range 1000 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p, err := w.cache.InputPeer(ctx(t), "@user77")
			if err != nil {
				errs <- err
				return
			}
			hashes <- p.(*tg.InputPeerUser).AccessHash
		}()
	}
	wg.Wait()
	close(errs)
	close(hashes)
	for err := range errs {
		t.Fatal(err)
	}
	first := <-hashes
	for h := range hashes {
		if h != first {
			t.Fatal("different hashes for one name")
		}
	}
	if n := w.calls("contacts.resolveUsername"); n != 1 {
		t.Fatalf("1,000 concurrent resolves of one name made %d calls, want 1", n)
	}
}

// TestInviteLinkThroughTgsim: t.me/+HASH and t.me/joinchat/HASH resolve
// through tgsim's messages.checkChatInvite to the chat, then from the cache.
func TestInviteLinkThroughTgsim(t *testing.T) {
	w := start(t, "")
	var sg tgsim.Chat
	for _, c := range w.srv.Chats() {
		if c.Kind == "supergroup" {
			sg = c
			break
		}
	}
	for _, link := range []string{"https://t.me/+" + sg.Invite, "t.me/joinchat/" + sg.Invite} {
		p, err := w.cache.InputPeer(ctx(t), link)
		if err != nil || p.(*tg.InputPeerChannel).ChannelID != sg.ID {
			t.Fatalf("%s: %v %v, want channel %d", link, p, err, sg.ID)
		}
	}
	if n := w.calls("messages.checkChatInvite"); n != 1 {
		t.Fatalf("%d checkChatInvite calls, want 1", n)
	}
	var nf *entitycache.NotFoundError
	if _, err := w.cache.InputPeer(ctx(t), "t.me/+NoSuchInvite"); !errors.As(err, &nf) {
		t.Fatalf("unknown invite: %v", err)
	}
}

func firstChat(t *testing.T, srv *tgsim.Server, kind string) tgsim.Chat {
	for _, c := range srv.Chats() {
		if c.Kind == kind {
			return c
		}
	}
	t.Fatalf("no %s in the world", kind)
	return tgsim.Chat{}
}

// TestMinSendersEndToEnd: a supergroup's history shows another user's
// message with a min user; the cache never hands out its hash, builds
// inputPeerUserFromMessage from the message, and tgsim accepts it.
func TestMinSendersEndToEnd(t *testing.T) {
	w := start(t, "")
	sg := firstChat(t, w.srv, "supergroup")
	other := w.srv.Users()[4]
	msgID, err := w.srv.PostAs(sg.ID, other.ID, "hello from a stranger")
	if err != nil {
		t.Fatal(err)
	}
	group, err := w.cache.InputPeer(ctx(t), "@"+sg.Username)
	if err != nil {
		t.Fatal(err)
	}
	var hist tg.MessagesMessagesBox
	if err := w.c.Invoke(ctx(t), &tg.MessagesGetHistoryRequest{Peer: group, Limit: 10}, &hist); err != nil {
		t.Fatal(err)
	}
	var sawMin bool
	for _, u := range hist.Messages.(*tg.MessagesChannelMessages).Users {
		if u, ok := u.(*tg.User); ok && u.ID == other.ID && u.Min {
			sawMin = true
		}
	}
	if !sawMin {
		t.Fatal("tgsim did not show the sender as a min user")
	}
	if err := w.cache.Settle(ctx(t)); err != nil {
		t.Fatal(err)
	}
	p, err := w.cache.InputPeer(ctx(t), fmt.Sprint(other.ID))
	fm, ok := p.(*tg.InputPeerUserFromMessage)
	if err != nil || !ok || fm.MsgID != msgID || fm.UserID != other.ID {
		t.Fatalf("the min sender: %v %v, want inputPeerUserFromMessage of message %d", p, err, msgID)
	}
	var res tg.UpdatesBox
	if err := w.c.Invoke(ctx(t), &tg.MessagesSendMessageRequest{Peer: p, Message: "hi", RandomID: 7}, &res); err != nil {
		t.Fatalf("sending through the message reference: %v", err)
	}
	if n := w.calls("users.getUsers"); n != 0 {
		t.Fatalf("%d users.getUsers calls: the min sender went to the network", n)
	}
}

// TestMigratedGroupEndToEnd: tgsim shows an upgraded basic group with
// migrated_to; after one result holding it, the old id is refused with the
// supergroup to use, which resolves from the cache alone and takes
// messages.
func TestMigratedGroupEndToEnd(t *testing.T) {
	w := start(t, "")
	g := firstChat(t, w.srv, "group")
	chID, err := w.srv.UpgradeGroup(g.ID)
	if err != nil {
		t.Fatal(err)
	}
	var hist tg.MessagesMessagesBox
	if err := w.c.Invoke(ctx(t), &tg.MessagesGetHistoryRequest{Peer: &tg.InputPeerChat{ChatID: g.ID}, Limit: 1}, &hist); err != nil {
		t.Fatal(err)
	}
	if err := w.cache.Settle(ctx(t)); err != nil {
		t.Fatal(err)
	}
	_, err = w.cache.InputPeer(ctx(t), fmt.Sprint(-g.ID))
	var me *entitycache.MigratedError
	if !errors.As(err, &me) || me.ChannelID != chID {
		t.Fatalf("the upgraded group: %v, want a *MigratedError naming %d", err, chID)
	}
	p, err := w.cache.InputPeer(ctx(t), me.Channel())
	if err != nil {
		t.Fatal(err)
	}
	var res tg.UpdatesBox
	if err := w.c.Invoke(ctx(t), &tg.MessagesSendMessageRequest{Peer: p, Message: "in the new supergroup", RandomID: 9}, &res); err != nil {
		t.Fatal(err)
	}
	if n := w.calls("channels.getChannels"); n != 0 {
		t.Fatalf("%d channels.getChannels calls: the supergroup was not learned from migrated_to", n)
	}
}
