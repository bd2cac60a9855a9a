package mtproto

import (
	"errors"
	"math/big"
	"sync"

	"github.com/gotd/td/crypto"
	"golang.org/x/sync/singleflight"
)

// PrimeCache remembers the DH primes that passed the full safe-prime check of
// a key exchange (MTProto "Creating an Authorization Key": dh_prime must be a
// safe 2048-bit prime, that is p and (p-1)/2 both prime). That check is two
// 64-round Miller-Rabin tests on 2048-bit numbers and dominates a key
// exchange; servers send the same prime every time, so an exchange with a
// prime in the cache skips it (as TDLib does). The cheap checks (bit length,
// g a quadratic residue mod p, the ranges of g, g_a and g_b) run on every
// exchange regardless.
//
// Primes are keyed by their value, not by server: a verified safe prime is
// safe whoever sends it, so one cache may serve every DC and every account of
// a process. An owner that wants them per server keeps one cache per server.
//
// The zero value is ready to use; a PrimeCache is safe for concurrent use.
// A nil *PrimeCache verifies every prime and remembers none.
type PrimeCache struct {
	// OnVerified, when set, is called with the big-endian bytes of each prime
	// newly added by a successful check (not by Import), after it is in the
	// cache, so the owner can persist it. It may be called from concurrent
	// key exchanges; it must not call back into the cache. The slice is the
	// callee's.
	OnVerified func(prime []byte)
	// Shared, if set, is a cache this one also consults and feeds (a
	// process's, for every Client): a prime either knows is known, and
	// concurrent checks of one prime through caches that share one run
	// the full check once, the others waiting for it.
	Shared *PrimeCache

	// flight runs one full check per prime at a time (singleflight):
	// accounts that start together all meet the same prime at once.
	flight singleflight.Group

	mu     sync.Mutex
	primes map[string]struct{} // big-endian bytes of each verified prime
	// check is the full check run on a prime not in the cache; nil means
	// crypto.CheckDH. Tests replace it (export_test.go).
	check func(g int, p *big.Int) error
}

// Import adds primes that were verified before, as given by Export or
// OnVerified. They are trusted without a check: import only what this
// package verified and the owner stored, never primes from the network.
func (c *PrimeCache) Import(primes ...[]byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.primes == nil {
		c.primes = make(map[string]struct{}, len(primes))
	}
	for _, p := range primes {
		c.primes[string(new(big.Int).SetBytes(p).Bytes())] = struct{}{}
	}
}

// Export returns the big-endian bytes of every verified prime, in no
// particular order, for the owner's store. The slices are the caller's.
func (c *PrimeCache) Export() [][]byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([][]byte, 0, len(c.primes))
	for p := range c.primes {
		out = append(out, []byte(p))
	}
	return out
}

// Len returns the number of verified primes.
func (c *PrimeCache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.primes)
}

// has reports whether key is verified, here or in Shared (which this cache
// then keeps too, for its owner to persist).
func (c *PrimeCache) has(key string) bool {
	c.mu.Lock()
	_, ok := c.primes[key]
	c.mu.Unlock()
	if ok || c.Shared == nil || !c.Shared.has(key) {
		return ok
	}
	c.Import([]byte(key))
	return true
}

// checkDH checks the server's DH parameters g and dh_prime. The cheap
// conditions always run; the primality of p and (p-1)/2 only when p is not
// in the cache, which then remembers it.
func (c *PrimeCache) checkDH(g int, p *big.Int) error {
	if p.BitLen() != crypto.RSAKeyBits {
		return errors.New("dh_prime is not a 2048-bit number")
	}
	if err := crypto.CheckGP(g, p); err != nil {
		return err
	}
	if c == nil {
		return crypto.CheckDH(g, p)
	}
	key := string(p.Bytes())
	if c.has(key) {
		return nil
	}
	check := c.check
	if check == nil {
		check = crypto.CheckDH
	}
	owner := c // where the check in flight is shared, and the result kept
	if c.Shared != nil {
		owner = c.Shared
	}
	if _, err, _ := owner.flight.Do(key, func() (any, error) {
		if owner.has(key) {
			return nil, nil // verified by another cache sharing it
		}
		if err := check(g, p); err != nil {
			return nil, err
		}
		if owner != c {
			owner.Import([]byte(key))
		}
		return nil, nil
	}); err != nil {
		return err
	}
	c.mu.Lock()
	if c.primes == nil {
		c.primes = make(map[string]struct{})
	}
	_, had := c.primes[key]
	c.primes[key] = struct{}{}
	c.mu.Unlock()
	if !had && c.OnVerified != nil {
		c.OnVerified([]byte(key))
	}
	return nil
}
