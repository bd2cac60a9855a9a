package mtproto_test

import (
	"context"
	"errors"
	"math/big"
	"sync"
	"testing"
	"time"

	"github.com/gotd/td/crypto"
	"github.com/gotd/td/exchange"
	"github.com/gotd/td/tgtest"

	"github.com/tlsched/tlsched/mtproto"
)

// countingCache returns a PrimeCache whose full primality check is
// crypto.CheckDH, counted.
func countingCache() (*mtproto.PrimeCache, *int) {
	var mu sync.Mutex
	n := new(int)
	c := &mtproto.PrimeCache{}
	mtproto.SetPrimeCheck(c, func(g int, p *big.Int) error {
		mu.Lock()
		*n++
		mu.Unlock()
		return crypto.CheckDH(g, p)
	})
	return c, n
}

func dialPrimes(t testing.TB, srv *tgtest.Server, addr string, primes *mtproto.PrimeCache) (*mtproto.Conn, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return mtproto.Dial(ctx, mtproto.DialConfig{Addr: addr, DC: 2, PublicKeys: []exchange.PublicKey{srv.Key()}, Primes: primes})
}

// useKey proves the server accepts the exchanged key: three calls answered.
func useKey(t *testing.T, c *mtproto.Conn) {
	t.Helper()
	if !c.Exchanged {
		t.Fatal("no key exchange happened")
	}
	d := newDriver(t, newSession(t, c, mtproto.Config{}))
	d.attach(c)
	d.send(sendCalls(1, 3))
	d.waitFor("3 results", func() bool { return len(d.results) == 3 })
	d.checkAllRouted(3)
}

func TestKeyExchangePrimeCache(t *testing.T) {
	srv, addr := startServer(t, &app{}, tgtest.ServerOptions{})
	cache, checks := countingCache()
	var verified [][]byte
	cache.OnVerified = func(p []byte) { verified = append(verified, p) }

	// Cold: the prime is checked in full, then remembered and reported.
	c, err := dialPrimes(t, srv, addr, cache)
	if err != nil {
		t.Fatal(err)
	}
	useKey(t, c)
	if *checks != 1 || cache.Len() != 1 || len(verified) != 1 {
		t.Fatalf("cold exchange: %d checks, %d cached, %d reported; want 1 each", *checks, cache.Len(), len(verified))
	}
	if new(big.Int).SetBytes(verified[0]).BitLen() != crypto.RSAKeyBits {
		t.Fatalf("reported prime has %d bits", new(big.Int).SetBytes(verified[0]).BitLen())
	}

	// Warm: the same prime skips the check; the key still works.
	c, err = dialPrimes(t, srv, addr, cache)
	if err != nil {
		t.Fatal(err)
	}
	useKey(t, c)
	if *checks != 1 || len(verified) != 1 {
		t.Fatalf("warm exchange: %d checks, %d reported; want the cold exchange's 1", *checks, len(verified))
	}

	// Restored from the owner's store: warm from the first exchange.
	restored, restoredChecks := countingCache()
	restored.Import(cache.Export()...)
	c, err = dialPrimes(t, srv, addr, restored)
	if err != nil {
		t.Fatal(err)
	}
	useKey(t, c)
	if *restoredChecks != 0 {
		t.Fatalf("restored cache: %d checks, want 0", *restoredChecks)
	}
}

func TestKeyExchangeUnknownPrimeChecked(t *testing.T) {
	srv, addr := startServer(t, &app{}, tgtest.ServerOptions{})
	// A cache holding another prime: the server's is still checked.
	cache, checks := countingCache()
	other := new(big.Int).Lsh(big.NewInt(1), crypto.RSAKeyBits-1)
	cache.Import(other.Add(other, big.NewInt(7)).Bytes())
	c, err := dialPrimes(t, srv, addr, cache)
	if err != nil {
		t.Fatal(err)
	}
	useKey(t, c)
	if *checks != 1 || cache.Len() != 2 {
		t.Fatalf("%d checks, %d cached; want 1 and 2", *checks, cache.Len())
	}
}

func TestKeyExchangeRejectedPrimeFailsDial(t *testing.T) {
	srv, addr := startServer(t, &app{}, tgtest.ServerOptions{})
	errNotSafe := errors.New("not a safe prime")
	cache := &mtproto.PrimeCache{OnVerified: func([]byte) { t.Error("a rejected prime was reported verified") }}
	mtproto.SetPrimeCheck(cache, func(int, *big.Int) error { return errNotSafe })
	c, err := dialPrimes(t, srv, addr, cache)
	if !errors.Is(err, errNotSafe) {
		if c != nil {
			_ = c.Close()
		}
		t.Fatalf("dial: %v, want the check's error", err)
	}
	if cache.Len() != 0 {
		t.Fatalf("%d primes cached after a failed check", cache.Len())
	}
}

// BenchmarkKeyExchangeCold and BenchmarkKeyExchangeWarm dial tgtest with a
// key exchange each iteration: cold with an empty PrimeCache (the primality
// check runs every time), warm with the server's prime cached. Compare
// ms/exchange; prime-checks/exchange shows what the warm cache skips.
//
//	go test -run '^$' -bench KeyExchange -benchtime 20x ./mtproto/
func BenchmarkKeyExchangeCold(b *testing.B) {
	benchKeyExchange(b, false)
}

func BenchmarkKeyExchangeWarm(b *testing.B) {
	benchKeyExchange(b, true)
}

func benchKeyExchange(b *testing.B, warm bool) {
	srv, addr := startServer(b, &app{}, tgtest.ServerOptions{})
	shared, checks := countingCache()
	if warm {
		c, err := dialPrimes(b, srv, addr, shared)
		if err != nil {
			b.Fatal(err)
		}
		_ = c.Close()
		*checks = 0
	}
	total := 0
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		cache := shared
		if !warm {
			cache, checks = countingCache()
		}
		c, err := dialPrimes(b, srv, addr, cache)
		if err != nil {
			b.Fatal(err)
		}
		_ = c.Close()
		total += *checks
		if warm {
			*checks = 0
		}
	}
	elapsed := time.Since(start)
	b.ReportMetric(float64(elapsed.Microseconds())/1000/float64(b.N), "ms/exchange")
	b.ReportMetric(float64(total)/float64(b.N), "prime-checks/exchange")
	if prime := shared.Export(); warm && len(prime) == 1 {
		// What each warm exchange skipped: the primality of p and (p-1)/2.
		b.StopTimer()
		p := new(big.Int).SetBytes(prime[0])
		t0 := time.Now()
		if !crypto.Prime(p) || !crypto.Prime(new(big.Int).Rsh(p, 1)) {
			b.Fatal("the server's prime is not safe")
		}
		b.ReportMetric(float64(time.Since(t0).Microseconds())/1000, "skipped-check-ms")
	}
}
