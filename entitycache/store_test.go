package entitycache

import (
	"errors"
	"maps"
	"path/filepath"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/tlsched/tlsched/actors"
)

// storeImpl opens a store and, for a store on disk, a func that opens it
// again after Close (nil: the store keeps nothing past Close).
type storeImpl struct {
	name string
	open func(t *testing.T) (st Store, reopen func() Store)
}

// storeImpls are the Stores the contract is checked against.
func storeImpls() []storeImpl {
	return []storeImpl{
		{name: "memory", open: func(*testing.T) (Store, func() Store) { return NewMemoryStore(), nil }},
		{name: "file", open: func(t *testing.T) (Store, func() Store) {
			path := filepath.Join(t.TempDir(), "entities.db")
			open := func() Store {
				st, err := OpenBolt(path)
				if err != nil {
					t.Fatal(err)
				}
				return st
			}
			return open(), open
		}},
		{name: "bucket of a BoltDB account", open: func(t *testing.T) (Store, func() Store) {
			path := filepath.Join(t.TempDir(), "fleet.db")
			var db *actors.BoltDB
			open := func() Store {
				if db != nil {
					if err := db.Close(); err != nil {
						t.Fatal(err)
					}
				}
				var err error
				if db, err = actors.OpenBoltStore(path); err != nil {
					t.Fatal(err)
				}
				st, err := OpenBucketStore(db.Account("a").Bucket(FleetBucket))
				if err != nil {
					t.Fatal(err)
				}
				return st
			}
			t.Cleanup(func() { db.Close() })
			return open(), open
		}},
	}
}

// TestStoreContract checks what the Cache relies on of every Store: a
// batch's entities and mappings read back, dropped mappings are gone, Len,
// the account binding, and (stores on disk) that all of it outlives a
// reopen.
func TestStoreContract(t *testing.T) {
	alice := Entity{Kind: User, ID: 1, AccessHash: 100, Usernames: []string{"alice", "al2"}, Phone: "1555"}
	ch := Entity{Kind: Channel, ID: 2, AccessHash: 200, Usernames: []string{"chan"}}
	acct := Account{SelfID: 7, DCs: map[int]string{1: "127.0.0.1:1"}}
	for _, impl := range storeImpls() {
		t.Run(impl.name, func(t *testing.T) {
			st, reopen := impl.open(t)
			if _, ok, err := st.Get(alice.Key()); ok || err != nil {
				t.Fatalf("fresh store: Get = %v, %v", ok, err)
			}
			if _, ok, err := st.Username("alice"); ok || err != nil {
				t.Fatalf("fresh store: Username = %v, %v", ok, err)
			}
			if _, ok, err := st.Phone("1555"); ok || err != nil {
				t.Fatalf("fresh store: Phone = %v, %v", ok, err)
			}
			if n, err := st.Len(); n != 0 || err != nil {
				t.Fatalf("fresh store: Len = %d, %v", n, err)
			}
			if _, ok, err := st.Account(); ok || err != nil {
				t.Fatalf("fresh store: Account = %v, %v", ok, err)
			}
			must(t, st.Write(Batch{}))
			must(t, st.Write(Batch{Put: []Entity{alice, ch}}))
			must(t, st.BindAccount(acct))
			// alice loses a username and her phone, and her hash changes.
			alice2 := alice
			alice2.AccessHash, alice2.Usernames, alice2.Phone = 101, []string{"alice"}, ""
			must(t, st.Write(Batch{Put: []Entity{alice2}, DropUsernames: []string{"al2"}, DropPhones: []string{"1555"}}))

			check := func(st Store) {
				t.Helper()
				for _, want := range []Entity{alice2, ch} {
					if e, ok, err := st.Get(want.Key()); !ok || err != nil || !e.equal(want) {
						t.Fatalf("Get %v = %+v, %v, %v; want %+v", want.Key(), e, ok, err, want)
					}
				}
				for name, want := range map[string]Key{"alice": alice.Key(), "chan": ch.Key()} {
					if k, ok, err := st.Username(name); !ok || err != nil || k != want {
						t.Fatalf("Username %q = %v, %v, %v", name, k, ok, err)
					}
				}
				if _, ok, err := st.Username("al2"); ok || err != nil {
					t.Fatalf("dropped username: %v, %v", ok, err)
				}
				if _, ok, err := st.Phone("1555"); ok || err != nil {
					t.Fatalf("dropped phone: %v, %v", ok, err)
				}
				if n, err := st.Len(); n != 2 || err != nil {
					t.Fatalf("Len = %d, %v", n, err)
				}
				if a, ok, err := st.Account(); !ok || err != nil || a.SelfID != acct.SelfID || !maps.Equal(a.DCs, acct.DCs) {
					t.Fatalf("Account = %+v, %v, %v", a, ok, err)
				}
			}
			check(st)
			must(t, st.Close())
			if reopen != nil {
				st = reopen()
				check(st)
				must(t, st.Close())
			}
		})
	}
}

// TestBucketStoresOfAccountsApart: two accounts' caches in one BoltDB keep
// apart, sit beside the accounts' keys, and DeleteAccount drops one
// account's cache only. A bucket holding something else is refused and
// left alone.
func TestBucketStoresOfAccountsApart(t *testing.T) {
	db, err := actors.OpenBoltStore(filepath.Join(t.TempDir(), "fleet.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	open := func(name string) *BucketStore {
		t.Helper()
		st, err := OpenBucketStore(db.Account(name).Bucket(FleetBucket))
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	a, b := open("a"), open("b")
	// The same user, as each account sees it.
	must(t, a.Write(Batch{Put: []Entity{{Kind: User, ID: 5, AccessHash: 51, Usernames: []string{"five"}}}}))
	must(t, b.Write(Batch{Put: []Entity{{Kind: User, ID: 5, AccessHash: 52, Usernames: []string{"five"}}}}))
	must(t, a.Write(Batch{Put: []Entity{{Kind: User, ID: 6, AccessHash: 61, Usernames: []string{"six"}}}}))
	must(t, db.Account("a").SaveHomeDC("dc2"))
	for st, want := range map[*BucketStore]int64{a: 51, b: 52} {
		if e, ok, err := st.Get(Key{User, 5}); !ok || err != nil || e.AccessHash != want {
			t.Fatalf("%s: user 5 = %+v, %v, %v; want hash %d", st, e, ok, err, want)
		}
	}
	if _, ok, _ := b.Get(Key{User, 6}); ok {
		t.Fatal("b's store holds the user only a learned")
	}
	if _, ok, _ := b.Username("six"); ok {
		t.Fatal("b's store maps a's username")
	}
	if dc, ok, err := db.Account("a").LoadHomeDC(); !ok || err != nil || dc != "dc2" {
		t.Fatalf("a's home DC beside its cache: %q %v %v", dc, ok, err)
	}

	must(t, db.DeleteAccount("a"))
	if n, err := a.Len(); n != 0 || err != nil {
		t.Fatalf("a's cache after DeleteAccount: %d entities, %v", n, err)
	}
	if _, ok, _ := a.Username("five"); ok {
		t.Fatal("a's username mapping survived DeleteAccount")
	}
	if n, _ := b.Len(); n != 1 {
		t.Fatalf("b's cache after a's DeleteAccount: %d entities, want 1", n)
	}

	// A bucket of the name holding something else.
	other := db.Account("c").Bucket(FleetBucket)
	must(t, other.Update(func(bkt *bolt.Bucket) error { return bkt.Put([]byte("x"), []byte("y")) }))
	_, err = OpenBucketStore(other)
	var se *StoreError
	if !errors.As(err, &se) || se.Path != other.String() {
		t.Fatalf("a bucket of something else: %v, want a *StoreError naming it", err)
	}
	must(t, other.View(func(bkt *bolt.Bucket) error {
		if v := bkt.Get([]byte("x")); string(v) != "y" {
			t.Errorf("the refused bucket changed: x = %q", v)
		}
		return nil
	}))
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
