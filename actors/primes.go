package actors

import (
	"log/slog"

	"github.com/tlsched/tlsched/mtproto"
)

// processPrimes holds the DH primes verified by any Client of this process.
// A verified safe prime is safe whoever sends it (mtproto.PrimeCache), so
// sharing it is sound: the second account's first key exchange, or a DC
// actor's new key after the server forgot the old one, skips the primality
// check the first one paid for.
var processPrimes mtproto.PrimeCache

// newPrimeCache returns the prime cache of one Client: what this process
// has verified and what its store kept from earlier runs. A prime it
// verifies joins the process's cache; savePrimes writes them to the store
// after a key exchange. A store that cannot be read costs only the check.
func newPrimeCache(store Store, log *slog.Logger) *mtproto.PrimeCache {
	// Shared: accounts that start together check a new prime once.
	c := &mtproto.PrimeCache{Shared: &processPrimes}
	if ps, ok := store.(PrimeStore); ok {
		saved, err := ps.LoadPrimes()
		if err != nil {
			log.Warn("loading verified DH primes", "err", err)
		}
		c.Import(saved...)
	}
	return c
}

// savePrimes records the Client's verified primes in its store, when the
// store keeps them. It runs after a key exchange, beside saving the new key:
// the exchange's prime is in the cache by then, checked now or before.
func savePrimes(store Store, primes *mtproto.PrimeCache, log *slog.Logger) {
	ps, ok := store.(PrimeStore)
	if !ok {
		return
	}
	for _, p := range primes.Export() {
		if err := ps.SavePrime(p); err != nil {
			log.Warn("saving a verified DH prime", "err", err)
			return
		}
	}
}
