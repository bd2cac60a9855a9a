package actors

import (
	"context"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gotd/td/tg"
)

// An account idle for Config.IdleTimeout closes its connection and opens
// one again on its next call; an account with an UpdateHandler stays
// connected.
func TestFleetIdleAccountClosesConnections(t *testing.T) {
	_, f, _ := fleetSim(t, 2)
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
	if _, err := a.Call(ctx, getConfig); err != nil {
		t.Fatalf("call after idle stop: %v", err)
	}
	if n := idle.dials.Load(); n != 2 {
		t.Fatalf("%d dials, want 2", n)
	}
	time.Sleep(300 * time.Millisecond)
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
}

func (c *closeCounter) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	conn, err := c.Dialer.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	c.dials.Add(1)
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
