package bench

import (
	"context"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/gotd/td/crypto"
	"github.com/gotd/td/exchange"
	"github.com/gotd/td/tg"

	"github.com/tlsched/tlsched/actors"
)

// The fleet bench's idle rows (heap and goroutines per idle account) and
// its bring-up times; fleet.go runs and renders them.

// seededStore is an account's MemoryStore that starts with the key tgsim
// prepared for it (DC 2, the only DC served) and the verified primes
// given: what a BoltDB namespace holds after an earlier run.
type seededStore struct {
	*actors.MemoryStore
	key  crypto.AuthKey
	salt int64
	has  bool
}

func newSeededStore(key crypto.AuthKey, salt int64, has bool, primes [][]byte) *seededStore {
	m := actors.NewMemoryStore()
	for _, p := range primes {
		_ = m.SavePrime(p)
	}
	return &seededStore{MemoryStore: m, key: key, salt: salt, has: has}
}

// Load returns what was saved, else the prepared key for DC 2 (records are
// named "2@<server>").
func (s *seededStore) Load(dc string) (crypto.AuthKey, int64, bool, error) {
	if k, salt, ok, err := s.MemoryStore.Load(dc); ok || err != nil {
		return k, salt, ok, err
	}
	if s.has && strings.HasPrefix(dc, "2@") {
		return s.key, s.salt, true, nil
	}
	return crypto.AuthKey{}, 0, false, nil
}

// idleRow is one state of n idle accounts.
type idleRow struct {
	Accounts   int
	State      string
	HeapBytes  float64 // per account, over the Fleet with no account
	Goroutines float64 // per account
	Conns      int64   // connections tgsim accepted while the accounts came up
}

const (
	stateNever     = "added, never connected"
	stateConnected = "connected (one call, one connection open)"
	stateIdle      = "idle-stopped (connection closed)"
)

// liveSnapshot returns the live heap and the goroutine count after GCs.
func liveSnapshot() (heap int64, goroutines int) {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc), runtime.NumGoroutine()
}

// idleRows measures n accounts of one Fleet added, then connected; and of
// another Fleet with IdleTimeout idle, once their connections closed.
func idleRows(sim *fleetSim, n int, idle time.Duration) ([]idleRow, error) {
	var rows []idleRow
	for _, withIdle := range []bool{false, true} {
		ctx := context.Background()
		stores := make([]*seededStore, n)
		for i := range stores {
			k, salt := sim.authKey(i)
			stores[i] = newSeededStore(k, salt, true, nil)
		}
		cfg := actors.FleetConfig{DCs: map[int]string{2: sim.hello.Addr}, PublicKeys: []exchange.PublicKey{sim.key}, ConnsPerSecond: sim.conns}
		if withIdle {
			cfg.IdleTimeout = idle
		}
		fleet, err := actors.NewFleet(ctx, cfg)
		if err != nil {
			return nil, err
		}
		// A first account, connected and removed before the baseline, pays
		// what the process makes once (gotd's and tlsched's lazily built
		// tables, the ActorSystem's first children): not per account.
		k, salt := sim.authKey(0)
		warm, err := fleet.Add(ctx, "warm", actors.AccountConfig{Config: actors.Config{Store: newSeededStore(k, salt, true, nil)}})
		if err == nil {
			err = firstCalls(ctx, []*actors.Client{warm})
		}
		if err == nil {
			err = fleet.Remove(ctx, "warm")
		}
		if err != nil {
			fleet.Close(ctx)
			return nil, fmt.Errorf("warm-up account: %w", err)
		}
		c0, err := sim.counters()
		if err != nil {
			fleet.Close(ctx)
			return nil, err
		}
		heap0, g0 := liveSnapshot()
		clients := make([]*actors.Client, n)
		for i := range n {
			if clients[i], err = fleet.Add(ctx, "bot"+strconv.Itoa(i), actors.AccountConfig{Config: actors.Config{Store: stores[i]}}); err != nil {
				fleet.Close(ctx)
				return nil, err
			}
		}
		row := func(state string) (idleRow, error) {
			heap, g := liveSnapshot()
			c, err := sim.counters()
			return idleRow{Accounts: n, State: state, HeapBytes: float64(heap-heap0) / float64(n), Goroutines: float64(g-g0) / float64(n),
				Conns: c.Connections - c0.Connections}, err
		}
		if !withIdle {
			r, err := row(stateNever)
			if err != nil {
				fleet.Close(ctx)
				return nil, err
			}
			rows = append(rows, r)
		}
		if err := firstCalls(ctx, clients); err != nil {
			fleet.Close(ctx)
			return nil, err
		}
		state := stateConnected
		if withIdle {
			state = stateIdle
			// Wait for the idle stops: the goroutine count back to the
			// Fleet's (each open connection has its reader).
			deadline := time.Now().Add(idle + 30*time.Second)
			for time.Now().Before(deadline) && runtime.NumGoroutine() > g0 {
				time.Sleep(idle / 2)
			}
		}
		time.Sleep(200 * time.Millisecond) // acks and salts settle
		r, err := row(state)
		if err != nil {
			fleet.Close(ctx)
			return nil, err
		}
		rows = append(rows, r)
		if err := fleet.Close(ctx); err != nil {
			return nil, err
		}
	}
	return rows, nil
}

// firstCalls makes one help.getConfig per client, all at once.
func firstCalls(ctx context.Context, clients []*actors.Client) error {
	return eachClient(ctx, clients, func(ctx context.Context, _ int, c *actors.Client) error {
		var cfg tg.Config
		return c.Invoke(ctx, &tg.HelpGetConfigRequest{}, &cfg)
	})
}

// bringUpRow is the time n accounts took to come up.
type bringUpRow struct {
	Accounts     int
	Exchange     bool
	AddS         float64 // NewFleet and every Add
	FirstCallS   float64 // from NewFleet to the last first call answered
	KeyExchanges int64   // tgsim's count over the run
}

// bringUp times NewFleet, n Adds and a first call per account (all at
// once): with keys tgsim prepared, or (exchange) with none, each account
// making its key, its store holding the prime an earlier exchange
// verified (as a Fleet's BoltDB keeps it).
func bringUp(sim *fleetSim, n int, withExchange bool) (bringUpRow, error) {
	ctx := context.Background()
	cfg := actors.FleetConfig{DCs: map[int]string{2: sim.hello.Addr}, PublicKeys: []exchange.PublicKey{sim.key}, ConnsPerSecond: sim.conns}
	var primes [][]byte
	if withExchange {
		// One exchange first, outside the timing, verifies the prime.
		warm := newSeededStore(crypto.AuthKey{}, 0, false, nil)
		fleet, err := actors.NewFleet(ctx, cfg)
		if err != nil {
			return bringUpRow{}, err
		}
		c, err := fleet.Add(ctx, "warm", actors.AccountConfig{Config: actors.Config{Store: warm}})
		if err == nil {
			err = firstCalls(ctx, []*actors.Client{c})
		}
		fleet.Close(ctx)
		if err != nil {
			return bringUpRow{}, err
		}
		if primes, err = warm.LoadPrimes(); err != nil || len(primes) == 0 {
			return bringUpRow{}, fmt.Errorf("no verified prime kept (%v)", err)
		}
	}
	stores := make([]*seededStore, n)
	for i := range stores {
		k, salt := sim.authKey(i)
		stores[i] = newSeededStore(k, salt, !withExchange, primes)
	}
	c0, err := sim.counters()
	if err != nil {
		return bringUpRow{}, err
	}
	start := time.Now()
	fleet, err := actors.NewFleet(ctx, cfg)
	if err != nil {
		return bringUpRow{}, err
	}
	defer fleet.Close(ctx)
	clients := make([]*actors.Client, n)
	for i := range n {
		if clients[i], err = fleet.Add(ctx, "bot"+strconv.Itoa(i), actors.AccountConfig{Config: actors.Config{Store: stores[i]}}); err != nil {
			return bringUpRow{}, err
		}
	}
	added := time.Since(start)
	if err := firstCalls(ctx, clients); err != nil {
		return bringUpRow{}, err
	}
	row := bringUpRow{Accounts: n, Exchange: withExchange, AddS: added.Seconds(), FirstCallS: time.Since(start).Seconds()}
	c1, err := sim.counters()
	row.KeyExchanges = c1.KeyExchanges - c0.KeyExchanges
	return row, err
}
