package actors

import (
	"context"
	"errors"
	"io"
	"net"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/gotd/td/exchange"
	"github.com/gotd/td/tg"
	"github.com/gotd/td/tgerr"

	"github.com/tlsched/tlsched/tgsim"
)

// loginSim runs tgsim requiring a login, the bot living on DC 3, and
// returns it with a Config for it that keeps its session in a file.
func loginSim(t *testing.T) (*tgsim.Server, Config) {
	t.Helper()
	srv, err := tgsim.Start(tgsim.Config{Key: serverKey(), RequireLogin: true, Flood: tgsim.FloodConfig{Off: true},
		World: tgsim.WorldConfig{Users: 4, BotDC: 3}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	dcs := srv.DCAddrs()
	return srv, Config{
		DCs: dcs, PublicKeys: []exchange.PublicKey{srv.PublicKey()},
		APIID: 1, APIHash: "test",
		SessionFile: filepath.Join(t.TempDir(), "acct.session"),
		DialLimits:  []DialLimit{},
	}
}

var getSelf = &tg.UsersGetUsersRequest{ID: []tg.InputUserClass{&tg.InputUserSelf{}}}

// A bot logs in through the library; the session file (no Store given,
// custom DCs) keeps its key and home DC: the next client, reaching the
// home DC at another address (the server's keys are the same), is logged
// in without a new key exchange and sends its first call home.
func TestLoginBotSessionKeepsKey(t *testing.T) {
	srv, cfg := loginSim(t)
	ctx := shortCtx(t, 30*time.Second)
	c, err := Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if st, ok := c.cfg.Store.(*BoltStore); !ok || st.Path() != cfg.SessionFile {
		t.Fatalf("store %T, want the session file's bbolt store", c.cfg.Store)
	}
	if _, err := c.Login(ctx, Credentials{BotToken: "1:wrong"}); !tgerr.Is(err, "ACCESS_TOKEN_INVALID") {
		t.Fatalf("wrong token: %v", err)
	}
	acc, err := c.Login(ctx, Credentials{BotToken: srv.BotToken()})
	if err != nil {
		t.Fatal(err)
	}
	if !acc.Bot || acc.HomeDC != 3 || acc.UserID != srv.Bot().ID {
		t.Fatalf("account %+v", acc)
	}
	if err := c.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if got, ok, err := LoadAccount(cfg.SessionFile); err != nil || !ok || got != *acc {
		t.Fatalf("account file: %+v %v %v", got, ok, err)
	}
	before := srv.Counters()

	cfg.DCs = map[int]string{1: cfg.DCs[1], 2: cfg.DCs[2], 3: forward(t, cfg.DCs[3])}
	c2 := startClient(t, cfg)
	var users tg.UserClassVector
	if err := c2.Invoke(ctx, getSelf, &users); err != nil {
		t.Fatalf("after a restart at another address: %v", err)
	}
	after := srv.Counters()
	if after.KeyExchanges != before.KeyExchanges {
		t.Fatalf("%d new key exchanges, want 0: the session's key was not kept", after.KeyExchanges-before.KeyExchanges)
	}
	if after.Migrations != before.Migrations {
		t.Fatal("the first call did not go to the stored home DC")
	}
}

// A user logs in by phone with the code (a callback), through PHONE_MIGRATE.
func TestLoginUserByPhone(t *testing.T) {
	srv, cfg := loginSim(t)
	cfg.SessionFile = ""
	cfg.Store = NewMemoryStore()
	var user tgsim.Account
	for _, u := range srv.Users() {
		if u.DC == 1 {
			user = u
		}
	}
	c := startClient(t, cfg)
	ctx := shortCtx(t, 30*time.Second)
	if _, err := c.Login(ctx, Credentials{Phone: user.Phone}); err == nil {
		t.Fatal("a phone login without a Code callback started")
	}
	asked := 0
	acc, err := c.Login(ctx, Credentials{Phone: user.Phone, Code: func(_ context.Context, sent *tg.AuthSentCode) (string, error) {
		asked++
		if sent.PhoneCodeHash == "" {
			return "", errors.New("no code hash")
		}
		return srv.LoginCode(user.Phone), nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	if asked != 1 || acc.Bot || acc.UserID != user.ID || acc.HomeDC != 1 {
		t.Fatalf("asked %d, account %+v, want user %d on DC 1", asked, acc, user.ID)
	}
	if dc, ok := loadHomeDC(c.cfg); !ok || dc != 1 {
		t.Fatalf("stored home dc %d %v", dc, ok)
	}
	if err := c.Invoke(ctx, getSelf, &tg.UserClassVector{}); err != nil {
		t.Fatal(err)
	}
	// A wrong code is the server's error.
	c2 := startClient(t, Config{DCs: cfg.DCs, PublicKeys: cfg.PublicKeys, APIID: 1, APIHash: "test", DialLimits: []DialLimit{}})
	_, err = c2.Login(ctx, Credentials{Phone: user.Phone, Code: func(context.Context, *tg.AuthSentCode) (string, error) {
		if srv.LoginCode(user.Phone) == "00000" {
			return "11111", nil
		}
		return "00000", nil
	}})
	if !tgerr.Is(err, "PHONE_CODE_INVALID") {
		t.Fatalf("wrong code: %v", err)
	}
}

// forward listens on loopback and copies every connection to target both
// ways: the same server at another address.
func forward(t *testing.T, target string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			out, err := net.Dial("tcp", target)
			if err != nil {
				in.Close()
				continue
			}
			mu.Lock()
			conns = append(conns, in, out)
			mu.Unlock()
			wg.Add(2)
			go func() { defer wg.Done(); _, _ = io.Copy(out, in); out.Close() }()
			go func() { defer wg.Done(); _, _ = io.Copy(in, out); in.Close() }()
		}
	}()
	return ln.Addr().String()
}

// A user with a two-step verification password: without a Password
// callback the login fails with ErrPasswordNeeded; a wrong password (the
// server's PASSWORD_HASH_INVALID) with ErrPasswordInvalid; the right one logs in (SRP by gotd's
// client against tgsim's server side).
func TestLoginUserWithPassword(t *testing.T) {
	srv, cfg := loginSim(t)
	cfg.SessionFile = ""
	var user tgsim.Account
	for _, u := range srv.Users() {
		if u.DC == 2 {
			user = u
		}
	}
	if err := srv.SetPassword(user.ID, "correct horse"); err != nil {
		t.Fatal(err)
	}
	ctx := shortCtx(t, 60*time.Second)
	code := func(context.Context, *tg.AuthSentCode) (string, error) { return srv.LoginCode(user.Phone), nil }
	for _, tc := range []struct {
		password func(context.Context) (string, error)
		check    func(error) bool
	}{
		{nil, func(err error) bool { return errors.Is(err, ErrPasswordNeeded) }},
		{func(context.Context) (string, error) { return "wrong", nil }, func(err error) bool { return errors.Is(err, ErrPasswordInvalid) }},
		{func(context.Context) (string, error) { return "correct horse", nil }, func(err error) bool { return err == nil }},
	} {
		cfg.Store = NewMemoryStore()
		c := startClient(t, cfg)
		acc, err := c.Login(ctx, Credentials{Phone: user.Phone, Code: code, Password: tc.password})
		if !tc.check(err) {
			t.Fatalf("password given: %v; login: %v", tc.password != nil, err)
		}
		if err == nil {
			if acc.UserID != user.ID || acc.HomeDC != 2 {
				t.Fatalf("account %+v", acc)
			}
			if err := c.Invoke(ctx, getSelf, &tg.UserClassVector{}); err != nil {
				t.Fatal(err)
			}
		}
	}
}
