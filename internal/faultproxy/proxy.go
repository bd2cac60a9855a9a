package faultproxy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"
)

// Config configures a Proxy. The zero value is ready to use.
type Config struct {
	// Seed seeds every random choice (cut offsets, frame faults); see the
	// package doc. Zero is a valid seed like any other.
	Seed uint64
	// DialTimeout bounds the dial to the target for each connection
	// accepted; a connection whose dial fails is closed and counted in
	// Stats.DialFailed. Zero means 5 seconds.
	DialTimeout time.Duration
}

const defaultDialTimeout = 5 * time.Second

// Proxy is a running fault-injecting proxy; create one with Start. Its
// methods are safe for concurrent use.
type Proxy struct {
	target string
	cfg    Config
	ln     net.Listener
	ctx    context.Context // cancelled by Close: ends dials and delays
	cancel context.CancelFunc
	wg     sync.WaitGroup // accept loop and every connection goroutine

	mu       sync.Mutex
	closed   bool
	conns    map[*conn]struct{}
	nextID   uint64
	silence  Direction
	refuse   bool
	faults   [2]FrameFaults // by stream index
	cutEvery *CutRule       // armed on every new connection
	cutNext  *CutRule       // armed on the next new connection only
	stats    Stats
	changed  chan struct{} // closed and replaced when stats change
}

// Start listens on 127.0.0.1 on a port chosen by the system and forwards
// every connection accepted to target (host:port). Call Close to stop it.
func Start(target string, cfg Config) (*Proxy, error) {
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = defaultDialTimeout
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("faultproxy: listen: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &Proxy{
		target:  target,
		cfg:     cfg,
		ln:      ln,
		ctx:     ctx,
		cancel:  cancel,
		conns:   make(map[*conn]struct{}),
		changed: make(chan struct{}),
	}
	p.wg.Add(1)
	go p.acceptLoop()
	return p, nil
}

// Addr returns the address clients dial (127.0.0.1:port).
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Target returns the address the proxy forwards to.
func (p *Proxy) Target() string { return p.target }

// Close stops accepting, closes every connection (both sockets) and waits
// for every goroutine of the proxy to end. Connections it closes are not
// counted as cuts. Close is idempotent; it returns nil.
// TestCloseLeavesNoGoroutines proves it with a frame in a long delay and a
// silenced connection open.
func (p *Proxy) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	open := p.openLocked()
	p.mu.Unlock()

	p.cancel()
	_ = p.ln.Close()
	for _, c := range open {
		c.shut(false)
	}
	p.wg.Wait()
	return nil
}

// acceptLoop accepts until the listener is closed; a connection accepted
// while Refuse is on is closed at once.
func (p *Proxy) acceptLoop() {
	defer p.wg.Done()
	for {
		nc, err := p.ln.Accept()
		if err != nil {
			// net.ErrClosed after Close; any other accept error also ends
			// the proxy's accepting, which a test sees as refused dials.
			return
		}
		c := p.register(nc)
		if c == nil {
			continue
		}
		p.wg.Add(1)
		go c.run()
	}
}

// register counts an accepted connection and returns it, or closes it and
// returns nil if the proxy is closed or refusing.
func (p *Proxy) register(nc net.Conn) *conn {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		_ = nc.Close()
		return nil
	}
	p.stats.Accepted++
	if p.refuse {
		p.stats.Refused++
		p.notifyLocked()
		_ = nc.Close()
		return nil
	}
	p.nextID++
	c := newConn(p, p.nextID, nc)
	p.conns[c] = struct{}{}
	rule := p.cutEvery
	if p.cutNext != nil {
		rule, p.cutNext = p.cutNext, nil
	}
	if rule != nil {
		// A budget of zero is honoured by run, outside the lock.
		c.armLocked(*rule)
	}
	p.notifyLocked()
	return c
}

// openLocked returns the open connections. p.mu must be held.
func (p *Proxy) openLocked() []*conn {
	open := make([]*conn, 0, len(p.conns))
	for c := range p.conns {
		open = append(open, c)
	}
	return open
}

// dial connects to the target for one connection.
func (p *Proxy) dial() (net.Conn, error) {
	d := net.Dialer{Timeout: p.cfg.DialTimeout}
	nc, err := d.DialContext(p.ctx, "tcp", p.target)
	if err != nil {
		return nil, fmt.Errorf("faultproxy: dial %s: %w", p.target, err)
	}
	return nc, nil
}

// errCut ends a pump whose connection was cut by a fault.
var errCut = errors.New("faultproxy: connection cut")
