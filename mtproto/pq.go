package mtproto

import (
	"math/big"
	"math/bits"
)

// factorPQ splits the key exchange's proof of work pq (MTProto "Creating an
// Authorization Key": a product of two distinct primes, below 2^63) into
// p < q. It runs Pollard's rho with Brent's cycle finding on machine words,
// as TDLib does: microseconds, where gotd's crypto.DecomposePQ multiplies
// with big.Int bit by bit and costs about a hundred milliseconds. ok is
// false when pq is not split into two factors: below 4, above 2^63, a
// prime, or (in theory) a composite rho does not split within its bound.
// The work is bounded (at most 16 sequences of 2^22 steps, about a second)
// whatever the server sends.
func factorPQ(pq *big.Int) (p, q *big.Int, ok bool) {
	if pq.Sign() <= 0 || pq.BitLen() > 63 || pq.ProbablyPrime(20) {
		return nil, nil, false
	}
	n := pq.Uint64()
	d := rho(n)
	if d <= 1 || d >= n || n%d != 0 {
		return nil, nil, false
	}
	a, b := d, n/d
	if a > b {
		a, b = b, a
	}
	return new(big.Int).SetUint64(a), new(big.Int).SetUint64(b), true
}

// rho returns a non-trivial factor of n, or 0 if it found none.
func rho(n uint64) uint64 {
	if n < 4 {
		return 0
	}
	if n%2 == 0 {
		return 2
	}
	mulmod := func(a, b uint64) uint64 {
		hi, lo := bits.Mul64(a, b)
		return bits.Rem64(hi, lo, n)
	}
	gcd := func(a, b uint64) uint64 {
		for b != 0 {
			a, b = b, a%b
		}
		return a
	}
	const batch = 128 // steps whose differences share one gcd
	for c := uint64(1); c <= 16; c++ {
		f := func(x uint64) uint64 { return (mulmod(x, x) + c) % n }
		y, x, ys := uint64(2), uint64(2), uint64(2)
		g, r, acc := uint64(1), 1, uint64(1)
		for g == 1 && r < 1<<22 {
			x = y
			for range r {
				y = f(y)
			}
			for k := 0; k < r && g == 1; k += batch {
				ys = y
				for range min(batch, r-k) {
					y = f(y)
					acc = mulmod(acc, diff(x, y))
				}
				g = gcd(acc, n)
			}
			r *= 2
		}
		if g == n {
			// The batch overshot: step again one at a time from its start.
			for {
				ys = f(ys)
				if g = gcd(diff(x, ys), n); g != 1 {
					break
				}
			}
		}
		if g != 1 && g != n {
			return g
		}
	}
	return 0
}

func diff(a, b uint64) uint64 {
	if a > b {
		return a - b
	}
	return b - a
}
