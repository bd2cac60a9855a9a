package actors

import (
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gotd/td/tg"
)

// An account idle for Config.IdleTimeout closes its connection and opens
// one again on its next call; an account with an UpdateHandler stays
// connected.
func TestFleetIdleAccountClosesConnections(t *testing.T) {
	srv, f, _ := fleetSim(t, 2)
	ctx := shortCtx(t, 30*time.Second)
	idle, hooked := &closeCounter{}, &closeCounter{}
	a, err := f.Add(ctx, "idle", AccountConfig{Config: Config{Dialer: idle, IdleTimeout: 100 * time.Millisecond, DialLimits: []DialLimit{}}})
	if err != nil {
		t.Fatal(err)
	}
	b, err := f.Add(ctx, "hooked", AccountConfig{Config: Config{Dialer: hooked, IdleTimeout: 100 * time.Millisecond, DialLimits: []DialLimit{},
		UpdateHandler: updateFunc(func(context.Context, tg.UpdatesClass) error { return nil })}})
	if err != nil {
		t.Fatal(err)
	}
	getConfig := &tg.HelpGetConfigRequest{}
	for _, c := range []*Client{a, b} {
		if _, err := c.Call(ctx, getConfig); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, func() bool { return idle.closed.Load() == 1 })
	if hooked.closed.Load() != 0 {
		t.Fatal("the account with an UpdateHandler closed its connection")
	}
	before := srv.Counters()
	if _, err := a.Call(ctx, getConfig); err != nil {
		t.Fatalf("call after idle stop: %v", err)
	}
	// The idle stop saved the salts with the key: the new connection (a
	// new MTProto session, as after a process restart) uses them at once.
	after := srv.Counters()
	if n := after.NewSessions - before.NewSessions; n != 1 {
		t.Fatalf("%d new sessions after the reopen, want 1", n)
	}
	if n := after.Errors["bad_server_salt"] - before.Errors["bad_server_salt"]; n != 0 {
		t.Fatalf("%d bad_server_salt after the reopen, want 0", n)
	}
	if n := idle.dials.Load(); n != 2 {
		t.Fatalf("%d dials, want 2", n)
	}
	// The Fleet's IdleTimeout applies to an account that sets none; a
	// negative one opts out.
	if c, _ := f.Add(ctx, "x", AccountConfig{}); c.cfg.IdleTimeout != 0 {
		t.Fatalf("IdleTimeout %v without a Fleet default", c.cfg.IdleTimeout)
	}
	f.cfg.IdleTimeout = time.Minute
	if c, _ := f.Add(ctx, "y", AccountConfig{}); c.cfg.IdleTimeout != time.Minute {
		t.Fatalf("IdleTimeout %v, want the Fleet's", c.cfg.IdleTimeout)
	}
	if c, _ := f.Add(ctx, "z", AccountConfig{Config: Config{IdleTimeout: -1}}); c.cfg.IdleTimeout != -1 {
		t.Fatalf("IdleTimeout %v, want -1", c.cfg.IdleTimeout)
	}
	// The hooked account never armed its idle timer, while the idle one
	// armed and fired its own (twice: before and after the reopen).
	waitFor(t, func() bool { return a.idleSeen.fired.Load() >= 2 })
	if n := b.idleSeen.armed.Load(); n != 0 {
		t.Fatalf("the account with an UpdateHandler armed its idle timer %d times", n)
	}
	if hooked.closed.Load() != 0 || hooked.dials.Load() != 1 {
		t.Fatalf("hooked: %d dials, %d closed; want 1, 0", hooked.dials.Load(), hooked.closed.Load())
	}
}

type updateFunc func(context.Context, tg.UpdatesClass) error

func (f updateFunc) Handle(ctx context.Context, u tg.UpdatesClass) error { return f(ctx, u) }

// closeCounter dials directly, counting dials and the closes of the
// connections it opened.
type closeCounter struct {
	net.Dialer
	dials, closed atomic.Int64
	mu            sync.Mutex
	at            []time.Time // when each dial succeeded
}

func (c *closeCounter) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	conn, err := c.Dialer.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	c.dials.Add(1)
	c.mu.Lock()
	c.at = append(c.at, time.Now())
	c.mu.Unlock()
	return &countedConn{Conn: conn, closed: &c.closed}, nil
}

type countedConn struct {
	net.Conn
	once   atomic.Bool
	closed *atomic.Int64
}

func (c *countedConn) Close() error {
	if !c.once.Swap(true) {
		c.closed.Add(1)
	}
	return c.Conn.Close()
}

// Reopening after an idle stop keeps to Config.DialLimits: the DC's
// openings outlive the DC actor that the idle stop ended.
func TestFleetIdleReopenKeepsDialLimits(t *testing.T) {
	_, f, _ := fleetSim(t, 1)
	ctx := shortCtx(t, 30*time.Second)
	dialer := &closeCounter{}
	c, err := f.Add(ctx, "a", AccountConfig{Config: Config{Dialer: dialer, IdleTimeout: 50 * time.Millisecond,
		DialLimits: []DialLimit{{N: 1, Per: time.Second}}}})
	if err != nil {
		t.Fatal(err)
	}
	getConfig := &tg.HelpGetConfigRequest{}
	if _, err := c.Call(ctx, getConfig); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return dialer.closed.Load() == 1 })
	if _, err := c.Call(ctx, getConfig); err != nil {
		t.Fatal(err)
	}
	dialer.mu.Lock()
	defer dialer.mu.Unlock()
	if len(dialer.at) != 2 {
		t.Fatalf("%d dials, want 2", len(dialer.at))
	}
	// The limiter counts from the dial's start, a little before it
	// succeeded.
	if gap := dialer.at[1].Sub(dialer.at[0]); gap < 900*time.Millisecond {
		t.Fatalf("reopened %v after the first dial; DialLimits allow 1 per 1 s", gap)
	}
}

// An idle stop leaves a DC in an outage its DC actor, which ends the
// outage: a call made once the DC is reachable again goes through,
// instead of being held back with no actor to reconnect.
func TestFleetIdleKeepsDCActorInOutage(t *testing.T) {
	_, f, _ := fleetSim(t, 1)
	ctx := shortCtx(t, 30*time.Second)
	dialer := &flakyDialer{}
	c, err := f.Add(ctx, "a", AccountConfig{Config: Config{Dialer: dialer, IdleTimeout: 50 * time.Millisecond,
		DialLimits: []DialLimit{}, RedialBackoff: 20 * time.Millisecond, RedialBackoffMax: 50 * time.Millisecond,
		OutageTimeout: 20 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	getConfig := &tg.HelpGetConfigRequest{}
	if _, err := c.Call(ctx, getConfig); err != nil {
		t.Fatal(err)
	}
	dialer.down.Store(true)
	dialer.cut()
	waitFor(t, func() bool { return dialer.refused.Load() >= 1 }) // redialling, in an outage
	// Idle timers fire during the outage and keep the DC actor.
	fired := c.idleSeen.fired.Load()
	waitFor(t, func() bool { return c.idleSeen.fired.Load() >= fired+2 })
	dialer.down.Store(false)
	callCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := c.Call(callCtx, getConfig); err != nil {
		t.Fatalf("call after the outage: %v", err)
	}
}

// flakyDialer dials directly unless down, and can cut what it opened.
type flakyDialer struct {
	net.Dialer
	down    atomic.Bool
	refused atomic.Int64
	mu      sync.Mutex
	conns   []net.Conn
}

func (d *flakyDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	if d.down.Load() {
		d.refused.Add(1)
		return nil, errors.New("flaky dialer: down")
	}
	conn, err := d.Dialer.DialContext(ctx, network, addr)
	if err == nil {
		d.mu.Lock()
		d.conns = append(d.conns, conn)
		d.mu.Unlock()
	}
	return conn, err
}

func (d *flakyDialer) cut() {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, c := range d.conns {
		c.Close()
	}
	d.conns = nil
}
