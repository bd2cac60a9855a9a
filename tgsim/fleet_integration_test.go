package tgsim_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gotd/td/bin"
	"github.com/gotd/td/tg"

	"github.com/tlsched/tlsched/mtproto"
	"github.com/tlsched/tlsched/tgsim"
)

// dialPrepared connects to DC dc under a key made by Server.PrepareKey: no
// key exchange, so a test can log in many accounts quickly.
func dialPrepared(t testing.TB, srv *tgsim.Server, dc int) *rawClient {
	t.Helper()
	key, salt, err := srv.PrepareKey(dc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := mtproto.Dial(ctx, mtproto.DialConfig{Addr: srv.Addr(dc), DC: dc, AuthKey: key, Salt: salt})
	if err != nil {
		t.Fatal(err)
	}
	return attachRaw(t, conn)
}

func importBot(token string) *tg.AuthImportBotAuthorizationRequest {
	return &tg.AuthImportBotAuthorizationRequest{APIID: 1, APIHash: "h", BotAuthToken: token}
}

// loginBot logs bot in on its home DC through a prepared key.
func loginBot(t testing.TB, srv *tgsim.Server, bot tgsim.Account) *rawClient {
	t.Helper()
	c := dialPrepared(t, srv, bot.DC)
	var auth tg.AuthAuthorizationBox
	c.ok(c.call(wrapInit(&tg.AuthImportBotAuthorizationRequest{APIID: 1, APIHash: "h", BotAuthToken: bot.Token})), &auth)
	if u := auth.Authorization.(*tg.AuthAuthorization).User.(*tg.User); u.ID != bot.ID || !u.Bot || !u.Self {
		t.Fatalf("logged in as %+v, want bot %d", u, bot.ID)
	}
	return c
}

func TestBotsOwnTokensAndHomeDCs(t *testing.T) {
	t.Parallel()
	srv := startSim(t, tgsim.Config{RequireLogin: true, Latency: tgsim.NoLatency, World: tgsim.WorldConfig{Users: 2, Bots: 5}})
	bots := srv.Bots()
	if len(bots) != 5 || bots[0] != srv.Bot() || bots[0].Token != srv.BotToken() {
		t.Fatalf("Bots() = %+v; Bot() = %+v", bots, srv.Bot())
	}
	// Home DCs in turn from BotDC (2 by default): 2, 3, 1, 2, 3.
	seen := map[string]bool{}
	for i, b := range bots {
		if want := []int{2, 3, 1, 2, 3}[i]; b.DC != want || !b.Bot || b.ID != bots[0].ID+int64(i) {
			t.Fatalf("bot %d = %+v, want home DC %d", i, b, want)
		}
		if !strings.HasPrefix(b.Token, itoa64(b.ID)+":") || seen[b.Token] {
			t.Fatalf("bot %d token %q: not its own", i, b.Token)
		}
		seen[b.Token] = true
	}

	// On DC 1, each bot's token sends it to its own home DC; a wrong token
	// fails.
	c1 := dialPrepared(t, srv, 1)
	c1.init()
	c1.fails(c1.call(importBot(bots[0].Token)), 303, "USER_MIGRATE_2")
	c1.fails(c1.call(importBot(bots[1].Token)), 303, "USER_MIGRATE_3")
	c1.fails(c1.call(importBot(bots[0].Token+"x")), 400, "ACCESS_TOKEN_INVALID")
	c1.fails(c1.call(importBot("1:wrong")), 400, "ACCESS_TOKEN_INVALID")

	// At home, each logs in as itself and sees itself as self.
	for _, b := range bots[:3] {
		c := loginBot(t, srv, b)
		var users tg.UserClassVector
		c.ok(c.call(&tg.UsersGetUsersRequest{ID: []tg.InputUserClass{&tg.InputUserSelf{}}}), &users)
		if me := users.Elems[0].(*tg.User); me.ID != b.ID || me.Username != b.Username {
			t.Fatalf("self = %+v, want %+v", me, b)
		}
	}
	if got := srv.Counters().Migrations; got != 2 {
		t.Fatalf("Migrations = %d, want 2", got)
	}
}

func itoa64(i int64) string {
	var b [20]byte
	n := len(b)
	for {
		n--
		b[n] = byte('0' + i%10)
		if i /= 10; i == 0 {
			return string(b[n:])
		}
	}
}

// Each bot has its own flood budgets: two bots each send Telegram's 30
// messages in a burst, and each one's 31st waits.
func TestBotsOwnFloodBudgets(t *testing.T) {
	t.Parallel()
	srv := startSim(t, tgsim.Config{RequireLogin: true, Latency: tgsim.NoLatency, World: tgsim.WorldConfig{Users: 2, Bots: 2}})
	bots := srv.Bots()
	for _, b := range bots {
		c := loginBot(t, srv, b)
		// 15 to each of two groups stays under 20/min per group: only the
		// account's 30/s is spent.
		var qs []bin.Encoder
		for i := range 30 {
			qs = append(qs, &tg.MessagesSendMessageRequest{Peer: &tg.InputPeerChat{ChatID: 5001 + int64(i%2)}, Message: "hi", RandomID: int64(i + 1)})
		}
		for _, id := range c.container(qs...) {
			c.ok(id, nil)
		}
		_, e := c.result(c.call(&tg.MessagesSendMessageRequest{Peer: &tg.InputPeerChat{ChatID: 5003}, Message: "one more", RandomID: 99}))
		if e == nil || e.ErrorCode != 420 || !strings.HasPrefix(e.ErrorMessage, "FLOOD_WAIT_") {
			t.Fatalf("bot %d: 31st send in a second got %+v, want FLOOD_WAIT", b.ID, e)
		}
	}
	cs := srv.Counters()
	if cs.FloodWaits["messages.sendMessage"] != 2 || cs.MessagesStored != 60 {
		t.Fatalf("FloodWaits %v, MessagesStored %d; want 2 and 60", cs.FloodWaits, cs.MessagesStored)
	}
	// Counted per account as well.
	for _, b := range bots {
		a := srv.AccountCounters(b.ID)
		if a.Logins != 1 || a.MessagesStored != 30 || a.Calls["messages.sendMessage"] != 31 ||
			a.FloodWaits["messages.sendMessage"] != 1 || a.FloodSeconds < 1 {
			t.Fatalf("bot %d: AccountCounters = %+v", b.ID, a)
		}
	}
	if a := srv.AccountCounters(srv.Users()[0].ID); a.Logins != 0 || len(a.Calls) != 0 || a.Calls == nil {
		t.Fatalf("an idle user's AccountCounters = %+v, want zero with empty maps", a)
	}
}

// Logins beyond FloodConfig.Logins are answered FLOOD_WAIT, wrong tokens
// included; TokenLogins limits each token on its own.
func TestLoginRate(t *testing.T) {
	t.Parallel()
	var events []tgsim.FloodEvent
	var mu sync.Mutex
	srv := startSim(t, tgsim.Config{RequireLogin: true, Latency: tgsim.NoLatency,
		World: tgsim.WorldConfig{Users: 2, Bots: 8},
		Flood: tgsim.FloodConfig{Logins: tgsim.Rate{N: 5, Per: time.Minute}, TokenLogins: tgsim.Rate{N: 1, Per: time.Hour},
			OnWait: func(e tgsim.FloodEvent) { mu.Lock(); events = append(events, e); mu.Unlock() }}})
	bots := srv.Bots()
	c := dialPrepared(t, srv, bots[0].DC)
	c.init()
	c.ok(c.call(importBot(bots[0].Token)), nil)
	c.fails(c.call(importBot(bots[0].Token)), 420, "FLOOD_WAIT_3600") // the token's own budget
	c.fails(c.call(importBot("1:wrong")), 400, "ACCESS_TOKEN_INVALID")
	c.fails(c.call(importBot(bots[1].Token)), 303, "USER_MIGRATE_3")
	c.ok(c.call(importBot(bots[3].Token)), nil) // also at home on DC 2
	// Five attempts spent the server's budget: the sixth waits 12 s (60 s / 5).
	c.fails(c.call(importBot(bots[6].Token)), 420, "FLOOD_WAIT_12")
	cs := srv.Counters()
	if cs.FloodWaits["auth.importBotAuthorization"] != 2 || cs.Calls["auth.importBotAuthorization"] != 6 {
		t.Fatalf("FloodWaits %v, Calls %v", cs.FloodWaits, cs.Calls)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(events) != 2 || events[0].Budget != "token_logins" || events[0].Account != bots[0].ID ||
		events[1].Budget != "logins" || events[1].Account != 0 {
		t.Fatalf("flood events %+v", events)
	}
}

// Config.AddrConnRate: connections from one address beyond the budget get
// transport error -429 on their first frame and are closed, whatever their
// key; the earlier ones are untouched.
func TestAddrConnRate(t *testing.T) {
	t.Parallel()
	srv := startSim(t, tgsim.Config{Latency: tgsim.NoLatency, AddrConnRate: tgsim.Rate{N: 3, Per: time.Hour}, World: tgsim.WorldConfig{Users: 2}})
	var cs []*rawClient
	for range 3 {
		c := dialPrepared(t, srv, 2)
		c.init()
		cs = append(cs, c)
	}
	extra := dialPrepared(t, srv, 1) // another DC, another key: same address
	extra.call(wrapInit(&tg.HelpGetConfigRequest{}))
	m := extra.next("transport error", func(m srvMsg) bool { return m.transport != 0 })
	if m.transport != 429 && m.transport != -429 {
		t.Fatalf("transport code %d, want 429", m.transport)
	}
	for range extra.msgs { // the server closes the connection
	}
	for _, c := range cs {
		c.roundTrip()
	}
	if got := srv.Counters().Errors["transport_flood_addr"]; got != 1 {
		t.Fatalf("transport_flood_addr = %d, want 1", got)
	}
}

// A fleet of 1,000 bots logs in, each with its own token on its own home
// DC, under a login budget that lets it through without a wait; the next
// attempt past the budget waits. Keys are prepared (Server.PrepareKey):
// the login, not the key exchange, is under test.
func TestThousandBotsLogIn(t *testing.T) {
	t.Parallel()
	const n = 1000
	t0 := time.Now() // the flood model's clock stands still: no refill
	srv := startSim(t, tgsim.Config{RequireLogin: true, Latency: tgsim.NoLatency,
		World: tgsim.WorldConfig{Users: 2, Bots: n},
		Flood: tgsim.FloodConfig{Logins: tgsim.Rate{N: n, Per: time.Minute}, Now: func() time.Time { return t0 }}})
	bots := srv.Bots()
	if len(bots) != n {
		t.Fatalf("%d bots, want %d", len(bots), n)
	}
	perDC := map[int]int{}
	for _, b := range bots {
		key, salt, err := srv.PrepareKey(b.DC)
		if err != nil {
			t.Fatal(err)
		}
		conn, err := mtproto.Dial(context.Background(), mtproto.DialConfig{Addr: srv.Addr(b.DC), DC: b.DC, AuthKey: key, Salt: salt})
		if err != nil {
			t.Fatal(err)
		}
		c := attachRawN(t, conn, 16)
		var auth tg.AuthAuthorizationBox
		c.ok(c.call(wrapInit(importBot(b.Token))), &auth)
		if u := auth.Authorization.(*tg.AuthAuthorization).User.(*tg.User); u.ID != b.ID {
			t.Fatalf("bot %d logged in as %d", b.ID, u.ID)
		}
		c.close()
		perDC[b.DC]++
	}
	if perDC[1] != 333 || perDC[2] != 334 || perDC[3] != 333 {
		t.Fatalf("bots per home DC %v, want 333/334/333", perDC)
	}
	cs := srv.Counters()
	if cs.Calls["auth.importBotAuthorization"] != n || len(cs.FloodWaits) != 0 || cs.Migrations != 0 || cs.PreparedKeys != n || cs.KeyExchanges != 0 {
		t.Fatalf("Counters: calls %v, flood waits %v, migrations %d, prepared keys %d, exchanges %d",
			cs.Calls, cs.FloodWaits, cs.Migrations, cs.PreparedKeys, cs.KeyExchanges)
	}
	for _, i := range []int{0, 1, 499, n - 1} {
		if a := srv.AccountCounters(bots[i].ID); a.Logins != 1 {
			t.Fatalf("bot %d: Logins = %d, want 1", i, a.Logins)
		}
	}
	// The budget is spent: one more login waits (a minute's budget of
	// 1,000: 60 ms a login, rounded up to a second).
	c := dialPrepared(t, srv, bots[0].DC)
	c.fails(c.call(wrapInit(importBot(bots[0].Token))), 420, "FLOOD_WAIT_1")
}

// By default 30 logins pass at once and the 31st waits a second, wrong
// tokens included (FloodConfig.Logins).
func TestLoginRateDefault(t *testing.T) {
	t.Parallel()
	t0 := time.Now() // the flood model's clock stands still: no refill
	srv := startSim(t, tgsim.Config{RequireLogin: true, Latency: tgsim.NoLatency, World: tgsim.WorldConfig{Users: 2},
		Flood: tgsim.FloodConfig{Now: func() time.Time { return t0 }}})
	c := dialPrepared(t, srv, 1)
	c.init()
	var qs []bin.Encoder
	for range 31 {
		qs = append(qs, importBot("1:wrong"))
	}
	var invalid, waits int
	for _, id := range c.container(qs...) {
		switch _, e := c.result(id); {
		case e != nil && e.ErrorMessage == "ACCESS_TOKEN_INVALID":
			invalid++
		case e != nil && e.ErrorMessage == "FLOOD_WAIT_1":
			waits++
		default:
			t.Fatalf("login %d: %+v", id, e)
		}
	}
	if invalid != 30 || waits != 1 {
		t.Fatalf("%d ACCESS_TOKEN_INVALID and %d FLOOD_WAIT_1, want 30 and 1", invalid, waits)
	}
}

// A key PrepareKeyAs made acts as its account without a login, under
// RequireLogin too; an account the world does not have is refused.
func TestPrepareKeyAs(t *testing.T) {
	t.Parallel()
	srv := startSim(t, tgsim.Config{RequireLogin: true, DCs: []int{2}, Latency: tgsim.NoLatency, World: tgsim.WorldConfig{Users: 2, Bots: 3}})
	if _, _, err := srv.PrepareKeyAs(2, 1); err == nil {
		t.Fatal("PrepareKeyAs of an unknown account: no error")
	}
	b := srv.Bots()[2]
	key, salt, err := srv.PrepareKeyAs(2, b.ID)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := mtproto.Dial(ctx, mtproto.DialConfig{Addr: srv.Addr(2), DC: 2, AuthKey: key, Salt: salt})
	if err != nil {
		t.Fatal(err)
	}
	c := attachRaw(t, conn)
	c.init()
	var users tg.UserClassVector
	c.ok(c.call(&tg.UsersGetUsersRequest{ID: []tg.InputUserClass{&tg.InputUserSelf{}}}), &users)
	if me := users.Elems[0].(*tg.User); me.ID != b.ID || !me.Self {
		t.Fatalf("self = %+v, want bot %d", me, b.ID)
	}
	if got := srv.AccountCounters(b.ID).Logins; got != 0 {
		t.Fatalf("Logins = %d, want 0 (no login was made)", got)
	}
}
