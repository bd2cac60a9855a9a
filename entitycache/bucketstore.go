package entitycache

import (
	"encoding/json"
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// Buckets is a bucket of a bbolt file someone else owns, in which a
// BucketStore keeps its records. actors.BoltBucket (a bucket of one
// account of a Fleet's BoltDB) is one. View's bkt is nil until an Update
// has made it. Update's fn may run more than once (a group commit that
// retries without another writer's failed write), so the store only puts
// and deletes what its arguments say.
type Buckets interface {
	View(fn func(bkt *bolt.Bucket) error) error
	Update(fn func(bkt *bolt.Bucket) error) error
}

// BucketStore is a Store inside a bucket of someone else's bbolt file
// (Buckets): the entity cache of one account of a Fleet, kept in that
// account's namespace of the Fleet's one BoltDB (ForAccount). Its records
// are BoltStore's; each batch is one transaction, which the file's owner
// may share with its other writers. Close releases nothing: the file is
// its owner's to close, after the store's last write.
type BucketStore struct {
	b     Buckets
	where string
}

// OpenBucketStore returns the store in b. A bucket holding something other
// than an entity cache of this format is refused with a *StoreError and
// left as it is. Errors name the store by b's String method if it has one.
func OpenBucketStore(b Buckets) (*BucketStore, error) {
	s := &BucketStore{b: b, where: "bucket"}
	if str, ok := b.(fmt.Stringer); ok {
		s.where = str.String()
	}
	err := b.View(func(bkt *bolt.Bucket) error {
		if bkt == nil {
			return nil
		}
		meta := bkt.Bucket(bucketMeta)
		if meta == nil {
			if k, _ := bkt.Cursor().First(); k != nil {
				return errors.New("a bucket of something else (no entity cache marker)")
			}
			return nil
		}
		if f := meta.Get(keyFormat); string(f) != boltFormat {
			return fmt.Errorf("format %q, want %q", f, boltFormat)
		}
		return nil
	})
	if err != nil {
		return nil, &StoreError{Path: s.where, Err: err}
	}
	return s, nil
}

// String names the store: its Buckets'.
func (s *BucketStore) String() string { return s.where }

func (s *BucketStore) view(fn func(bkt *bolt.Bucket) error) error { return s.b.View(fn) }

// update runs fn with the store's buckets made.
func (s *BucketStore) update(fn func(bkt *bolt.Bucket) error) error {
	return s.b.Update(func(bkt *bolt.Bucket) error {
		meta, err := bkt.CreateBucketIfNotExists(bucketMeta)
		if err != nil {
			return err
		}
		if meta.Get(keyFormat) == nil {
			if err := meta.Put(keyFormat, []byte(boltFormat)); err != nil {
				return err
			}
		}
		for _, name := range storeBuckets {
			if _, err := bkt.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		return fn(bkt)
	})
}

func (s *BucketStore) Get(k Key) (e Entity, ok bool, err error) {
	err = s.view(func(bkt *bolt.Bucket) error {
		e, ok, err = getEntity(bkt, s.where, k)
		return err
	})
	return e, ok, err
}

func (s *BucketStore) Username(name string) (k Key, ok bool, err error) {
	err = s.view(func(bkt *bolt.Bucket) error {
		k, ok, err = lookup(bkt, s.where, bucketUsernames, name)
		return err
	})
	return k, ok, err
}

func (s *BucketStore) Phone(phone string) (k Key, ok bool, err error) {
	err = s.view(func(bkt *bolt.Bucket) error {
		k, ok, err = lookup(bkt, s.where, bucketPhones, phone)
		return err
	})
	return k, ok, err
}

func (s *BucketStore) Write(b Batch) error {
	return s.update(func(bkt *bolt.Bucket) error { return writeBatch(bkt, b) })
}

func (s *BucketStore) Len() (n int, err error) {
	err = s.view(func(bkt *bolt.Bucket) error {
		n = count(bkt)
		return nil
	})
	return n, err
}

func (s *BucketStore) Account() (a Account, ok bool, err error) {
	err = s.view(func(bkt *bolt.Bucket) error {
		a, ok, err = account(bkt, s.where)
		return err
	})
	return a, ok, err
}

func (s *BucketStore) BindAccount(a Account) error {
	v, err := json.Marshal(a)
	if err != nil {
		return err
	}
	return s.update(func(bkt *bolt.Bucket) error { return bkt.Bucket(bucketMeta).Put(keyAccount, v) })
}

// Close implements Store; the file stays open (its owner closes it).
func (s *BucketStore) Close() error { return nil }
