package actors

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gotd/td/exchange"
	"github.com/gotd/td/tg"

	"github.com/tlsched/tlsched/tgsim"
)

// BenchmarkIdleAccounts measures what an idle account costs: heap bytes
// and goroutines per account, at 1, 100 and 1,000 accounts, as
//
//   - start: one Client of Start per account (each with its own actor
//     system, as before Fleet), at 1 and 100 accounts only: about 2.9 MB
//     each, the same at 100 as at 1,000, where the 2.9 GB took 35 s
//     under -race;
//   - fleet: one Fleet, an account per Client (no call made: no
//     connection is open);
//   - fleet-connected: one Fleet against tgsim, each account with a key
//     prepared in its Store (Server.PrepareKey: no key exchange) and one
//     call made, so one connection open per account;
//   - fleet-idle: as fleet-connected, with Config.IdleTimeout 50 ms, measured
//     once the accounts have closed their connections.
//
// Run it once per size (each iteration builds and tears down the accounts):
//
//	go test -run XXX -bench IdleAccounts -benchtime 1x ./actors
func BenchmarkIdleAccounts(b *testing.B) {
	for _, mode := range []string{"start", "fleet", "fleet-connected", "fleet-idle"} {
		for _, n := range []int{1, 100, 1000} {
			if mode == "start" && n > 100 {
				continue
			}
			b.Run(fmt.Sprintf("%s/accounts=%d", mode, n), func(b *testing.B) {
				for range b.N {
					benchIdle(b, mode, n)
				}
			})
		}
	}
}

// benchIdle brings up n accounts in mode, measures, and tears them down.
func benchIdle(b *testing.B, mode string, n int) {
	ctx := context.Background()
	var (
		srv  *tgsim.Server
		dcs  = map[int]string{1: "127.0.0.1:1", 2: "127.0.0.1:2"}
		keys []exchange.PublicKey
	)
	connect := mode == "fleet-connected" || mode == "fleet-idle"
	var idleTimeout time.Duration
	if mode == "fleet-idle" {
		idleTimeout = 50 * time.Millisecond
	}
	if connect {
		var err error
		srv, err = tgsim.Start(tgsim.Config{Key: serverKey(), Latency: tgsim.NoLatency, Flood: tgsim.FloodConfig{Off: true}})
		if err != nil {
			b.Fatal(err)
		}
		defer srv.Close()
		dcs = srv.DCAddrs()
		keys = []exchange.PublicKey{srv.PublicKey()}
	}
	// Prepare what each account is given before measuring.
	stores := make([]Store, n)
	for i := range stores {
		m := NewMemoryStore()
		if srv != nil {
			home := srv.Bot().DC
			key, salt, err := srv.PrepareKey(home)
			if err != nil {
				b.Fatal(err)
			}
			if err := m.Save(storeName(home, serverID(keys)), key, salt); err != nil {
				b.Fatal(err)
			}
			if err := m.SaveHomeDC(storeName(home, serverID(keys))); err != nil {
				b.Fatal(err)
			}
		}
		stores[i] = m
	}

	heap0, g0 := idleSnapshot()
	sim0 := simGoroutines()
	var (
		clients []*Client
		fleet   *Fleet
	)
	switch mode {
	case "start":
		for i := range n {
			c, err := Start(ctx, Config{DCs: dcs, Store: stores[i]})
			if err != nil {
				b.Fatal(err)
			}
			clients = append(clients, c)
		}
	default:
		var err error
		fleet, err = NewFleet(ctx, FleetConfig{DCs: dcs, PublicKeys: keys, ConnsPerSecond: -1})
		if err != nil {
			b.Fatal(err)
		}
		for i := range n {
			c, err := fleet.Add(ctx, fmt.Sprintf("acct%d", i), AccountConfig{Config: Config{Store: stores[i], DialLimits: []DialLimit{}, IdleTimeout: idleTimeout}})
			if err != nil {
				b.Fatal(err)
			}
			clients = append(clients, c)
		}
	}
	if connect {
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for _, c := range clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				cctx, cancel := context.WithTimeout(ctx, time.Minute)
				defer cancel()
				var cfg tg.Config
				if err := c.Invoke(cctx, &tg.HelpGetConfigRequest{}, &cfg); err != nil {
					errs <- err
				}
			}()
		}
		wg.Wait()
		close(errs)
		if err := <-errs; err != nil {
			b.Fatal(err)
		}
		time.Sleep(200 * time.Millisecond) // let acks and the first salts settle (and idle accounts close)
	}
	heap1, g1 := idleSnapshot()
	sim := simGoroutines() - sim0
	// The heap figure includes tgsim's share when it runs (its per-key and
	// per-connection state): an upper bound for the client's.
	b.ReportMetric(float64(heap1-heap0)/float64(n), "bytes/account")
	b.ReportMetric(float64(g1-g0-sim)/float64(n), "goroutines/account")
	if srv != nil {
		b.ReportMetric(float64(sim)/float64(n), "sim-goroutines/account")
	}

	if fleet != nil {
		if err := fleet.Close(ctx); err != nil {
			b.Fatal(err)
		}
		return
	}
	for _, c := range clients {
		if err := c.Close(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// simGoroutines counts the goroutines running tgsim's code: the server's
// share, apart from the accounts'.
func simGoroutines() int {
	buf := make([]byte, 64<<20)
	buf = buf[:runtime.Stack(buf, true)]
	n := 0
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "tlsched/tgsim.") {
			n++
		}
	}
	return n
}

// idleSnapshot returns the live heap and the goroutine count after a GC.
func idleSnapshot() (heap int64, goroutines int) {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc), runtime.NumGoroutine()
}
