package actors

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/tlsched/tlsched/mtproto"
)

// openBolt opens a bbolt store at path (a new file in a temporary
// directory if empty), closed when the test ends.
func openBolt(t testing.TB, path string) *BoltDB {
	t.Helper()
	if path == "" {
		path = filepath.Join(t.TempDir(), "keys.db")
	}
	db, err := OpenBoltStore(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func testKey(b byte) [256]byte {
	var k [256]byte
	for i := range k {
		k[i] = b + byte(i)
	}
	return k
}

// Two accounts of one file never see each other's keys, sessions, limits
// or home DC; the verified primes are the file's, shared.
func TestBoltStoreAccountsIsolated(t *testing.T) {
	db := openBolt(t, "")
	a, b := db.Account("alice"), db.Account("bob")
	ka, kb := testKey(1), testKey(2)
	keyA, keyB := toAuthKey(ka[:]), toAuthKey(kb[:])
	st := SessionState{Salt: 9, TimeOffset: time.Second, FutureSalts: []mtproto.ServerSalt{{Salt: 10, ValidSince: time.Unix(5, 0), ValidUntil: time.Unix(6, 0)}}}
	must(t, a.Save("2@telegram", keyA, 1))
	must(t, a.SaveSession("2@telegram", keyA.ID, st))
	must(t, a.SaveHomeDC("4@telegram"))
	must(t, a.SaveLimits(map[string]float64{"send": 0.5}))
	must(t, a.SavePrime([]byte{0xc7, 1}))

	if _, _, ok, err := b.Load("2@telegram"); ok || err != nil {
		t.Fatalf("bob sees alice's key: %v %v", ok, err)
	}
	if _, ok, _ := b.LoadSession("2@telegram", keyA.ID); ok {
		t.Fatal("bob sees alice's session")
	}
	if _, ok, _ := b.LoadHomeDC(); ok {
		t.Fatal("bob sees alice's home dc")
	}
	if l, _ := b.LoadLimits(); l != nil {
		t.Fatalf("bob sees alice's limits: %v", l)
	}
	must(t, b.Save("2@telegram", keyB, 2))
	must(t, b.SaveHomeDC("1@telegram"))
	must(t, b.SaveLimits(map[string]float64{"send": 3}))
	if k, salt, ok, _ := a.Load("2@telegram"); !ok || k.ID != keyA.ID || salt != 9 {
		t.Fatalf("alice's key after bob saved his: %v %d %v", k.ID, salt, ok)
	}
	if got, ok, _ := a.LoadSession("2@telegram", keyA.ID); !ok || got.TimeOffset != time.Second || len(got.FutureSalts) != 1 {
		t.Fatalf("alice's session: %+v %v", got, ok)
	}
	if dc, _, _ := a.LoadHomeDC(); dc != "4@telegram" {
		t.Fatalf("alice's home dc %q", dc)
	}
	if l, _ := a.LoadLimits(); l["send"] != 0.5 || len(l) != 1 {
		t.Fatalf("alice's limits %v", l)
	}
	if k, salt, _, _ := b.Load("2@telegram"); k.ID != keyB.ID || salt != 2 {
		t.Fatal("bob's key")
	}
	if ps, _ := b.LoadPrimes(); len(ps) != 1 || !bytes.Equal(ps[0], []byte{0xc7, 1}) {
		t.Fatalf("primes are the file's: bob has %d", len(ps))
	}
	if names, err := db.Accounts(); err != nil || strings.Join(names, ",") != "alice,bob" {
		t.Fatalf("accounts %v %v", names, err)
	}
	must(t, db.DeleteAccount("alice"))
	must(t, db.DeleteAccount("alice"))
	if _, _, ok, _ := a.Load("2@telegram"); ok {
		t.Fatal("a deleted account's key")
	}
	if _, _, ok, _ := b.Load("2@telegram"); !ok {
		t.Fatal("deleting alice lost bob's key")
	}
	if names, _ := db.Accounts(); strings.Join(names, ",") != "bob" {
		t.Fatalf("accounts after deleting alice: %v", names)
	}
}

// What is saved is there after the file is closed and opened again; two
// handles of one process share the file, which stays open until the last
// is closed.
func TestBoltStoreReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "keys.db")
	db := openBolt(t, path)
	again := openBolt(t, path) // the same process: no lock wait
	k := testKey(3)
	key := toAuthKey(k[:])
	s := db.Account("x")
	must(t, s.Save("2@a", key, 4))
	must(t, s.SaveHomeDC("2@a"))
	must(t, s.SaveLimits(map[string]float64{"a": 1, "b": 2}))
	must(t, db.Close())
	must(t, db.Close()) // idempotent
	if _, _, ok, err := again.Account("x").Load("2@a"); !ok || err != nil {
		t.Fatalf("the other handle lost the file: %v %v", ok, err)
	}
	must(t, again.Close())
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("file mode: %v %v", fi, err)
	}
	re := openBolt(t, path).Account("x")
	if got, salt, ok, err := re.Load("2@a"); !ok || err != nil || got.ID != key.ID || salt != 4 {
		t.Fatalf("after reopening: %v %d %v %v", got.ID, salt, ok, err)
	}
	if dc, _, _ := re.LoadHomeDC(); dc != "2@a" {
		t.Fatalf("home dc %q", dc)
	}
	if l, _ := re.LoadLimits(); len(l) != 2 || l["b"] != 2 {
		t.Fatalf("limits %v", l)
	}
	must(t, re.SaveLimits(map[string]float64{"c": 3}))
	if l, _ := re.LoadLimits(); len(l) != 1 || l["c"] != 3 {
		t.Fatalf("limits replaced: %v", l)
	}
}

// A file of a newer format version, or a bbolt file of something else, is
// refused and left as it was.
func TestBoltStoreRefusesNewerOrForeign(t *testing.T) {
	dir := t.TempDir()
	newer := filepath.Join(dir, "newer.db")
	must(t, openBolt(t, newer).Close())
	rawUpdate(t, newer, func(tx *bolt.Tx) error { return tx.Bucket(bktMeta).Put(metaVersion, []byte("2")) })
	foreign := filepath.Join(dir, "cache.db")
	rawUpdate(t, foreign, func(tx *bolt.Tx) error {
		b, err := tx.CreateBucket([]byte("meta"))
		if err != nil {
			return err
		}
		return b.Put([]byte("format"), []byte("tlsched-entitycache/1"))
	})
	unmarked := filepath.Join(dir, "other.db")
	rawUpdate(t, unmarked, func(tx *bolt.Tx) error { _, err := tx.CreateBucket([]byte("stuff")); return err })
	for _, path := range []string{newer, foreign, unmarked} {
		before, _ := os.ReadFile(path)
		db, err := OpenBoltStore(path)
		if err == nil {
			db.Close()
			t.Fatalf("%s opened", path)
		}
		if !strings.Contains(err.Error(), path) {
			t.Fatalf("%q does not name the file", err)
		}
		var ve *StoreVersionError
		if (path == newer) != errors.As(err, &ve) {
			t.Fatalf("%s: %v", path, err)
		}
		if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
			t.Fatalf("%s was written", path)
		}
	}
	var ve *StoreVersionError
	_, err := OpenBoltStore(newer)
	if errors.As(err, &ve); ve == nil || ve.Version != 2 || !strings.Contains(err.Error(), "newer tlsched") {
		t.Fatalf("newer: %v", err)
	}
}

func rawUpdate(t *testing.T, path string, fn func(*bolt.Tx) error) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	must(t, db.Update(fn))
	must(t, db.Close())
}

// Many accounts saving at once from many goroutines (go test -race): every
// write lands, in its own account.
func TestBoltStoreConcurrentSaves(t *testing.T) {
	db := openBolt(t, "")
	const accounts, dcs = 100, 3
	var wg sync.WaitGroup
	errs := make(chan error, accounts*dcs)
	for i := range accounts {
		for dc := 1; dc <= dcs; dc++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				s := db.Account(fmt.Sprint("acct", i))
				k := testKey(byte(i*dcs + dc))
				key := toAuthKey(k[:])
				name := storeName(dc, "telegram")
				if err := s.Save(name, key, int64(i)); err != nil {
					errs <- err
					return
				}
				if err := s.SaveSession(name, key.ID, SessionState{Salt: int64(i), TimeOffset: time.Duration(dc) * time.Millisecond}); err != nil {
					errs <- err
				}
				if err := s.SaveLimits(map[string]float64{"send": float64(i)}); err != nil {
					errs <- err
				}
				if err := s.SavePrime([]byte{0xc7, byte(dc)}); err != nil {
					errs <- err
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for i := range accounts {
		s := db.Account(fmt.Sprint("acct", i))
		for dc := 1; dc <= dcs; dc++ {
			k := testKey(byte(i*dcs + dc))
			key := toAuthKey(k[:])
			got, salt, ok, err := s.Load(storeName(dc, "telegram"))
			if err != nil || !ok || got.ID != key.ID || salt != int64(i) {
				t.Fatalf("account %d dc %d: %v %v", i, dc, ok, err)
			}
			st, ok, _ := s.LoadSession(storeName(dc, "telegram"), key.ID)
			if !ok || st.TimeOffset != time.Duration(dc)*time.Millisecond {
				t.Fatalf("account %d dc %d session %+v", i, dc, st)
			}
		}
		if l, _ := s.LoadLimits(); l["send"] != float64(i) {
			t.Fatalf("account %d limits %v", i, l)
		}
	}
	if ps, _ := db.Account("any").LoadPrimes(); len(ps) != dcs {
		t.Fatalf("%d primes, want %d", len(ps), dcs)
	}
}

// A write that fails does not fail the others committed with it.
func TestBoltGroupCommitIsolatesFailures(t *testing.T) {
	db := openBolt(t, "")
	bad := errors.New("bad write")
	var wg sync.WaitGroup
	results := make([]error, 50)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = db.f.update(func(tx *bolt.Tx) error {
				if i%10 == 0 {
					return bad
				}
				return tx.Bucket(bktPrimes).Put([]byte(fmt.Sprint(i)), []byte{1})
			})
		}()
	}
	wg.Wait()
	for i, err := range results {
		if (i%10 == 0) != errors.Is(err, bad) {
			t.Fatalf("write %d: %v", i, err)
		}
	}
	if ps, _ := db.Account("a").LoadPrimes(); len(ps) != 45 {
		t.Fatalf("%d writes landed, want 45", len(ps))
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// A file another process holds (here: another bbolt handle, which locks
// the file as another process would) is refused with ErrStoreInUse, naming
// the file, after the lock timeout.
func TestBoltStoreInUse(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys.db")
	must(t, openBolt(t, path).Close())
	other, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	db, err := OpenBoltStore(path)
	if err == nil {
		db.Close()
		t.Fatal("opened a file another process holds")
	}
	if !errors.Is(err, ErrStoreInUse) || !strings.Contains(err.Error(), path) {
		t.Fatalf("%v, want ErrStoreInUse naming the file", err)
	}
}

// Writes that come while a commit is on its way wait for it and then share
// one transaction: 100 accounts saving at once cost two commits, not 100.
func TestBoltWritesShareCommits(t *testing.T) {
	db := openBolt(t, "")
	release := make(chan struct{})
	first := make(chan error, 1)
	go func() {
		first <- db.f.update(func(*bolt.Tx) error { <-release; return nil })
	}()
	// The first write holds its transaction open until the others queue.
	for db.f.commits.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	const writers = 100
	var wg sync.WaitGroup
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k := testKey(byte(i))
			if err := db.Account(fmt.Sprint("bot", i)).Save("2@telegram", toAuthKey(k[:]), 1); err != nil {
				t.Error(err)
			}
		}()
	}
	for {
		db.f.mu.Lock()
		n := len(db.f.pending)
		db.f.mu.Unlock()
		if n == writers {
			break
		}
		time.Sleep(time.Millisecond)
	}
	close(release)
	must(t, <-first)
	wg.Wait()
	if n := db.f.commits.Load(); n != 2 {
		t.Fatalf("%d commits for 1 + %d writes, want 2", n, writers)
	}
	if names, _ := db.Accounts(); len(names) != writers {
		t.Fatalf("%d accounts written, want %d", len(names), writers)
	}
}

// A login record counts for the key it was saved with only: a new key
// for its DC (a new key exchange) is not logged in; another account
// never sees it; and with no key stored nothing is recorded.
func TestBoltStoreLoginBelongsToKey(t *testing.T) {
	db := openBolt(t, "")
	a, b := db.Account("alice"), db.Account("bob")
	k1, k2 := testKey(1), testKey(2)
	if err := a.SaveLogin("4@telegram", Account{HomeDC: 4, UserID: 7}); err == nil {
		t.Fatal("login saved with no key")
	}
	if _, ok, err := a.LoadLogin(); ok || err != nil {
		t.Fatalf("login with no key: %v %v", ok, err)
	}
	must(t, a.Save("4@telegram", toAuthKey(k1[:]), 1))
	must(t, a.SaveLogin("4@telegram", Account{HomeDC: 4, UserID: 7, Bot: true}))
	if acc, ok, err := a.LoadLogin(); !ok || err != nil || acc.UserID != 7 || !acc.Bot {
		t.Fatalf("login: %+v %v %v", acc, ok, err)
	}
	if _, ok, _ := b.LoadLogin(); ok {
		t.Fatal("bob sees alice's login")
	}
	must(t, a.Save("2@telegram", toAuthKey(k2[:]), 1))
	if _, ok, _ := a.LoadLogin(); !ok {
		t.Fatal("a key of another DC dropped the login")
	}
	must(t, a.Save("4@telegram", toAuthKey(k2[:]), 1))
	if _, ok, _ := a.LoadLogin(); ok {
		t.Fatal("a new key of the login's DC is logged in")
	}
}
