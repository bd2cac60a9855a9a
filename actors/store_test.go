package actors

import (
	"bytes"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gotd/td/crypto"

	"github.com/tlsched/tlsched/mtproto"
)

func TestFileStore(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "keys.json")
	s := &FileStore{Path: path}
	if _, _, ok, err := s.Load("2@a"); ok || err != nil {
		t.Fatalf("empty store: %v %v", ok, err)
	}
	var k crypto.Key
	for i := range k {
		k[i] = byte(i)
	}
	if err := s.Save("2@a", k.WithID(), 77); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v, want 0600", fi.Mode().Perm())
	}
	got, salt, ok, err := (&FileStore{Path: path}).Load("2@a")
	if err != nil || !ok || salt != 77 || got.ID != k.WithID().ID {
		t.Fatalf("reload: %v %v %d", err, ok, salt)
	}

	bad := filepath.Join(t.TempDir(), "other.json")
	if err := os.WriteFile(bad, []byte("not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	bs := &FileStore{Path: bad}
	if _, _, _, err := bs.Load("2@a"); err == nil || !strings.Contains(err.Error(), bad) {
		t.Fatalf("corrupt file: %v", err)
	}
	if err := bs.Save("2@a", k.WithID(), 1); err == nil {
		t.Fatal("a file we cannot read must not be overwritten")
	}
	if data, _ := os.ReadFile(bad); string(data) != "not json" {
		t.Fatal("corrupt file was overwritten")
	}
}

// Verified DH primes share the key file as records of their own: they
// round-trip, are saved once, and neither hide nor break the DC keys.
func TestStorePrimes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys.json")
	var k crypto.Key
	k[0] = 9
	for _, s := range []interface {
		Store
		PrimeStore
	}{&FileStore{Path: path}, NewMemoryStore(), openBolt(t, "").Account("a")} {
		if ps, err := s.LoadPrimes(); err != nil || len(ps) != 0 {
			t.Fatalf("%T empty: %d primes, %v", s, len(ps), err)
		}
		if err := s.Save("2@a", k.WithID(), 5); err != nil {
			t.Fatal(err)
		}
		p1, p2 := []byte{0xc7, 1, 2}, []byte{0xc7, 3, 4}
		for _, p := range [][]byte{p1, p2, p1} {
			if err := s.SavePrime(p); err != nil {
				t.Fatal(err)
			}
		}
		ps, err := s.LoadPrimes()
		if err != nil || len(ps) != 2 {
			t.Fatalf("%T: %d primes, %v; want 2", s, len(ps), err)
		}
		if got, salt, ok, err := s.Load("2@a"); err != nil || !ok || salt != 5 || got.ID != k.WithID().ID {
			t.Fatalf("%T: key beside primes: %v %v %d", s, ok, err, salt)
		}
	}
	// A file written before primes were kept reads as having none.
	old := filepath.Join(t.TempDir(), "old.json")
	if err := os.WriteFile(old, []byte(`{"2@a":{"key":"AQ==","salt":1}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if ps, err := (&FileStore{Path: old}).LoadPrimes(); err != nil || len(ps) != 0 {
		t.Fatalf("old file: %d primes, %v", len(ps), err)
	}
}

func TestSessionStateKeptWithItsKey(t *testing.T) {
	for name, st := range map[string]interface {
		Store
		SessionStore
	}{
		"memory": NewMemoryStore(),
		"file":   &FileStore{Path: filepath.Join(t.TempDir(), "keys.json")},
		"bolt":   openBolt(t, "").Account("a"),
	} {
		t.Run(name, func(t *testing.T) {
			key := toAuthKey(bytes.Repeat([]byte{7}, 256))
			other := toAuthKey(bytes.Repeat([]byte{8}, 256))
			state := SessionState{Salt: 11, TimeOffset: -42 * time.Second, FutureSalts: []mtproto.ServerSalt{
				{Salt: 12, ValidSince: time.Unix(1000, 0), ValidUntil: time.Unix(4600, 0)},
			}}
			// Nothing is saved for a DC without a key, or for another key.
			if err := st.SaveSession("2@a", key.ID, state); err != nil {
				t.Fatal(err)
			}
			if _, ok, _ := st.LoadSession("2@a", key.ID); ok {
				t.Fatal("state saved without its key")
			}
			if err := st.Save("2@a", key, 10); err != nil {
				t.Fatal(err)
			}
			if err := st.SaveSession("2@a", other.ID, state); err != nil {
				t.Fatal(err)
			}
			if got, _, _ := st.LoadSession("2@a", key.ID); got.Salt != 10 || got.TimeOffset != 0 {
				t.Fatalf("another key's state saved over this key's: %+v", got)
			}
			if err := st.SaveSession("2@a", key.ID, state); err != nil {
				t.Fatal(err)
			}
			got, ok, err := st.LoadSession("2@a", key.ID)
			if err != nil || !ok || got.Salt != 11 || got.TimeOffset != state.TimeOffset ||
				len(got.FutureSalts) != 1 || got.FutureSalts[0] != state.FutureSalts[0] {
				t.Fatalf("loaded %+v %v %v, want %+v", got, ok, err, state)
			}
			// The key itself is untouched; the salt follows the session.
			k, salt, ok, _ := st.Load("2@a")
			if !ok || k.ID != key.ID || salt != 11 {
				t.Fatalf("key record %v %d %v", k.ID, salt, ok)
			}
			if _, ok, _ := st.LoadSession("2@a", other.ID); ok {
				t.Fatal("state handed out for another key")
			}
		})
	}
}

// The home DC is a record of its own: a file written before it existed has
// none, keys stay readable beside it, and both stores keep it.
func TestHomeDCStore(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys.json")
	var k crypto.Key
	k[0] = 1
	old := `{"2@a":{"key":"` + base64.StdEncoding.EncodeToString(k[:]) + `","salt":5}}`
	if err := os.WriteFile(path, []byte(old), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, s := range map[string]interface {
		Store
		HomeDCStore
	}{"file": &FileStore{Path: path}, "memory": NewMemoryStore(), "bolt": openBolt(t, "").Account("a")} {
		if dc, ok, err := s.LoadHomeDC(); ok || err != nil {
			t.Fatalf("%s: home dc before any was saved: %q %v", name, dc, err)
		}
		if err := s.SaveHomeDC("4@b"); err != nil {
			t.Fatal(err)
		}
		if dc, ok, err := s.LoadHomeDC(); !ok || err != nil || dc != "4@b" {
			t.Fatalf("%s: home dc %q %v %v", name, dc, ok, err)
		}
	}
	got, salt, ok, err := (&FileStore{Path: path}).Load("2@a")
	if err != nil || !ok || salt != 5 || got.ID != k.WithID().ID {
		t.Fatalf("key beside the home dc: %v %v %d", err, ok, salt)
	}
}
