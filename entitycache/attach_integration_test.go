package entitycache_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"testing"

	"github.com/gotd/td/bin"
	"github.com/gotd/td/exchange"
	"github.com/gotd/td/tg"
	"github.com/gotd/td/tgerr"

	"github.com/tlsched/tlsched/actors"
	"github.com/tlsched/tlsched/entitycache"
	"github.com/tlsched/tlsched/tgsim"
	"github.com/tlsched/tlsched/tl"
)

// startAttached starts tgsim, then a client with no OnResult, then a cache
// with no Invoker, and attaches the cache to the started client.
func startAttached(t testing.TB) *world {
	t.Helper()
	keyOnce.Do(func() { key, _ = rsa.GenerateKey(rand.Reader, 2048) })
	srv, err := tgsim.Start(tgsim.Config{Key: key, Latency: tgsim.NoLatency, Flood: tgsim.FloodConfig{Off: true}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	dcs := srv.DCAddrs()
	c, err := actors.Start(context.Background(), actors.Config{DCs: dcs, PublicKeys: []exchange.PublicKey{srv.PublicKey()}, Store: actors.NewMemoryStore()})
	if err != nil {
		t.Fatal(err)
	}
	cache, err := entitycache.Open(entitycache.Config{})
	if err != nil {
		t.Fatal(err)
	}
	w := &world{srv: srv, c: c, cache: cache}
	t.Cleanup(w.close)
	if err := cache.Attach(c); err != nil {
		t.Fatal(err)
	}
	if err := cache.Attach(c); err == nil {
		t.Fatal("a second Attach was accepted")
	}
	return w
}

// Attached after Start, the cache learns from the client's results and
// resolves misses through it.
func TestAttachLearnsAndResolves(t *testing.T) {
	w := startAttached(t)
	if _, err := tg.NewClient(w.c).ContactsResolveUsername(ctx(t), &tg.ContactsResolveUsernameRequest{Username: "channel2"}); err != nil {
		t.Fatal(err)
	}
	if err := w.cache.Settle(ctx(t)); err != nil {
		t.Fatal(err)
	}
	if _, err := w.cache.InputChannel(ctx(t), "@channel2"); err != nil {
		t.Fatal(err)
	}
	if n := w.calls("contacts.resolveUsername"); n != 1 {
		t.Fatalf("%d resolveUsername calls: the cache did not learn from the client's result", n)
	}
	// A miss goes through the attached client.
	if _, err := w.cache.InputPeer(ctx(t), "@user5"); err != nil {
		t.Fatal(err)
	}
	if n := w.calls("contacts.resolveUsername"); n != 2 {
		t.Fatalf("%d resolveUsername calls, want 2", n)
	}
}

// A stale access hash in a plain tg.NewClient call is refreshed by the
// attached cache's middleware, and the call sent once more; the caller's
// request is left as it was.
func TestAttachRefreshesStaleHashThroughTgClient(t *testing.T) {
	w := startAttached(t)
	u := w.srv.Users()[0]
	// A hash the server will not accept (learned by another account, say).
	w.cache.Learn(&tg.User{ID: u.ID, AccessHash: 12345, Username: u.Username})
	peer, err := w.cache.InputPeer(ctx(t), "@"+u.Username)
	if err != nil {
		t.Fatal(err)
	}
	req := &tg.MessagesSendMessageRequest{Peer: peer, Message: "hi", RandomID: 1}
	upd, err := tg.NewClient(w.c).MessagesSendMessage(ctx(t), req)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := upd.(*tg.UpdateShortSentMessage); !ok {
		t.Fatalf("result %T", upd)
	}
	c := w.srv.Counters()
	if c.Calls["messages.sendMessage"] != 2 || c.Calls["contacts.resolveUsername"] != 1 || c.Errors["PEER_ID_INVALID"] != 1 {
		t.Fatalf("server saw %v, errors %v: want one rejected send, one resolve, one good send", c.Calls, c.Errors)
	}
	if req.Peer.(*tg.InputPeerUser).AccessHash != 12345 {
		t.Fatal("the caller's request was modified")
	}
	if w.cache.Stats().Refreshes != 1 {
		t.Fatalf("refreshes %d, want 1", w.cache.Stats().Refreshes)
	}
	// The fresh hash is kept: the next call needs nothing more.
	peer, err = w.cache.InputPeer(ctx(t), "@"+u.Username)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tg.NewClient(w.c).MessagesSendMessage(ctx(t), &tg.MessagesSendMessageRequest{Peer: peer, Message: "again"}); err != nil {
		t.Fatal(err)
	}
	if c := w.srv.Counters(); c.Calls["contacts.resolveUsername"] != 1 || c.Errors["PEER_ID_INVALID"] != 1 {
		t.Fatalf("second send: server saw %v, errors %v", c.Calls, c.Errors)
	}

	// A peer the refresh cannot help (no such user): the server's answer,
	// and no further send.
	before := w.srv.Counters().Calls["messages.sendMessage"]
	err = w.c.Invoke(ctx(t), &tg.MessagesSendMessageRequest{Peer: &tg.InputPeerUser{UserID: 1 << 39, AccessHash: 7}, Message: "x", RandomID: 3}, &tg.UpdatesBox{})
	if !tgerr.Is(err, "PEER_ID_INVALID", "USER_ID_INVALID") {
		t.Fatalf("unknown user: %v", err)
	}
	if n := w.srv.Counters().Calls["messages.sendMessage"] - before; n != 1 {
		t.Fatalf("%d sends after an unhelpful refresh, want 1", n)
	}
}

// cache.Invoke (the build callback) on an attached client refreshes once,
// by the names it used: the middleware does not refresh as well.
func TestAttachedInvokeRefreshesOnce(t *testing.T) {
	w := startAttached(t)
	u := w.srv.Users()[0]
	w.cache.Learn(&tg.User{ID: u.ID, AccessHash: 12345, Username: u.Username})
	var res tg.UpdatesBox
	err := w.cache.Invoke(ctx(t), w.c, func(ctx context.Context, r tl.Resolver) (bin.Encoder, error) {
		return tl.DecodeRequest(ctx, "messages.sendMessage", []byte(`{"peer":"@`+u.Username+`","message":"hi","random_id":1}`), tl.DecodeOptions{Resolver: r})
	}, &res)
	if err != nil {
		t.Fatal(err)
	}
	c := w.srv.Counters()
	if c.Calls["messages.sendMessage"] != 2 || c.Calls["contacts.resolveUsername"] != 1 || w.cache.Stats().Refreshes != 1 {
		t.Fatalf("server saw %v, refreshes %d", c.Calls, w.cache.Stats().Refreshes)
	}
}
