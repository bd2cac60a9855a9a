package actors

import (
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// bktExt holds, under an account's bucket, the buckets other packages keep
// for the account (BoltStore.Bucket): accounts/NAME/ext/BUCKET. Apart from
// the key store's own buckets, so no name of theirs can clash with keys,
// sessions, limits or homedc.
var bktExt = []byte("ext")

// BoltBucket is a bucket of one account of a BoltDB kept for another
// package's records (the entity cache's: entitycache.OpenBucketStore), so
// they live, and are deleted (BoltDB.DeleteAccount), with the account's
// keys. Safe for concurrent use; its writes share the file's group commit.
type BoltBucket struct {
	s    *BoltStore
	name []byte
}

// Bucket returns the account's bucket name (not empty) for another
// package's records: accounts/NAME/ext/name in the file. It is made on the
// first Update.
func (s *BoltStore) Bucket(name string) *BoltBucket {
	return &BoltBucket{s: s, name: []byte(name)}
}

// String names the bucket for error messages: the file, the account and
// the bucket (fleet.db, account "a", bucket "entitycache").
func (b *BoltBucket) String() string {
	return fmt.Sprintf("%s, account %q, bucket %q", b.s.f.path, b.s.account, b.name)
}

// View runs fn in a read transaction with the bucket; bkt is nil when
// nothing was ever written to it. fn must not keep bkt or any value it
// read after it returns (bbolt's rule: they are valid in the transaction
// only).
func (b *BoltBucket) View(fn func(bkt *bolt.Bucket) error) error {
	if len(b.name) == 0 {
		return fmt.Errorf("key store %s: a bucket needs a name", b.s.f.path)
	}
	return b.s.f.db.View(func(tx *bolt.Tx) error {
		return fn(b.s.bucketIn(tx, bktExt, b.name))
	})
}

// Update runs fn in a write transaction with the bucket, creating it (and
// the account) first if needed. The transaction may hold other writes of
// the file that came at once (one fsync for all); an error from fn is
// returned and undoes fn's writes only. fn may run more than once (when
// another write of its transaction fails), so it must write what its
// arguments say, not what it read before, as puts and deletes do.
func (b *BoltBucket) Update(fn func(bkt *bolt.Bucket) error) error {
	if len(b.name) == 0 {
		return fmt.Errorf("key store %s: a bucket needs a name", b.s.f.path)
	}
	return b.s.f.update(func(tx *bolt.Tx) error {
		ext, err := b.s.createBucket(tx, bktExt)
		if err != nil {
			return err
		}
		bkt, err := ext.CreateBucketIfNotExists(b.name)
		if err != nil {
			return err
		}
		return fn(bkt)
	})
}

// bucketIn returns the account's bucket outer/inner, or nil if it was
// never made.
func (s *BoltStore) bucketIn(tx *bolt.Tx, outer, inner []byte) *bolt.Bucket {
	if b := s.bucket(tx, outer); b != nil {
		return b.Bucket(inner)
	}
	return nil
}
