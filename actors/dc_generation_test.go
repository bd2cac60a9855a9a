package actors

import (
	"context"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

// dcParent stands in for the scheduler actor: it spawns one DC actor,
// supervises it like the scheduler actor does, and hands what the DC actor
// tells it to the test.
type dcParent struct {
	deps  dcDeps
	addr  string
	child chan *actor.PID
	got   chan any
}

func (p *dcParent) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		p.child <- ctx.Spawn(actor.PropsFromProducer(func() actor.Actor { return newDCActor(p.deps, 2, p.addr) }))
	case *dcDownMsg, *dcConnectedMsg, *dcUpMsg, *lostMsg, *resultsMsg:
		p.got <- m
	}
}

// blockingDialer holds the first dial until its context ends.
type blockingDialer struct {
	dials   atomic.Int32
	holding chan struct{}
}

func (d *blockingDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	if d.dials.Add(1) == 1 {
		close(d.holding)
		<-ctx.Done()
		return nil, ctx.Err()
	}
	var nd net.Dialer
	return nd.DialContext(ctx, network, addr)
}

// A DC actor restarted by its supervisor takes no message of its previous
// life for its own: here the failed dial of the old life, which reaches the
// new one while it dials (it was taken for the new dial's failure: a
// spurious "DC down").
func TestRestartedDCActorIgnoresItsPreviousLife(t *testing.T) {
	w := newWorld()
	_, cfg := startWorld(t, w)
	dialer := &blockingDialer{holding: make(chan struct{})}
	cfg.Dialer = dialer
	cfg, err := cfg.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	system := actor.NewActorSystem()
	defer system.Shutdown()
	deps := newDeps(cfg, system.Root, func() {}, nil).dc
	p := &dcParent{deps: deps, addr: cfg.DCs[2], child: make(chan *actor.PID, 1), got: make(chan any, 100)}
	parent := system.Root.Spawn(actor.PropsFromProducer(func() actor.Actor { return p },
		actor.WithSupervisor(dcSupervisor(10*time.Millisecond, time.Minute))))
	defer func() { _ = system.Root.StopFuture(parent).Wait() }()
	child := <-p.child
	<-dialer.holding
	system.Root.Send(child, &panicMsg{}) // fails while its first dial runs
	timeout := time.After(10 * time.Second)
	for {
		select {
		case m := <-p.got:
			switch m := m.(type) {
			case *dcDownMsg:
				t.Fatalf("restarted actor took a message of its previous life: DC down: %v", m.err)
			case *dcConnectedMsg:
				if n := dialer.dials.Load(); n != 2 {
					t.Fatalf("%d dials, want 2", n)
				}
				return
			}
		case <-timeout:
			t.Fatal("restarted DC actor never connected")
		}
	}
}
