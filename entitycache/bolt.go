package entitycache

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// Format marks a bbolt file as an entity cache of this version.
const boltFormat = "tlsched-entitycache/1"

var (
	bucketMeta      = []byte("meta")
	bucketEntities  = []byte("entities")
	bucketUsernames = []byte("usernames")
	bucketPhones    = []byte("phones")
	keyFormat       = []byte("format")
	keyAccount      = []byte("account") // JSON of Account
)

// BoltStore is the default Store: one bbolt file, one transaction per batch.
type BoltStore struct {
	db   *bolt.DB
	path string
}

// OpenBolt opens (or creates, with mode 0600) the entity cache file at path.
// A file that is not a bbolt database, is damaged, or is a bbolt database
// of something else is reported as a *StoreError naming the path; it is
// never overwritten.
func OpenBolt(path string) (*BoltStore, error) {
	fresh := false
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		fresh = true
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		switch {
		case errors.Is(err, bolterrors.ErrTimeout):
			return nil, fmt.Errorf("entity cache %s: in use by another process: %w", path, err)
		case errors.Is(err, bolterrors.ErrInvalid), errors.Is(err, bolterrors.ErrVersionMismatch),
			errors.Is(err, bolterrors.ErrChecksum), errors.Is(err, bolterrors.ErrInvalidMapping):
			return nil, &StoreError{Path: path, Err: err}
		}
		return nil, &StoreError{Path: path, Err: err}
	}
	s := &BoltStore{db: db, path: path}
	if s.ready() {
		// Nothing to create: a read-only open leaves the file as it was
		// (a store refused for another account is not touched).
		return s, nil
	}
	err = db.Update(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if meta == nil {
			if !fresh && bucketCount(tx) > 0 {
				return errors.New("a bbolt database of something else (no entity cache marker)")
			}
			var err error
			if meta, err = tx.CreateBucket(bucketMeta); err != nil {
				return err
			}
			if err := meta.Put(keyFormat, []byte(boltFormat)); err != nil {
				return err
			}
		}
		if f := meta.Get(keyFormat); string(f) != boltFormat {
			return fmt.Errorf("format %q, want %q", f, boltFormat)
		}
		for _, b := range [][]byte{bucketEntities, bucketUsernames, bucketPhones} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, &StoreError{Path: path, Err: err}
	}
	return s, nil
}

// ready reports whether the file already is an entity cache of this format
// with all its buckets.
func (s *BoltStore) ready() bool {
	ok := false
	_ = s.db.View(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if meta == nil || string(meta.Get(keyFormat)) != boltFormat {
			return nil
		}
		for _, b := range [][]byte{bucketEntities, bucketUsernames, bucketPhones} {
			if tx.Bucket(b) == nil {
				return nil
			}
		}
		ok = true
		return nil
	})
	return ok
}

func bucketCount(tx *bolt.Tx) int {
	n := 0
	_ = tx.ForEach(func([]byte, *bolt.Bucket) error { n++; return nil })
	return n
}

// Path is the file the store lives in.
func (s *BoltStore) Path() string { return s.path }

func keyBytes(k Key) []byte {
	b := make([]byte, 9)
	b[0] = byte(k.Kind)
	binary.BigEndian.PutUint64(b[1:], uint64(k.ID))
	return b
}

func parseKey(b []byte) (Key, bool) {
	if len(b) != 9 {
		return Key{}, false
	}
	return Key{Kind(b[0]), int64(binary.BigEndian.Uint64(b[1:]))}, true
}

func (s *BoltStore) Get(k Key) (e Entity, ok bool, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		e, ok, err = getEntity(tx, s.path, k)
		return err
	})
	return e, ok, err
}

func (s *BoltStore) Username(name string) (k Key, ok bool, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		k, ok, err = lookup(tx, s.path, bucketUsernames, name)
		return err
	})
	return k, ok, err
}

func (s *BoltStore) Phone(phone string) (k Key, ok bool, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		k, ok, err = lookup(tx, s.path, bucketPhones, phone)
		return err
	})
	return k, ok, err
}

func (s *BoltStore) Write(b Batch) error {
	return s.db.Update(func(tx *bolt.Tx) error { return writeBatch(tx, b) })
}

func (s *BoltStore) Len() (n int, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		n = count(tx)
		return nil
	})
	return n, err
}

func (s *BoltStore) Close() error { return s.db.Close() }

func (s *BoltStore) Account() (a Account, ok bool, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		a, ok, err = account(tx, s.path)
		return err
	})
	return a, ok, err
}

func (s *BoltStore) BindAccount(a Account) error {
	b, err := json.Marshal(a)
	if err != nil {
		return err
	}
	return s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketMeta).Put(keyAccount, b) })
}
