package actors

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gotd/td/exchange"
	"github.com/gotd/td/tg"

	"github.com/tlsched/tlsched/tgsim"
)

// A client pointed at a test server with neither a Store nor a
// SessionFile keeps its keys in memory: nothing appears in the user's
// configuration directory (issue 21: a key per ephemeral port used to).
func TestCustomServerWritesNoFile(t *testing.T) {
	home := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", home)
	t.Setenv("HOME", home)
	srv, err := tgsim.Start(tgsim.Config{Key: serverKey(), Flood: tgsim.FloodConfig{Off: true}})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	dcs := srv.DCAddrs()
	c := startClient(t, Config{DCs: dcs, PublicKeys: []exchange.PublicKey{srv.PublicKey()}, DialLimits: []DialLimit{}})
	if _, ok := c.cfg.Store.(*MemoryStore); !ok {
		t.Fatalf("store %T, want a MemoryStore", c.cfg.Store)
	}
	ctx := shortCtx(t, 20*time.Second)
	if err := c.Invoke(ctx, getSelf, &tg.UserClassVector{}); err != nil {
		t.Fatal(err)
	}
	_ = filepath.WalkDir(home, func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			t.Errorf("%s written", path)
		}
		return nil
	})
}

// A session file written by a release before issue 18 (FileStore's JSON,
// as tlworker login wrote it) keeps working: the next Start migrates it to
// the bbolt store, keeping the JSON as FILE.bak, and the client is logged
// in on its home DC with the saved key, no new key exchange.
func TestJSONSessionFileMigratedOnStart(t *testing.T) {
	srv, cfg := loginSim(t)
	ctx := shortCtx(t, 30*time.Second)
	old := cfg
	old.Store = &FileStore{Path: cfg.SessionFile} // the store of releases before
	c := startClient(t, old)
	acc, err := c.Login(ctx, Credentials{BotToken: srv.BotToken()})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if isJSON, _ := isJSONFile(cfg.SessionFile); !isJSON {
		t.Fatal("the old client did not write JSON")
	}
	before := srv.Counters()

	c2 := startClient(t, cfg)
	if st, ok := c2.cfg.Store.(*BoltStore); !ok || st.Path() != cfg.SessionFile {
		t.Fatalf("store %T, want the migrated session file", c2.cfg.Store)
	}
	var users tg.UserClassVector
	if err := c2.Invoke(ctx, getSelf, &users); err != nil {
		t.Fatalf("after the migration: %v", err)
	}
	if u, ok := users.Elems[0].(*tg.User); !ok || u.ID != acc.UserID {
		t.Fatalf("logged in as %v, want %d", users.Elems[0], acc.UserID)
	}
	after := srv.Counters()
	if after.KeyExchanges != before.KeyExchanges {
		t.Fatalf("%d new key exchanges, want 0: the migrated key was not used", after.KeyExchanges-before.KeyExchanges)
	}
	if after.Migrations != before.Migrations {
		t.Fatal("the first call did not go to the stored home DC")
	}
	if isJSON, _ := isJSONFile(cfg.SessionFile + ".bak"); !isJSON {
		t.Fatal("the JSON session is not kept as .bak")
	}
}

// Two clients of one process on one session file share it (one bbolt
// handle, no lock wait): the second reuses the first's key while the first
// is still running, and the file stays usable until the last one closes.
func TestTwoClientsShareSessionFile(t *testing.T) {
	srv, cfg := loginSim(t)
	ctx := shortCtx(t, 30*time.Second)
	a, err := Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Login(ctx, Credentials{BotToken: srv.BotToken()}); err != nil {
		t.Fatal(err)
	}
	before := srv.Counters()
	b := startClient(t, cfg)
	if err := a.Close(ctx); err != nil {
		t.Fatal(err)
	}
	var users tg.UserClassVector
	if err := b.Invoke(ctx, getSelf, &users); err != nil {
		t.Fatal(err)
	}
	if after := srv.Counters(); after.KeyExchanges != before.KeyExchanges {
		t.Fatalf("%d new key exchanges, want 0", after.KeyExchanges-before.KeyExchanges)
	}
}

// Two accounts in one bbolt file (a fleet): each makes its own key, and
// both are reused by the next clients of those accounts.
func TestFleetAccountsKeepTheirKeys(t *testing.T) {
	srv, err := tgsim.Start(tgsim.Config{Key: serverKey(), Flood: tgsim.FloodConfig{Off: true}})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	dcs := srv.DCAddrs()
	db, err := OpenBoltStore(filepath.Join(t.TempDir(), "fleet.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := shortCtx(t, 30*time.Second)
	run := func(account string) {
		cfg := Config{DCs: dcs, PublicKeys: []exchange.PublicKey{srv.PublicKey()}, DialLimits: []DialLimit{}, Store: db.Account(account)}
		c, err := Start(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Invoke(ctx, getSelf, &tg.UserClassVector{}); err != nil {
			t.Fatal(err)
		}
		if err := c.Close(ctx); err != nil {
			t.Fatal(err)
		}
	}
	start := srv.Counters().KeyExchanges
	run("a")
	run("b")
	if n := srv.Counters().KeyExchanges - start; n != 2 {
		t.Fatalf("%d key exchanges for two accounts, want 2", n)
	}
	name := dcName(Config{DCs: dcs, PublicKeys: []exchange.PublicKey{srv.PublicKey()}}, 2)
	ka, _, okA, _ := db.Account("a").Load(name)
	kb, _, okB, _ := db.Account("b").Load(name)
	if !okA || !okB || ka.ID == kb.ID {
		t.Fatalf("keys: a %v, b %v, the same: %v", okA, okB, ka.ID == kb.ID)
	}
	run("a")
	run("b")
	if n := srv.Counters().KeyExchanges - start; n != 2 {
		t.Fatalf("%d key exchanges after restarting both accounts, want 2", n)
	}
}
