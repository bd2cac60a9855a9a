package mtproto

import (
	"crypto/rand"
	"math/big"
	"testing"

	"github.com/gotd/td/crypto"
	"pgregory.net/rapid"
)

// factorPQ agrees with gotd's crypto.DecomposePQ on the documentation's
// sample, and finds the two factors of products of two random primes of
// the sizes servers use (pq < 2^63), smaller first as gotd gives them; what is not such a product is left to the fallback.
func TestFactorPQ(t *testing.T) {
	sample, _ := new(big.Int).SetString("17ED48941A08F981", 16) // MTProto "Creating an Authorization Key", sample
	p, q, ok := factorPQ(sample)
	if !ok || p.Uint64() != 0x494C553B || q.Uint64() != 0x53911073 {
		t.Fatalf("sample: %v %v %v", p, q, ok)
	}
	if wp, wq, err := crypto.DecomposePQ(sample, rand.Reader); err != nil || p.Cmp(wp) != 0 || q.Cmp(wq) != 0 {
		t.Fatalf("sample: ours %v·%v, gotd's %v·%v (%v)", p, q, wp, wq, err)
	}
	rapid.Check(t, func(t *rapid.T) {
		bitsP := rapid.IntRange(2, 31).Draw(t, "bitsP")
		a := randomPrime(t, bitsP)
		b := randomPrime(t, 62-bitsP)
		if a.Cmp(b) == 0 {
			t.Skip("equal primes")
		}
		pq := new(big.Int).Mul(a, b)
		if pq.BitLen() > 63 {
			t.Skip("above 2^63")
		}
		p, q, ok := factorPQ(pq)
		if !ok {
			t.Fatalf("%v = %v·%v not factored", pq, a, b)
		}
		// The drawn primes, smaller first, as gotd's crypto.DecomposePQ
		// gives them (checked on the sample above: gotd's Pollard rho on
		// big.Int took most of this test's 25 s under -race).
		wp, wq := a, b
		if wp.Cmp(wq) > 0 {
			wp, wq = wq, wp
		}
		if p.Cmp(wp) != 0 || q.Cmp(wq) != 0 {
			t.Fatalf("%v: ours %v·%v, want %v·%v", pq, p, q, wp, wq)
		}
	})
	// No two factors: refused at once (the exchange then fails instead of
	// handing them to crypto.DecomposePQ, which divides by zero on 0 and
	// loops forever on a prime), whatever a server sends.
	for _, n := range []int64{0, 1, 2, 3, 5, 7919, 1<<61 - 1, 9223372036854775783} {
		if _, _, ok := factorPQ(big.NewInt(n)); ok {
			t.Errorf("%d factored", n)
		}
	}
	if _, _, ok := factorPQ(new(big.Int).Lsh(big.NewInt(1), 63)); ok {
		t.Error("2^63 is above the protocol's pq")
	}
}

func randomPrime(t *rapid.T, bits int) *big.Int {
	seed := rapid.Uint64().Draw(t, "seed")
	n := new(big.Int).SetUint64(seed | 1<<(bits-1) | 1)
	n.And(n, new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), uint(bits)), big.NewInt(1)))
	for !n.ProbablyPrime(20) {
		n.Add(n, big.NewInt(2))
	}
	return n
}

func BenchmarkFactorPQ(b *testing.B) {
	pq, _ := new(big.Int).SetString("17ED48941A08F981", 16)
	b.Run("ours", func(b *testing.B) {
		for range b.N {
			if _, _, ok := factorPQ(pq); !ok {
				b.Fatal("not factored")
			}
		}
	})
	b.Run("gotd", func(b *testing.B) {
		for range b.N {
			if _, _, err := crypto.DecomposePQ(pq, rand.Reader); err != nil {
				b.Fatal(err)
			}
		}
	})
}
