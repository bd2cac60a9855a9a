package actors

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gotd/td/exchange"
	"github.com/gotd/td/tg"
	"github.com/gotd/td/tgerr"

	"github.com/tlsched/tlsched/tgsim"
	"github.com/tlsched/tlsched/tl"
)

const importBot = "auth.importBotAuthorization"

// botSim starts a tgsim world of bots (RequireLogin) with cfg's flood
// model and address limits, and opens a bbolt file for fleets over it.
func botSim(t *testing.T, cfg tgsim.Config) (*tgsim.Server, *BoltDB) {
	t.Helper()
	cfg.Key, cfg.RequireLogin, cfg.Latency = serverKey(), true, tgsim.NoLatency
	srv, err := tgsim.Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	db, err := OpenBoltStore(filepath.Join(t.TempDir(), "fleet.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Error(err)
		}
	})
	return srv, db
}

// loginFleet starts a Fleet over srv with db, cfg's pacing, and an account
// "botNNNN" per bot; it is closed at the test's end.
func loginFleet(t *testing.T, srv *tgsim.Server, db *BoltDB, cfg FleetConfig) *Fleet {
	t.Helper()
	ctx := context.Background()
	cfg.DCs, cfg.PublicKeys, cfg.APIID, cfg.APIHash, cfg.Store = srv.DCAddrs(), []exchange.PublicKey{srv.PublicKey()}, 1, "test", db
	f, err := NewFleet(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := f.Close(context.Background()); err != nil {
			t.Error(err)
		}
	})
	for i, bot := range srv.Bots() {
		if _, err := f.Add(ctx, botName(i), AccountConfig{BotToken: bot.Token, Config: Config{DialLimits: []DialLimit{}}}); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

func botName(i int) string { return fmt.Sprintf("bot%04d", i) }

// prepareKeys stores a prepared (not logged in) key and the home DC of
// the bots from..len-1 in their namespaces of db, concurrently, so that
// the file's group commit takes many at once.
func prepareKeys(t *testing.T, srv *tgsim.Server, db *BoltDB, from int) {
	t.Helper()
	bots := srv.Bots()
	server := serverID([]exchange.PublicKey{srv.PublicKey()})
	errs := make([]error, len(bots))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64)
	for i := from; i < len(bots); i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			key, salt, err := srv.PrepareKey(bots[i].DC)
			if err == nil {
				st := db.Account(botName(i))
				if err = st.Save(storeName(bots[i].DC, server), key, salt); err == nil {
					err = st.SaveHomeDC(storeName(bots[i].DC, server))
				}
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
}

var fleetLogins = flag.Int("fleet.logins", 250, "bots TestFleetLoginAllPaced logs in")

// Many bots log in against tgsim's login budget (30/s server-wide, its
// default) and a limit on new connections per address (30/s), both
// Telegram-like: LoginAll, pacing both at 25/s, is never answered
// FLOOD_WAIT nor -429. A few bots have no key (and no home DC) yet: their
// logins exchange keys and follow USER_MIGRATE. A second Fleet on the
// same file then brings every account up with no key exchange and no
// login; a sample of them calls as itself. CI logs in 250 bots (10 s at
// 25/s, ten times the server's one-second window);
//
//	go test -race -run TestFleetLoginAllPaced ./actors -fleet.logins 1000
//
// runs the fleet size the issue named.
func TestFleetLoginAllPaced(t *testing.T) {
	n := *fleetLogins
	const fresh, sample = 5, 20
	srv, db := botSim(t, tgsim.Config{
		Flood:        tgsim.FloodConfig{Logins: tgsim.Rate{N: 30, Per: time.Second}},
		AddrConnRate: tgsim.Rate{N: 30, Per: time.Second},
		World:        tgsim.WorldConfig{Users: 2, Bots: n},
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	prepareKeys(t, srv, db, fresh)
	pacing := FleetConfig{LoginsPerSecond: 25, ConnsPerSecond: 25}
	f := loginFleet(t, srv, db, pacing)

	start := time.Now()
	results := f.LoginAll(ctx)
	took := time.Since(start)
	bots := srv.Bots()
	if len(results) != n {
		t.Fatalf("%d results for %d accounts", len(results), n)
	}
	for i, r := range results {
		if r.Name != botName(i) || r.Err != nil || r.Skipped || r.FloodWaits != 0 || r.Account == nil || r.Account.UserID != bots[i].ID {
			t.Errorf("%s: %+v", botName(i), r)
		}
	}
	cs := srv.Counters()
	t.Logf("%d logins in %v (%.1f/s); %d connections, %d key exchanges, %d migrations, %d importBotAuthorization calls",
		n, took, float64(n)/took.Seconds(), cs.Connections, cs.KeyExchanges, cs.Migrations, cs.Calls[importBot])
	if len(cs.FloodWaits) != 0 || cs.Errors["transport_flood_addr"] != 0 {
		t.Fatalf("flood waits %v, -429 %d", cs.FloodWaits, cs.Errors["transport_flood_addr"])
	}
	if cs.KeyExchanges == 0 || cs.KeyExchanges > int64(2*fresh) {
		t.Fatalf("%d key exchanges for %d accounts without a key", cs.KeyExchanges, fresh)
	}
	if err := f.Close(ctx); err != nil {
		t.Fatal(err)
	}

	// The next start: every account's key is logged in already.
	f2 := loginFleet(t, srv, db, pacing)
	for i, r := range f2.LoginAll(ctx) {
		if r.Err != nil || !r.Skipped || r.Account == nil || r.Account.UserID != bots[i].ID {
			t.Errorf("second start, %s: %+v", botName(i), r)
		}
	}
	for i := range sample {
		i := i * n / sample
		c, err := f2.Client(botName(i))
		if err != nil {
			t.Fatal(err)
		}
		if id, err := selfID(ctx, c); err != nil || id != bots[i].ID {
			t.Errorf("second start, %s: %d, %v", botName(i), id, err)
		}
	}
	cs2 := srv.Counters()
	if d := cs2.KeyExchanges - cs.KeyExchanges; d != 0 {
		t.Errorf("second start: %d key exchanges", d)
	}
	if d := cs2.Calls[importBot] - cs.Calls[importBot]; d != 0 {
		t.Errorf("second start: %d logins", d)
	}
	if len(cs2.FloodWaits) != 0 || cs2.Errors["transport_flood_addr"] != 0 {
		t.Errorf("second start: flood waits %v, -429 %d", cs2.FloodWaits, cs2.Errors["transport_flood_addr"])
	}
}

// Unpaced logins meet a tight login budget (10/s): every FLOOD_WAIT is
// honoured (the Fleet's logins all pause, so no login is made inside an
// announced wait: tgsim's IgnoredWaits stays 0) and every account logs in
// in the end. A wrong token and a name not in the Fleet fail on their
// own; the others are unaffected.
func TestFleetLoginAllHonoursFloodWait(t *testing.T) {
	const n = 40
	srv, db := botSim(t, tgsim.Config{
		Flood: tgsim.FloodConfig{Logins: tgsim.Rate{N: 10, Per: time.Second}},
		World: tgsim.WorldConfig{Users: 2, Bots: n},
	})
	ctx := testCtx(t)
	prepareKeys(t, srv, db, 0)
	f := loginFleet(t, srv, db, FleetConfig{LoginsPerSecond: -1, ConnsPerSecond: -1})
	if _, err := f.Add(ctx, "wrong", AccountConfig{BotToken: "1:nope"}); err != nil {
		t.Fatal(err)
	}
	names := append(f.List(), "missing")
	results := f.LoginAll(ctx, names...)
	if len(results) != len(names) {
		t.Fatalf("%d results for %d names", len(results), len(names))
	}
	bots := srv.Bots()
	waits := 0
	for i, r := range results {
		waits += r.FloodWaits
		switch r.Name {
		case "wrong":
			if !tgerr.Is(r.Err, "ACCESS_TOKEN_INVALID") {
				t.Errorf("wrong token: %+v", r)
			}
		case "missing":
			if !errors.Is(r.Err, ErrNoAccount) {
				t.Errorf("missing account: %+v", r)
			}
		default:
			if r.Name != botName(i) || r.Err != nil || r.Account == nil || r.Account.UserID != bots[i].ID {
				t.Errorf("%s: %+v", botName(i), r)
			}
		}
	}
	cs := srv.Counters()
	t.Logf("%d FLOOD_WAITs honoured, %d s announced", waits, cs.FloodSeconds)
	if waits == 0 || int64(waits) != cs.FloodWaits[importBot] {
		t.Errorf("%d FLOOD_WAITs honoured, server announced %d", waits, cs.FloodWaits[importBot])
	}
	if cs.IgnoredWaits != 0 {
		t.Errorf("%d logins inside an announced wait", cs.IgnoredWaits)
	}
}

// A FLOOD_WAIT longer than LoginMaxWait (a token logged in too often:
// tgsim's TokenLogins) fails that account only, at once, and pauses no
// other login; accounts logged in already are skipped; a cancelled
// context fails the logins it stops.
func TestFleetLoginAllLongWaitFailsOneAccount(t *testing.T) {
	const n = 4
	srv, db := botSim(t, tgsim.Config{
		Flood: tgsim.FloodConfig{TokenLogins: tgsim.Rate{N: 1, Per: time.Hour}},
		World: tgsim.WorldConfig{Users: 2, Bots: n},
	})
	ctx := testCtx(t)
	prepareKeys(t, srv, db, 0)
	f := loginFleet(t, srv, db, FleetConfig{LoginMaxWait: 5 * time.Second})
	for _, r := range f.LoginAll(ctx, botName(0), botName(1), botName(2)) {
		if r.Err != nil || r.Skipped {
			t.Fatalf("%+v", r)
		}
	}
	// bot0's login record is gone: LoginAll logs it in again, and its
	// token's budget answers FLOOD_WAIT_3600.
	if err := db.DeleteAccount(botName(0)); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	results := f.LoginAll(ctx)
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("LoginAll took %v", took)
	}
	for i, r := range results {
		switch fw, _ := tl.AsFloodWait(r.Err); {
		case i == 0:
			if fw == nil || fw.Duration < time.Hour-time.Minute || r.FloodWaits != 0 || r.Account != nil {
				t.Errorf("%s: %+v", r.Name, r)
			}
		case r.Err != nil || r.Skipped != (i < 3) || r.Account == nil:
			t.Errorf("%s: %+v", r.Name, r)
		}
	}
	if got := srv.Counters().FloodWaits[importBot]; got != 1 {
		t.Errorf("%d FLOOD_WAITs, want bot0's one", got)
	}

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := db.DeleteAccount(botName(3)); err != nil {
		t.Fatal(err)
	}
	if r := f.LoginAll(cctx, botName(3))[0]; !errors.Is(r.Err, context.Canceled) {
		t.Errorf("cancelled: %+v", r)
	}
}

// Accounts on the default dialer open their first connections at
// FleetConfig.ConnsPerSecond all together, below tgsim's limit of new
// connections per address: 40 accounts calling at once get no -429 and
// one connection each. (Unpaced, the same calls met 60 -429s and made 100
// connections: checked.)
func TestFleetPacesNewConnections(t *testing.T) {
	const n, perSecond = 40, 8
	srv, db := botSim(t, tgsim.Config{
		Flood:        tgsim.FloodConfig{Off: true},
		AddrConnRate: tgsim.Rate{N: 10, Per: time.Second},
		World:        tgsim.WorldConfig{Users: 2, Bots: n},
	})
	ctx := testCtx(t)
	prepareKeys(t, srv, db, 0)
	f := loginFleet(t, srv, db, FleetConfig{ConnsPerSecond: perSecond})
	start := time.Now()
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		c, err := f.Client(botName(i))
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = c.Call(ctx, &tg.HelpGetConfigRequest{})
		}()
	}
	wg.Wait()
	took := time.Since(start)
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	cs := srv.Counters()
	t.Logf("%d connections in %v", cs.Connections, took)
	if cs.Errors["transport_flood_addr"] != 0 || cs.Connections != n {
		t.Errorf("%d -429, %d connections for %d accounts", cs.Errors["transport_flood_addr"], cs.Connections, n)
	}
	if least := time.Duration(n-1) * time.Second / perSecond; took < least {
		t.Errorf("%d connections in %v, paced at %d/s they take %v", n, took, perSecond, least)
	}
}

// An account name given to another bot finds the first bot's key logged
// in: LoginAll refuses it, naming both, instead of taking it for the new
// bot's.
func TestFleetLoginAllRefusesAnotherBotsKey(t *testing.T) {
	srv, db := botSim(t, tgsim.Config{World: tgsim.WorldConfig{Users: 1, Bots: 2}})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	f, err := NewFleet(ctx, FleetConfig{DCs: srv.DCAddrs(), PublicKeys: []exchange.PublicKey{srv.PublicKey()}, APIID: 1, APIHash: "test", Store: db})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close(context.Background())
	bots := srv.Bots()
	if _, err := f.Add(ctx, "x", AccountConfig{BotToken: bots[0].Token}); err != nil {
		t.Fatal(err)
	}
	if r := f.LoginAll(ctx, "x")[0]; r.Err != nil || r.Account.UserID != bots[0].ID {
		t.Fatalf("first login: %+v", r)
	}
	if err := f.Remove(ctx, "x"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Add(ctx, "x", AccountConfig{BotToken: bots[1].Token}); err != nil {
		t.Fatal(err)
	}
	r := f.LoginAll(ctx, "x")[0]
	if r.Err == nil || r.Skipped || !strings.Contains(r.Err.Error(), fmt.Sprintf("logged in as user %d, and its bot token is bot %d's", bots[0].ID, bots[1].ID)) {
		t.Fatalf("another bot's token under the name: %+v", r)
	}
	// Forgotten, the name logs in as the new bot.
	if err := f.Remove(ctx, "x"); err != nil {
		t.Fatal(err)
	}
	if err := db.DeleteAccount("x"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Add(ctx, "x", AccountConfig{BotToken: bots[1].Token}); err != nil {
		t.Fatal(err)
	}
	if r := f.LoginAll(ctx, "x")[0]; r.Err != nil || r.Skipped || r.Account.UserID != bots[1].ID {
		t.Fatalf("after DeleteAccount: %+v", r)
	}
}

// A login the server acknowledged and then forgot while it ran (it lost
// its session state) gets no answer: the client learns of the new session
// (new_session_created), and a call the old session acknowledged may have
// run, so it fails (scheduler.ErrMayHaveRun) rather than going again
// itself. LoginAll logs the account in again after a pause, and the
// account is logged in, with the lost login counted.
func TestFleetLoginAllRetriesALostLogin(t *testing.T) {
	srv, db := botSim(t, tgsim.Config{
		World:         tgsim.WorldConfig{Users: 1, Bots: 1},
		MethodLatency: map[string]tgsim.Latency{importBot: {Base: 2 * time.Second}},
	})
	prepareKeys(t, srv, db, 0) // no key exchange: the login is the first call
	bot := srv.Bots()[0]
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	f, err := NewFleet(ctx, FleetConfig{DCs: srv.DCAddrs(), PublicKeys: []exchange.PublicKey{srv.PublicKey()}, APIID: 1, APIHash: "test", Store: db})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := f.Close(context.Background()); err != nil {
			t.Error(err)
		}
	})
	// A ping soon after the server forgets (a call awaited, the link quiet)
	// brings new_session_created.
	acfg := AccountConfig{BotToken: bot.Token}
	acfg.Config.Session.BusyPingAfter = 200 * time.Millisecond
	if _, err := f.Add(ctx, botName(0), acfg); err != nil {
		t.Fatal(err)
	}

	results := make(chan []LoginResult, 1)
	go func() { results <- f.LoginAll(ctx) }()
	// Once the server has acknowledged the login (it answers after 2 s),
	// it forgets its sessions: the acknowledgement is on the connection
	// before new_session_created, so the client knows the call arrived.
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for srv.Counters().AcksOut == 0 {
		select {
		case <-ctx.Done():
			t.Fatal("the server never acknowledged the login")
		case <-tick.C:
		}
	}
	srv.ForgetSessions()

	r := (<-results)[0]
	c := srv.Counters()
	t.Logf("%+v; tgsim: importBotAuthorization calls %d, answers dropped %d, new sessions %d", r, c.Calls[importBot], c.DroppedResults, c.NewSessions)
	if r.Err != nil || r.Account == nil || r.Account.UserID != bot.ID || r.LostLogins != 1 {
		t.Fatalf("%+v: want logged in as %d after one lost login", r, bot.ID)
	}
	if c.Calls[importBot] != 2 || c.DroppedResults != 1 {
		t.Fatalf("tgsim counted %d logins and %d answers dropped: want 2 and 1", c.Calls[importBot], c.DroppedResults)
	}
	// The login is kept: the next LoginAll makes no call.
	if r := f.LoginAll(ctx)[0]; r.Err != nil || !r.Skipped {
		t.Fatalf("again: %+v", r)
	}
}
