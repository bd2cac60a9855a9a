package actors

import (
	"errors"
	"fmt"
	"io"
)

// AccountResource returns what open made for the account named name under
// key, calling open on the first request only: later requests (and
// concurrent first ones, which wait for it) get the same value. It is how
// a package that builds on actors keeps a thing per account without the
// Fleet knowing it: entitycache.ForAccount keeps the account's entity
// cache this way (actors cannot import entitycache, which imports
// actors). key is a comparable value of the caller's own type, as a
// context key is.
//
// open gets the account's Client and its namespace in the Fleet's Store
// (nil when the Fleet has none), whatever the account's Config.Store; it
// must not call AccountResource for the same account. An error from open
// is returned and nothing is kept: the next request opens again.
//
// The resource is closed when the account is (Remove, its Client's Close,
// the Fleet's Close), after its Client; Close returns its error. A request
// for an account that is not the Fleet's, or closed, is ErrNoAccount.
// (TestFleetAccountResource)
func (f *Fleet) AccountResource(name string, key any, open func(c *Client, ns *BoltStore) (io.Closer, error)) (io.Closer, error) {
	f.mu.Lock()
	a, ok := f.accounts[name]
	f.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrNoAccount, name)
	}
	a.resMu.Lock()
	defer a.resMu.Unlock()
	if a.gone {
		return nil, fmt.Errorf("%w: %q", ErrNoAccount, name)
	}
	if r, ok := a.res[key]; ok {
		return r, nil
	}
	var ns *BoltStore
	if f.cfg.Store != nil {
		ns = f.cfg.Store.Account(name)
	}
	r, err := open(a.client, ns)
	if err != nil {
		return nil, err
	}
	if a.res == nil {
		a.res = map[any]io.Closer{}
	}
	a.res[key] = r
	return r, nil
}

// closeResources closes the account's resources, once; later requests
// find it gone.
func (a *fleetAccount) closeResources() error {
	a.resMu.Lock()
	a.gone = true
	res := a.res
	a.res = nil
	a.resMu.Unlock()
	var errs []error
	for k, r := range res {
		if err := r.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close account %q's %T: %w", a.client.name, k, err))
		}
	}
	return errors.Join(errs...)
}
