package entitycache_test

import (
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"path/filepath"
	"testing"

	"github.com/gotd/td/exchange"
	"github.com/gotd/td/tg"

	"github.com/tlsched/tlsched/actors"
	"github.com/tlsched/tlsched/entitycache"
	"github.com/tlsched/tlsched/tgsim"
)

// fleetWorld is tgsim with two bots and a Fleet of them ("a", "b") whose
// keys and entity caches live in one bbolt file.
type fleetWorld struct {
	t    *testing.T
	srv  *tgsim.Server
	path string
	bots map[string]tgsim.Account
	f    *actors.Fleet
	db   *actors.BoltDB
}

// open opens the file and a Fleet of both bots on it.
func (w *fleetWorld) open() {
	t := w.t
	t.Helper()
	db, err := actors.OpenBoltStore(w.path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := actors.NewFleet(ctx(t), actors.FleetConfig{DCs: w.srv.DCAddrs(),
		PublicKeys: []exchange.PublicKey{w.srv.PublicKey()}, APIID: 1, APIHash: "test", Store: db})
	if err != nil {
		t.Fatal(err)
	}
	w.f, w.db = f, db
	for _, n := range []string{"a", "b"} {
		w.add(n)
	}
}

func (w *fleetWorld) add(name string) {
	w.t.Helper()
	if _, err := w.f.Add(ctx(w.t), name, actors.AccountConfig{BotToken: w.bots[name].Token,
		Config: actors.Config{DialLimits: []actors.DialLimit{}}}); err != nil {
		w.t.Fatal(err)
	}
}

// close closes the Fleet (and so the caches), then the file.
func (w *fleetWorld) close() {
	w.t.Helper()
	if w.f == nil {
		return
	}
	if err := w.f.Close(ctx(w.t)); err != nil {
		w.t.Error(err)
	}
	if err := w.db.Close(); err != nil {
		w.t.Error(err)
	}
	w.f, w.db = nil, nil
}

// cache is the entity cache of account name.
func (w *fleetWorld) cache(name string) *entitycache.Cache {
	w.t.Helper()
	c, err := entitycache.ForAccount(w.f, name, entitycache.Config{})
	if err != nil {
		w.t.Fatal(err)
	}
	return c
}

// resolves counts the contacts.resolveUsername calls account name made.
func (w *fleetWorld) resolves(name string) int64 {
	return w.srv.AccountCounters(w.bots[name].ID).Calls["contacts.resolveUsername"]
}

// hashOf resolves @username in account name's cache; the hash must be the
// one the server gives that account (users.getUsers through its Client
// answers with the viewer's hash, and accepts only it).
func (w *fleetWorld) hashOf(name, username string) int64 {
	t := w.t
	t.Helper()
	in, err := w.cache(name).InputUser(ctx(t), "@"+username)
	if err != nil {
		t.Fatalf("%s: @%s: %v", name, username, err)
	}
	u := in.(*tg.InputUser)
	c, err := w.f.Client(name)
	if err != nil {
		t.Fatal(err)
	}
	got, err := tg.NewClient(c).UsersGetUsers(ctx(t), []tg.InputUserClass{u})
	if err != nil || len(got) != 1 {
		t.Fatalf("%s: users.getUsers(@%s): %v %v", name, username, got, err)
	}
	if h := got[0].(*tg.User).AccessHash; h != u.AccessHash {
		t.Fatalf("%s: @%s: the cache's hash %d, the server's for this account %d", name, username, u.AccessHash, h)
	}
	return u.AccessHash
}

// Two accounts of one Fleet, one bbolt file: each has its own entity
// cache in its own namespace, holding its own access hash of a peer both
// know; what one learned the other does not know; the caches come back per
// account after Remove and Add, and after the file is reopened by a new
// Fleet; DeleteAccount drops one account's cache only.
func TestFleetAccountsOwnEntityCaches(t *testing.T) {
	keyOnce.Do(func() { key, _ = rsa.GenerateKey(rand.Reader, 2048) })
	srv, err := tgsim.Start(tgsim.Config{Key: key, RequireLogin: true, Latency: tgsim.NoLatency,
		Flood: tgsim.FloodConfig{Off: true}, World: tgsim.WorldConfig{Users: 3, Bots: 2}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	bots := srv.Bots()
	w := &fleetWorld{t: t, srv: srv, path: filepath.Join(t.TempDir(), "fleet.db"),
		bots: map[string]tgsim.Account{"a": bots[0], "b": bots[1]}}
	t.Cleanup(w.close)
	w.open()
	for _, n := range []string{"a", "b"} {
		if _, err := w.f.Login(ctx(t), n); err != nil {
			t.Fatalf("login %s: %v", n, err)
		}
	}
	if w.cache("a") != w.cache("a") || w.cache("a") == w.cache("b") {
		t.Fatal("ForAccount: want one cache per account")
	}
	users := srv.Users()
	both, onlyA := users[0], users[1]

	// The same peer, learned by both: each its own hash.
	ha, hb := w.hashOf("a", both.Username), w.hashOf("b", both.Username)
	if ha == hb {
		t.Fatalf("both accounts hold hash %d for user %d: tgsim's hashes are per account", ha, both.ID)
	}
	// Learned by a only: b's cache does not know it.
	haOnly := w.hashOf("a", onlyA.Username)
	if _, ok := w.cache("b").Lookup(entitycache.Key{Kind: entitycache.User, ID: onlyA.ID}); ok {
		t.Fatalf("b's cache knows user %d, which only a learned", onlyA.ID)
	}
	if n := w.resolves("b"); n != 1 {
		t.Fatalf("b made %d resolveUsername calls, want 1 (its own)", n)
	}

	// Remove writes a's cache and closes it; re-Added, a finds its peers in
	// its namespace, without a network call.
	before := w.cache("a")
	if err := w.f.Remove(ctx(t), "a"); err != nil {
		t.Fatal(err)
	}
	if _, err := entitycache.ForAccount(w.f, "a", entitycache.Config{}); !errors.Is(err, actors.ErrNoAccount) {
		t.Fatalf("cache of a removed account: %v", err)
	}
	w.add("a")
	if w.cache("a") == before {
		t.Fatal("the re-Added account got the closed cache")
	}
	resolvedA := w.resolves("a")
	if h := w.hashOf("a", onlyA.Username); h != haOnly {
		t.Fatalf("after Remove and Add: a's hash of user %d is %d, was %d", onlyA.ID, h, haOnly)
	}
	if n := w.resolves("a"); n != resolvedA {
		t.Fatalf("after Remove and Add: a made %d resolveUsername calls, had made %d: its cache did not come back", n, resolvedA)
	}

	// A new Fleet on the reopened file: each account's cache is back, with
	// its own hashes, without a network call.
	w.close()
	w.open()
	if ha2, hb2 := w.hashOf("a", both.Username), w.hashOf("b", both.Username); ha2 != ha || hb2 != hb {
		t.Fatalf("after reopening: hashes a %d b %d, were a %d b %d", ha2, hb2, ha, hb)
	}
	if h := w.hashOf("a", onlyA.Username); h != haOnly {
		t.Fatalf("after reopening: a's hash of user %d is %d, was %d", onlyA.ID, h, haOnly)
	}
	if _, ok := w.cache("b").Lookup(entitycache.Key{Kind: entitycache.User, ID: onlyA.ID}); ok {
		t.Fatalf("after reopening: b's cache knows user %d, which only a learned", onlyA.ID)
	}
	if na, nb := w.resolves("a"), w.resolves("b"); na != resolvedA || nb != 1 {
		t.Fatalf("resolveUsername calls a %d b %d, want %d 1: a cache did not come back from the file", na, nb, resolvedA)
	}

	// DeleteAccount drops b's cache with its keys; a's stays.
	w.close()
	db, err := actors.OpenBoltStore(w.path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.DeleteAccount("b"); err != nil {
		t.Fatal(err)
	}
	for n, want := range map[string]bool{"a": true, "b": false} {
		st, err := entitycache.OpenBucketStore(db.Account(n).Bucket(entitycache.FleetBucket))
		if err != nil {
			t.Fatal(err)
		}
		if k, _ := st.Len(); (k > 0) != want {
			t.Fatalf("%s's cache holds %d entities after DeleteAccount(b)", n, k)
		}
	}
}
