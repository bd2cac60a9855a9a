package actors

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gotd/td/exchange"
	"github.com/gotd/td/tg"
	"github.com/gotd/td/tgerr"

	"github.com/tlsched/tlsched/scheduler"
	"github.com/tlsched/tlsched/tgsim"
)

// fleetSim runs tgsim with bots logged in nowhere yet (RequireLogin) and a
// Fleet for it whose accounts keep their keys in one bbolt file.
func fleetSim(t *testing.T, bots int) (*tgsim.Server, *Fleet, *BoltDB) {
	t.Helper()
	srv, err := tgsim.Start(tgsim.Config{Key: serverKey(), RequireLogin: true, Latency: tgsim.NoLatency,
		Flood: tgsim.FloodConfig{Off: true}, World: tgsim.WorldConfig{Users: 2, Bots: bots}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	db, err := OpenBoltStore(filepath.Join(t.TempDir(), "fleet.db"))
	if err != nil {
		t.Fatal(err)
	}
	dcs := srv.DCAddrs()
	f, err := NewFleet(testCtx(t), FleetConfig{DCs: dcs, PublicKeys: []exchange.PublicKey{srv.PublicKey()},
		APIID: 1, APIHash: "test", Store: db, LoginsPerSecond: -1, ConnsPerSecond: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := f.Close(context.Background()); err != nil {
			t.Error(err)
		}
		if err := db.Close(); err != nil {
			t.Error(err)
		}
	})
	return srv, f, db
}

// selfID asks the server who c's account is.
func selfID(ctx context.Context, c *Client) (int64, error) {
	var users tg.UserClassVector
	if err := c.Invoke(ctx, getSelf, &users); err != nil {
		return 0, err
	}
	if len(users.Elems) != 1 {
		return 0, fmt.Errorf("%d users", len(users.Elems))
	}
	return users.Elems[0].(*tg.User).ID, nil
}

// Three accounts in one Fleet log in with their own tokens and call
// concurrently, each as itself; one account's key is revoked, another's
// scheduler actor crashes, and a third is removed: each time only that
// account is touched.
func TestFleetAccountsFailIndependently(t *testing.T) {
	srv, f, db := fleetSim(t, 3)
	ctx := testCtx(t)
	bots := srv.Bots()
	names := []string{"a", "b", "c"}
	clients := map[string]*Client{}
	for i, n := range names {
		c, err := f.Add(ctx, n, AccountConfig{BotToken: bots[i].Token, Config: Config{DialLimits: []DialLimit{}}})
		if err != nil {
			t.Fatal(err)
		}
		clients[n] = c
	}
	if _, err := f.Add(ctx, "a", AccountConfig{}); !errors.Is(err, ErrAccountExists) {
		t.Fatalf("second a: %v", err)
	}
	for _, bad := range []string{"", "a/b"} {
		if _, err := f.Add(ctx, bad, AccountConfig{}); err == nil {
			t.Fatalf("account named %q added", bad)
		}
	}
	if got := f.List(); !slices.Equal(got, names) {
		t.Fatalf("List = %v", got)
	}

	// Log in concurrently, each with its own token.
	var wg sync.WaitGroup
	errs := make([]error, len(names))
	for i, n := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			acc, err := f.Login(ctx, n)
			if err == nil && acc.UserID != bots[i].ID {
				err = fmt.Errorf("logged in as %d, want %d", acc.UserID, bots[i].ID)
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}

	// callAll makes each account ask who it is, 20 times concurrently, and
	// returns each account's first error.
	callAll := func() map[string]error {
		out := map[string]error{}
		var mu sync.Mutex
		var wg sync.WaitGroup
		for i, n := range names {
			for range 20 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					id, err := selfID(ctx, clients[n])
					if err == nil && id != bots[i].ID {
						err = fmt.Errorf("%s is %d, want %d", n, id, bots[i].ID)
					}
					mu.Lock()
					if out[n] == nil {
						out[n] = err
					}
					mu.Unlock()
				}()
			}
		}
		wg.Wait()
		return out
	}
	for n, err := range callAll() {
		if err != nil {
			t.Fatalf("%s: %v", n, err)
		}
	}
	for i := range names {
		if got := srv.AccountCounters(bots[i].ID); got.Calls["users.getUsers"] < 20 || got.Logins != 1 {
			t.Errorf("bot %d made no calls: %+v", i, got)
		}
	}
	// Each account's key and home DC are in its own namespace.
	for i, n := range names {
		dc, ok, err := db.Account(n).LoadHomeDC()
		if err != nil || !ok || dc != storeName(bots[i].DC, clients[n].cfg.server) {
			t.Errorf("%s: home DC %q %v %v, want DC %d", n, dc, ok, err, bots[i].DC)
		}
	}

	// b's authorization is revoked: b's calls fail with
	// AUTH_KEY_UNREGISTERED, a's and c's go on.
	if k := srv.RevokeAuthorizations(bots[1].ID); k == 0 {
		t.Fatal("no key revoked")
	}
	res := callAll()
	if !tgerr.Is(res["b"], "AUTH_KEY_UNREGISTERED") {
		t.Fatalf("b after revocation: %v", res["b"])
	}
	if res["a"] != nil || res["c"] != nil {
		t.Fatalf("a, c after b's revocation: %v, %v", res["a"], res["c"])
	}

	// c is banned, then a is deleted: each gets its own error, the other
	// accounts are untouched.
	srv.Deactivate(bots[2].ID, true)
	res = callAll()
	if !tgerr.Is(res["c"], "USER_DEACTIVATED_BAN") || res["a"] != nil || !tgerr.Is(res["b"], "AUTH_KEY_UNREGISTERED") {
		t.Fatalf("after c's ban: %v", res)
	}
	srv.Deactivate(bots[0].ID, false)
	if _, err := selfID(ctx, clients["a"]); !tgerr.Is(err, "USER_DEACTIVATED") {
		t.Fatalf("a after deactivation: %v", err)
	}
	if _, err := selfID(ctx, clients["c"]); !tgerr.Is(err, "USER_DEACTIVATED_BAN") {
		t.Fatalf("c after a's deactivation: %v", err)
	}
	srv.Reactivate(bots[0].ID)
	srv.Reactivate(bots[2].ID)

	// a's scheduler actor crashes: a restarts, c never notices.
	clients["a"].system.Root.Send(clients["a"].sched, &panicMsg{})
	if _, err := selfID(ctx, clients["c"]); err != nil {
		t.Fatalf("c after a's crash: %v", err)
	}
	waitFor(t, func() bool { _, err := selfID(ctx, clients["a"]); return err == nil })

	// b is removed: its actors stop, its Client is closed, the others
	// serve on.
	bPID := clients["b"].sched
	if err := f.Remove(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	if _, ok := f.system.ProcessRegistry.Get(bPID); ok {
		t.Fatal("b's scheduler actor still registered")
	}
	if _, err := selfID(ctx, clients["b"]); !errors.Is(err, ErrClosed) {
		t.Fatalf("b after Remove: %v", err)
	}
	if got := f.List(); !slices.Equal(got, []string{"a", "c"}) {
		t.Fatalf("List after Remove = %v", got)
	}
	if err := f.Remove(ctx, "b"); !errors.Is(err, ErrNoAccount) {
		t.Fatalf("second Remove: %v", err)
	}
	for _, n := range []string{"a", "c"} {
		if _, err := selfID(ctx, clients[n]); err != nil {
			t.Fatalf("%s after b's removal: %v", n, err)
		}
	}
	// b comes back under its name, with the key its namespace kept.
	b2, err := f.Add(ctx, "b", AccountConfig{BotToken: bots[1].Token, Config: Config{DialLimits: []DialLimit{}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Login(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	if id, err := selfID(ctx, b2); err != nil || id != bots[1].ID {
		t.Fatalf("b again: %d, %v", id, err)
	}
}

// waitFor polls cond until it holds, for up to 10 s.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 10 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A Fleet's Close closes every account's Client; Add after it fails.
func TestFleetCloseClosesAccounts(t *testing.T) {
	f, err := NewFleet(testCtx(t), FleetConfig{DCs: map[int]string{1: "127.0.0.1:1"}})
	if err != nil {
		t.Fatal(err)
	}
	c, err := f.Add(testCtx(t), "x", AccountConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := c.cfg.Store.(*MemoryStore); !ok {
		t.Fatalf("store %T, want a MemoryStore without FleetConfig.Store", c.cfg.Store)
	}
	if err := f.Close(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Go(testCtx(t), getSelf); !errors.Is(err, ErrClosed) {
		t.Fatalf("call after Fleet.Close: %v", err)
	}
	if _, err := f.Add(testCtx(t), "y", AccountConfig{}); !errors.Is(err, ErrFleetClosed) {
		t.Fatalf("Add after Close: %v", err)
	}
}

// An account's scheduler actor stopping other than by Close: a call sent
// to it after resolves from the dead letter (which the Fleet hands to
// that account), Remove returns, and the other account serves on.
func TestFleetAccountStoppedUnexpectedly(t *testing.T) {
	_, f, _ := fleetSim(t, 2)
	ctx := shortCtx(t, 20*time.Second)
	a, err := f.Add(ctx, "a", AccountConfig{Config: Config{DialLimits: []DialLimit{}}})
	if err != nil {
		t.Fatal(err)
	}
	b, err := f.Add(ctx, "b", AccountConfig{Config: Config{DialLimits: []DialLimit{}}})
	if err != nil {
		t.Fatal(err)
	}
	getConfig := &tg.HelpGetConfigRequest{}
	for _, c := range []*Client{a, b} {
		if _, err := c.Call(ctx, getConfig); err != nil {
			t.Fatal(err)
		}
	}
	testHookSubmit = func() {
		testHookSubmit = nil
		if err := a.system.Root.StopFuture(a.sched).Wait(); err != nil {
			t.Error(err)
		}
	}
	t.Cleanup(func() { testHookSubmit = nil })
	fut, err := a.Go(ctx, getConfig)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fut.Wait(ctx); !errors.Is(err, ErrSchedulerStopped) || !errors.Is(err, scheduler.ErrNotSent) {
		t.Fatalf("call sent to a's stopped actor: %v", err)
	}
	if _, err := b.Call(ctx, getConfig); err != nil {
		t.Fatalf("b after a stopped: %v", err)
	}
	if err := f.Remove(ctx, "a"); err != nil {
		t.Fatalf("remove a: %v", err)
	}
	if _, err := b.Call(ctx, getConfig); err != nil {
		t.Fatalf("b after a's removal: %v", err)
	}
}

// Many accounts (keys prepared, tgsim.Server.PrepareKey) send at once
// while one has its key revoked, one is banned and one's scheduler actor
// crashes mid-run: every call has one result, and every other account's
// calls all succeed.
func TestFleetManyAccountsOneFailingEach(t *testing.T) {
	// 5 calls each: 10 took 17–44 s under -race on a loaded 2-core box.
	const n, each = 1000, 5
	srv, f, db := fleetSim(t, n)
	// Longer than testCtx: what is tested is results, not speed, and a
	// loaded CI box takes this test well past half a minute.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	bots := srv.Bots()
	prepareKeys(t, srv, db, 0)
	clients := make([]*Client, n)
	for i, bot := range bots {
		var err error
		if clients[i], err = f.Add(ctx, botName(i), AccountConfig{BotToken: bot.Token, Config: Config{DialLimits: []DialLimit{}}}); err != nil {
			t.Fatal(err)
		}
	}
	began := time.Now()
	for _, r := range f.LoginAll(ctx) {
		if r.Err != nil || r.Skipped {
			t.Fatalf("%+v", r)
		}
	}
	if got := srv.Counters().KeyExchanges; got != 0 {
		t.Fatalf("%d key exchanges with prepared keys", got)
	}
	t.Logf("%d accounts logged in in %v", n, time.Since(began))

	const revoked, banned, crashed = 7, 420, 777
	var wg sync.WaitGroup
	results := make([][]error, n)
	start := make(chan struct{})
	for i, c := range clients {
		results[i] = make([]error, each)
		for j := range each {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				id, err := selfID(ctx, c)
				if err == nil && id != bots[i].ID {
					err = fmt.Errorf("account %d is %d", i, id)
				}
				results[i][j] = err
			}()
		}
	}
	srv.RevokeAuthorizations(bots[revoked].ID)
	srv.Deactivate(bots[banned].ID, true)
	close(start)
	began = time.Now()
	clients[crashed].system.Root.Send(clients[crashed].sched, &panicMsg{})
	wg.Wait()
	t.Logf("%d calls in %v", n*each, time.Since(began))
	for i := range clients {
		for j, err := range results[i] {
			switch i {
			case revoked:
				if !tgerr.Is(err, "AUTH_KEY_UNREGISTERED") {
					t.Errorf("revoked account, call %d: %v", j, err)
				}
			case banned:
				if !tgerr.Is(err, "USER_DEACTIVATED_BAN") {
					t.Errorf("banned account, call %d: %v", j, err)
				}
			case crashed:
				if err != nil && !errors.Is(err, ErrSchedulerRestarted) {
					t.Errorf("crashed account, call %d: %v", j, err)
				}
			default:
				if err != nil {
					t.Errorf("account %d, call %d: %v", i, j, err)
				}
			}
		}
	}
	if _, err := selfID(ctx, clients[crashed]); err != nil {
		t.Fatalf("crashed account after its restart: %v", err)
	}
}
