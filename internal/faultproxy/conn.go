package faultproxy

import (
	"errors"
	"math/rand/v2"
	"net"
)

// conn is one proxied connection: the client's socket, the target's, and
// the cut budget the two pumps share.
type conn struct {
	p      *Proxy
	id     uint64 // sequence number, 1-based, in accept order
	client net.Conn
	done   chan struct{} // closed by shut

	// Guarded by p.mu.
	server net.Conn // nil until the dial succeeds
	closed bool
	cut    budget
	cutRng *rand.Rand
}

// budget is an armed cut: the connection is cut as soon as left more bytes
// have been written in the directions dir.
type budget struct {
	armed bool
	dir   Direction
	left  int64
}

// Generator streams per connection (see the package doc on determinism).
const (
	rngToServer = 0
	rngToClient = 1
	rngCut      = 2
)

func newConn(p *Proxy, id uint64, client net.Conn) *conn {
	return &conn{
		p:      p,
		id:     id,
		client: client,
		done:   make(chan struct{}),
		cutRng: rand.New(rand.NewPCG(p.cfg.Seed, id<<2|rngCut)),
	}
}

// armLocked draws a budget from r. p.mu must be held. It reports whether
// the budget is already spent (the caller cuts, outside the lock).
func (c *conn) armLocked(r CutRule) bool {
	lo, hi := max(r.Min, 0), r.Max
	hi = max(hi, lo)
	dir := r.Dir & Both
	if dir == 0 {
		dir = Both
	}
	c.cut = budget{armed: true, dir: dir, left: lo + c.cutRng.Int64N(hi-lo+1)}
	return c.cut.left == 0
}

// run dials the target and forwards until the connection ends.
func (c *conn) run() {
	p := c.p
	defer p.wg.Done()
	p.mu.Lock()
	due := c.cut.armed && c.cut.left == 0
	p.mu.Unlock()
	if due {
		c.shut(true)
		return
	}
	server, err := p.dial()
	if err != nil {
		p.mu.Lock()
		if !p.closed {
			p.stats.DialFailed++
		}
		p.mu.Unlock()
		c.shut(false)
		return
	}
	if !c.attach(server) {
		_ = server.Close()
		return
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		c.pump(toClient, server, c.client)
	}()
	c.pump(toServer, c.client, server)
}

// attach records the target's socket, or reports false if the connection
// was closed during the dial.
func (c *conn) attach(server net.Conn) bool {
	c.p.mu.Lock()
	defer c.p.mu.Unlock()
	if c.closed {
		return false
	}
	c.server = server
	return true
}

// pump forwards one direction, then closes the whole connection: when one
// side ends, the proxy ends the other.
func (c *conn) pump(s stream, src, dst net.Conn) {
	err := c.forward(s, src, dst)
	if errors.Is(err, errBadStream) {
		c.p.mu.Lock()
		c.p.stats.BadStreams++
		c.p.mu.Unlock()
	}
	c.shut(false)
}

// shut closes both sockets once; fault says a fault caused it (counted in
// Stats.Cuts). Later calls do nothing.
func (c *conn) shut(fault bool) {
	p := c.p
	p.mu.Lock()
	if c.closed {
		p.mu.Unlock()
		return
	}
	c.closed = true
	delete(p.conns, c)
	if fault {
		p.stats.Cuts++
	}
	server := c.server
	p.notifyLocked()
	p.mu.Unlock()

	close(c.done)
	_ = c.client.Close()
	if server != nil {
		_ = server.Close()
	}
}

// write writes b (or, if the cut budget runs out within it, its prefix) to
// dst and counts it as a whole part k of stream s if all of it was written.
// It returns errCut once the budget is spent.
func (c *conn) write(s stream, dst net.Conn, b []byte, k part) error {
	p := c.p
	n := int64(len(b))
	cutNow := false
	p.mu.Lock()
	if c.cut.armed && c.cut.dir&s.dir() != 0 {
		if n >= c.cut.left {
			n, cutNow = c.cut.left, true
		}
		c.cut.left -= n
	}
	p.mu.Unlock()
	if n > 0 {
		w, err := dst.Write(b[:n])
		p.countWrite(s, k, w, w == len(b))
		if err != nil {
			return err
		}
	}
	if cutNow {
		c.shut(true)
		return errCut
	}
	return nil
}
