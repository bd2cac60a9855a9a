package entitycache

import (
	"fmt"
	"io"

	"github.com/tlsched/tlsched/actors"
)

// FleetBucket is the bucket of an account's namespace of a Fleet's BoltDB
// that holds the account's entity cache (ForAccount):
// accounts/NAME/ext/entitycache in the file (actors.BoltStore.Bucket).
const FleetBucket = "entitycache"

// fleetCacheKey is the entity cache's key among an account's resources
// (actors.Fleet.AccountResource).
type fleetCacheKey struct{}

// ForAccount returns the entity cache of f's account named name, opening it
// on the first call. Access hashes are per account, so each account has a
// cache of its own, kept in its own namespace of the Fleet's one bbolt file
// (a BucketStore in actors.BoltStore.Bucket(FleetBucket) of
// FleetConfig.Store.Account(name)), or in memory when the Fleet has no
// Store: one account's cache never serves another's peers. The cache is
// attached to the account's Client (Attach): it learns from its results
// and resolves misses through it.
//
// cfg configures the cache on the first call (its Path and Store are
// ignored); later calls return the same Cache, whatever their cfg. The
// Fleet closes the cache when the account is closed (Fleet.Remove, the
// Client's Close, Fleet.Close), which writes what it learned; do not close
// it yourself. The records stay in the file with the account's keys: after
// Remove and Add under the same name, or in the next process, ForAccount
// opens them again; actors.BoltDB.DeleteAccount deletes them
// (TestFleetAccountsOwnEntityCaches). A name given to another bot after
// Remove finds the first bot's records: DeleteAccount first, or set
// cfg.Account (with SelfID) so that a store of another user is refused
// with an *AccountError. An account that is not the Fleet's is
// actors.ErrNoAccount.
func ForAccount(f *actors.Fleet, name string, cfg Config) (*Cache, error) {
	r, err := f.AccountResource(name, fleetCacheKey{}, func(c *actors.Client, ns *actors.BoltStore) (io.Closer, error) {
		cfg.Path, cfg.Store = "", nil
		if ns != nil {
			st, err := OpenBucketStore(ns.Bucket(FleetBucket))
			if err != nil {
				return nil, err
			}
			cfg.Store = st
		}
		cache, err := Open(cfg)
		if err != nil {
			return nil, err
		}
		if err := cache.Attach(c); err != nil {
			cache.Close()
			return nil, err
		}
		return cache, nil
	})
	if err != nil {
		return nil, fmt.Errorf("entity cache of account %q: %w", name, err)
	}
	return r.(*Cache), nil
}
