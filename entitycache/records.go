package entitycache

import (
	"encoding/json"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// The records of a bbolt store, shared by the file store (BoltStore, its
// buckets at the file's root) and the bucket store (BucketStore, its
// buckets inside a bucket of someone else's file):
//
//	meta       "format" → boltFormat; "account" → JSON of Account
//	entities   kind byte + id (big-endian) → the entity (entity.go)
//	usernames  lowercased username → entity key
//	phones     digits → entity key
//
// parent is a *bolt.Tx or a *bolt.Bucket; where names the store in errors.

// parent holds a store's buckets: a transaction (the file's root) or a
// bucket.
type parent interface {
	Bucket(name []byte) *bolt.Bucket
}

// storeBuckets are the buckets every store of this format has.
var storeBuckets = [][]byte{bucketEntities, bucketUsernames, bucketPhones}

// sub returns p's bucket name, nil if p or it is missing. A nil
// *bolt.Bucket in an interface is not a nil interface: check both.
func sub(p parent, name []byte) *bolt.Bucket {
	if p == nil {
		return nil
	}
	if b, ok := p.(*bolt.Bucket); ok && b == nil {
		return nil
	}
	return p.Bucket(name)
}

// get returns p's value of key in bucket, nil if any is missing.
func get(p parent, bucket, key []byte) []byte {
	if b := sub(p, bucket); b != nil {
		return b.Get(key)
	}
	return nil
}

func getEntity(p parent, where string, k Key) (Entity, bool, error) {
	v := get(p, bucketEntities, keyBytes(k))
	if v == nil {
		return Entity{}, false, nil
	}
	e, err := unmarshal(v)
	if err != nil {
		return Entity{}, false, &StoreError{Path: where, Err: fmt.Errorf("entity %s %d: %w", k.Kind, k.ID, err)}
	}
	return e, true, nil
}

func lookup(p parent, where string, bucket []byte, name string) (Key, bool, error) {
	v := get(p, bucket, []byte(name))
	if v == nil {
		return Key{}, false, nil
	}
	k, ok := parseKey(v)
	if !ok {
		return Key{}, false, &StoreError{Path: where, Err: fmt.Errorf("mapping %q: malformed key", name)}
	}
	return k, true, nil
}

func count(p parent) int {
	b := sub(p, bucketEntities)
	if b == nil {
		return 0
	}
	return b.Stats().KeyN
}

func account(p parent, where string) (a Account, ok bool, err error) {
	v := get(p, bucketMeta, keyAccount)
	if v == nil {
		return a, false, nil
	}
	if err := json.Unmarshal(v, &a); err != nil {
		return a, false, &StoreError{Path: where, Err: fmt.Errorf("account record: %w", err)}
	}
	return a, true, nil
}

// writeBatch applies b; p has every bucket of storeBuckets.
func writeBatch(p parent, b Batch) error {
	ents, names, phones := p.Bucket(bucketEntities), p.Bucket(bucketUsernames), p.Bucket(bucketPhones)
	// Entities are mostly added, rarely changed: pack pages fuller than
	// bbolt's default half.
	ents.FillPercent, names.FillPercent, phones.FillPercent = 0.9, 0.9, 0.9
	for _, n := range b.DropUsernames {
		if err := names.Delete([]byte(n)); err != nil {
			return err
		}
	}
	for _, p := range b.DropPhones {
		if err := phones.Delete([]byte(p)); err != nil {
			return err
		}
	}
	for _, e := range b.Put {
		k := keyBytes(e.Key())
		if err := ents.Put(k, e.marshal()); err != nil {
			return err
		}
		for _, n := range e.Usernames {
			if err := names.Put([]byte(n), k); err != nil {
				return err
			}
		}
		if e.Phone != "" {
			if err := phones.Put([]byte(e.Phone), k); err != nil {
				return err
			}
		}
	}
	return nil
}
