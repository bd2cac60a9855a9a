package mtproto

import (
	"math/big"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// telegramPrime is the dh_prime Telegram's servers (and gotd's tgtest) send,
// from MTProto's documentation; a safe prime, p mod 3 = 2 and p mod 8 = 7.
const telegramPrime = "C71CAEB9C6B1C9048E6C522F70F13F73980D40238E3E21C14934D037563D930F" +
	"48198A0AA7C14058229493D22530F4DBFA336F6E0AC925139543AED44CCE7C37" +
	"20FD51F69458705AC68CD4FE6B6B13ABDC9746512969328454F18FAF8C595F64" +
	"2477FE96BB2A941D5BCD1D4AC8CC49880708FA9B378E3C4F3A9060BEE67CF9A4" +
	"A4A695811051907E162753B56B0F6B410DBA74D8A84B2A14B3144E0EF1284754" +
	"FD17ED950D5965B4B9DD46582DB1178D169C6BC465B0D6FF9CA3928FEF5B9AE4" +
	"E418FC15E83EBEA0F87FA9FF5EED70050DED2849F47BF959D956850CE929851F" +
	"0D8115F635B105EE2E4E15D04B2454BF6F4FADF034B10403119CD8E3B92FCC5B"

// unsafePrime is a 2048-bit prime with p mod 8 = 7 (so g = 2 passes the
// cheap checks) whose (p-1)/2 is not prime, made with crypto/rand.Prime.
const unsafePrime = "F2C5D8471038688F6402B2CCF5CF8D473532F56575ECC48843F1BC4768ACB971" +
	"1B13ADF0B9CD6DF84E1945752916A592269955254A74439AC6C26567C4662561" +
	"FDE4B308258DFBA2B78FCE15DF08C64800399B48AE2C270505C2165D3C3A2618" +
	"7E193244038843C55C9D5FFA9A4753D219EFA2B69EB2CF685B62F3CF5F1FF55A" +
	"134490D8C5920D5AC7B9AF51C8D385A4504874B4ABBCB4FC83E3638544A68CD7" +
	"62B2D13BFAD9004213B670B0B652C287BB2AE5E6074FAE57174B8C0EF85CB19E" +
	"A4417CAACA5856518325133D970F92A88C63589BE85355BEAC424C4C932CC3EC" +
	"F9170694A3F08E5C9ACA2757F3D4C2F378598862F41199EED85440A73508F43F"

func hexInt(t *testing.T, s string) *big.Int {
	t.Helper()
	p, ok := new(big.Int).SetString(s, 16)
	if !ok {
		t.Fatalf("bad hex %q", s)
	}
	return p
}

// TestPrimeCacheCheck runs the real check (crypto.CheckDH) on primes not in
// the cache, with and without a cache.
func TestPrimeCacheCheck(t *testing.T) {
	safe := hexInt(t, telegramPrime)
	composite := new(big.Int).Add(safe, big.NewInt(24)) // same residues mod 8 and 3
	for _, tc := range []struct {
		name string
		g    int
		p    *big.Int
		want string // error substring, "" for accepted
	}{
		{"safe prime", 3, safe, ""},
		{"prime, (p-1)/2 composite", 2, hexInt(t, unsafePrime), "(p-1)/2 is not prime"},
		{"composite", 3, composite, "p is not prime"},
		{"g not a quadratic residue", 5, safe, "quadratic residue"},
		{"short", 3, new(big.Int).Rsh(safe, 1), "2048-bit"},
	} {
		for _, cache := range []*PrimeCache{nil, {}} {
			err := cache.checkDH(tc.g, tc.p)
			if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Errorf("%s (cache %v): got %v, want %q", tc.name, cache != nil, err, tc.want)
			}
			wantCached := 0
			if tc.want == "" {
				wantCached = 1
			}
			if cache != nil && cache.Len() != wantCached {
				t.Errorf("%s: %d primes cached, want %d", tc.name, cache.Len(), wantCached)
			}
		}
	}
}

// TestPrimeCacheCheapChecksStillRun: a cached prime skips only the
// primality check; bit length and g's condition are checked every time.
func TestPrimeCacheCheapChecksStillRun(t *testing.T) {
	safe := hexInt(t, telegramPrime)
	short := new(big.Int).Rsh(safe, 1)
	var c PrimeCache
	c.Import(safe.Bytes(), short.Bytes())
	SetPrimeCheck(&c, func(int, *big.Int) error {
		t.Error("full check ran on a cached prime")
		return nil
	})
	if err := c.checkDH(3, safe); err != nil {
		t.Fatalf("cached safe prime, g = 3: %v", err)
	}
	if err := c.checkDH(5, safe); err == nil {
		t.Error("cached prime accepted with g = 5, which is not a quadratic residue mod p")
	}
	if err := c.checkDH(3, short); err == nil {
		t.Error("cached 2047-bit number accepted")
	}
}

// TestPrimeCacheImportExport: Export gives back what Import and the checks
// added, with leading zero bytes dropped; OnVerified fires once per new
// prime, not for imports.
func TestPrimeCacheImportExport(t *testing.T) {
	safe := hexInt(t, telegramPrime)
	var reported int
	c := PrimeCache{OnVerified: func([]byte) { reported++ }}
	SetPrimeCheck(&c, func(int, *big.Int) error { return nil })
	c.Import(append([]byte{0}, safe.Bytes()...))
	if err := c.checkDH(3, safe); err != nil || reported != 0 {
		t.Fatalf("imported prime: err %v, %d reported", err, reported)
	}
	other := hexInt(t, unsafePrime) // the stub check accepts it
	for i := 0; i < 2; i++ {
		if err := c.checkDH(2, other); err != nil {
			t.Fatal(err)
		}
	}
	if reported != 1 {
		t.Fatalf("%d reports for one new prime", reported)
	}
	got := c.Export()
	if len(got) != 2 {
		t.Fatalf("exported %d primes, want 2", len(got))
	}
	var d PrimeCache
	d.Import(got...)
	if d.Len() != 2 || !d.has(string(safe.Bytes())) || !d.has(string(other.Bytes())) {
		t.Fatal("export and import lost a prime")
	}
}

// Accounts that start together meet one new prime at once: through caches
// sharing a process's, the full check runs once, the others wait for it,
// and every cache then knows the prime.
func TestPrimeCacheSharedChecksOnce(t *testing.T) {
	var shared PrimeCache
	var checks atomic.Int32
	release := make(chan struct{})
	caches := make([]*PrimeCache, 8)
	for i := range caches {
		caches[i] = &PrimeCache{Shared: &shared}
		SetPrimeCheck(caches[i], func(g int, p *big.Int) error {
			checks.Add(1)
			<-release // held until every cache is asking
			return nil
		})
	}
	safe := hexInt(t, telegramPrime)
	var started, done sync.WaitGroup
	errs := make([]error, len(caches))
	for i, c := range caches {
		started.Add(1)
		done.Add(1)
		go func() {
			defer done.Done()
			started.Done()
			errs[i] = c.checkDH(3, safe)
		}()
	}
	started.Wait()
	close(release)
	done.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("cache %d: %v", i, err)
		}
	}
	// A goroutine may reach checkDH after the first check ended: it finds
	// the prime in the shared cache. Either way, one check.
	if n := checks.Load(); n != 1 {
		t.Fatalf("%d full checks for one prime, want 1", n)
	}
	for i, c := range caches {
		if c.Len() != 1 {
			t.Fatalf("cache %d knows %d primes, want 1", i, c.Len())
		}
	}
	if later := (&PrimeCache{Shared: &shared}); later.checkDH(3, safe) != nil || later.Len() != 1 {
		t.Fatalf("a later cache sharing the process's does not know the prime")
	}
}
