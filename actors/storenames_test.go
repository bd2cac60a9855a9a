package actors

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gotd/td/crypto"
	"github.com/gotd/td/exchange"
	bolt "go.etcd.io/bbolt"

	"github.com/tlsched/tlsched/mtproto"
)

// dcName is the name cfg's client gives DC id in its Store.
func dcName(cfg Config, id int) string {
	cfg.Store = NewMemoryStore() // withDefaults must not pick a file
	c, err := cfg.withDefaults()
	if err != nil {
		panic(err)
	}
	return storeName(id, c.server)
}

// Which store a Config without one gets (issue 21): a file for a session,
// memory for a custom server, the default file for Telegram.
func TestDefaultStore(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	t.Setenv("HOME", t.TempDir())
	defaultPath, err := DefaultStorePath()
	if err != nil {
		t.Fatal(err)
	}
	session := filepath.Join(t.TempDir(), "acct.session")
	custom := map[int]string{2: "127.0.0.1:40001"}
	for _, tc := range []struct {
		name string
		cfg  Config
		file string // "" for a MemoryStore
	}{
		{"telegram", Config{}, defaultPath},
		{"telegram named", Config{DCs: map[int]string{1: ProductionDCs[1], 2: ProductionDCs[2], 3: ProductionDCs[3], 4: ProductionDCs[4], 5: ProductionDCs[5]}}, defaultPath},
		{"custom DCs", Config{DCs: custom}, ""},
		{"custom DCs with a session", Config{DCs: custom, SessionFile: session}, session},
		{"telegram with a session", Config{SessionFile: session}, session},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := withDefaults(t, tc.cfg)
			switch st := c.Store.(type) {
			case *MemoryStore:
				if tc.file != "" {
					t.Fatalf("a MemoryStore, want a BoltStore at %s", tc.file)
				}
			case *BoltStore:
				if st.Path() != tc.file || st.Account() != DefaultAccount {
					t.Fatalf("a BoltStore at %s (%s), want %q", st.Path(), st.Account(), tc.file)
				}
			default:
				t.Fatalf("store %T", st)
			}
		})
	}
}

// withDefaults applies cfg's defaults, closing the store it opened when the
// test ends.
func withDefaults(t *testing.T, cfg Config) Config {
	t.Helper()
	c, err := cfg.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if c.closeStore != nil {
		t.Cleanup(func() { c.closeStore() })
	}
	return c
}

// A client against a custom server writes no file (the default path
// stays absent): withDefaults chose memory.
func TestCustomServerNoDefaultFile(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	t.Setenv("HOME", t.TempDir())
	defaultPath, _ := DefaultStorePath()
	withDefaults(t, Config{DCs: map[int]string{2: "127.0.0.1:40001"}})
	if _, err := os.Stat(defaultPath); !os.IsNotExist(err) {
		t.Fatalf("%s: %v", defaultPath, err)
	}
}

// The default store of an earlier release (auth-keys.json) is imported
// into the new one (auth-keys.db) and left as it was; a default file that
// cannot be opened leaves the keys in memory.
func TestDefaultStoreImportsAuthKeysJSON(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	t.Setenv("HOME", t.TempDir())
	defaultPath, _ := DefaultStorePath()
	legacy := filepath.Join(filepath.Dir(defaultPath), legacyDefaultStore)
	today, _ := writeOldSession(t, legacy)
	orig, _ := os.ReadFile(legacy)
	c := withDefaults(t, Config{})
	if got, _, ok, err := c.Store.Load("2@telegram"); err != nil || !ok || got.ID != toAuthKey(today[:]).ID {
		t.Fatalf("the earlier default store's key: %v %v", ok, err)
	}
	if after, _ := os.ReadFile(legacy); !bytes.Equal(orig, after) {
		t.Fatal("auth-keys.json changed")
	}
	must(t, c.closeStore())

	// Held by another process: memory, after a short wait.
	other, err := bolt.Open(defaultPath, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if c := withDefaults(t, Config{}); c.closeStore != nil {
		t.Fatalf("store %T from a file another process holds", c.Store)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("waited %v for the default store", d)
	}
	must(t, other.Close())

	rawUpdate(t, defaultPath, func(tx *bolt.Tx) error { return tx.Bucket(bktMeta).Put(metaVersion, []byte("9")) })
	if c := withDefaults(t, Config{}); c.closeStore != nil {
		t.Fatalf("store %T from a file of a newer release", c.Store)
	}
}

// APIID is read from where it lived before, and set there for the session.
func TestAPIIDAtTheTop(t *testing.T) {
	c, _ := Config{APIID: 7, APIHash: "h", Store: NewMemoryStore()}.withDefaults()
	if c.Session.Init.APIID != 7 {
		t.Fatalf("Session.Init.APIID %d, want 7", c.Session.Init.APIID)
	}
	old := Config{Store: NewMemoryStore()}
	old.Session.Init.APIID = 9
	c, _ = old.withDefaults()
	if c.APIID != 9 || c.Session.Init.APIID != 9 {
		t.Fatalf("the old path: APIID %d, Session.Init.APIID %d", c.APIID, c.Session.Init.APIID)
	}
}

// A server is named by its keys, not its address: the same keys in any
// order are one server, other keys another, and Telegram with the
// built-in keys is "telegram".
func TestServerIdentity(t *testing.T) {
	gen := func() exchange.PublicKey {
		k, err := rsa.GenerateKey(rand.Reader, 1024)
		if err != nil {
			t.Fatal(err)
		}
		return exchange.PublicKey{RSA: &k.PublicKey}
	}
	a, b := gen(), gen()
	if serverID([]exchange.PublicKey{a, b}) != serverID([]exchange.PublicKey{b, a, a}) {
		t.Fatal("the same keys in another order are another server")
	}
	if serverID([]exchange.PublicKey{a}) == serverID([]exchange.PublicKey{b}) {
		t.Fatal("two keys, one server")
	}
	tgc, _ := Config{Store: NewMemoryStore()}.withDefaults()
	port1, _ := Config{DCs: map[int]string{2: "127.0.0.1:1"}, PublicKeys: []exchange.PublicKey{a}}.withDefaults()
	port2, _ := Config{DCs: map[int]string{2: "127.0.0.1:2"}, PublicKeys: []exchange.PublicKey{a}}.withDefaults()
	if port1.server != port2.server || port1.server == tgc.server || tgc.server != telegramServer {
		t.Fatalf("servers %s, %s, telegram %s", port1.server, port2.server, tgc.server)
	}
}

// A key stored under the name records had before (the DC's address) is
// found, and copied with its session state to the new name.
func TestLegacyStoreNamesMigrate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "old.session")
	st := &FileStore{Path: path}
	var k crypto.Key
	k[0] = 3
	key := k.WithID()
	legacy := legacyStoreName(2, "149.154.167.51:443")
	if err := st.Save(legacy, key, 5); err != nil {
		t.Fatal(err)
	}
	state := SessionState{Salt: 5, TimeOffset: 3 * time.Second, FutureSalts: []mtproto.ServerSalt{{Salt: 6, ValidSince: time.Unix(100, 0), ValidUntil: time.Unix(200, 0)}}}
	if err := st.SaveSession(legacy, key.ID, state); err != nil {
		t.Fatal(err)
	}
	cfg := Config{SessionFile: path}
	name := dcName(cfg, 2)
	got, salt, ok, err := loadKey(st, name, legacy, discardLogger())
	if err != nil || !ok || got.ID != key.ID || salt != 5 {
		t.Fatalf("loadKey: %v %v %v %v", got.ID, salt, ok, err)
	}
	again := &FileStore{Path: path}
	if got, _, ok, _ := again.Load(name); !ok || got.ID != key.ID {
		t.Fatal("not copied to the new name")
	}
	if s, ok, _ := again.LoadSession(name, key.ID); !ok || s.TimeOffset != 3*time.Second || len(s.FutureSalts) != 1 {
		t.Fatalf("session state not copied: %+v", s)
	}
	// The home DC saved the old way (by address) is still this server's.
	if err := again.SaveHomeDC(legacyStoreName(4, ProductionDCs[4])); err != nil {
		t.Fatal(err)
	}
	c := withDefaults(t, cfg)
	if dc, ok := loadHomeDC(c); !ok || dc != 4 {
		t.Fatalf("home dc %d %v, want 4", dc, ok)
	}
}

// A session file of tlworker login from before keeps its home DC in the
// account file only.
func TestHomeDCFromAccountFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "acct.session")
	if err := SaveAccount(path, Account{HomeDC: 5, UserID: 1}); err != nil {
		t.Fatal(err)
	}
	c := withDefaults(t, Config{SessionFile: path})
	if dc, ok := loadHomeDC(c); !ok || dc != 5 {
		t.Fatalf("home dc %d %v, want 5", dc, ok)
	}
	if err := os.WriteFile(AccountPath(path), []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := LoadAccount(path); err == nil {
		t.Fatal("a damaged account file loaded")
	}
}

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
