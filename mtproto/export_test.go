package mtproto

import "math/big"

// SetPrimeCheck replaces the full primality check of c, so tests can count
// or fail it.
func SetPrimeCheck(c *PrimeCache, check func(g int, p *big.Int) error) { c.check = check }
