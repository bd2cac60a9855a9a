package tgsim

import (
	"math/rand/v2"
	"net"
	"slices"
	"sync"
	"time"

	"github.com/gotd/td/bin"
	"github.com/gotd/td/proto/codec"
)

// Faults that act on connections and frames: a silent connection
// (Blackhole), duplicated and replayed server frames, forgotten auth keys
// (-404) and the connection rate limit (-429).

// blackholed reports whether frames are to be dropped unread and nothing
// written (Faults.Blackhole).
func (s *Server) blackholed() bool { return s.faults.Load().Blackhole }

// keyForgotten reports whether Faults.NotFoundKeys names the auth key id.
func (s *Server) keyForgotten(id [8]byte) bool {
	return slices.Contains(s.faults.Load().NotFoundKeys, id)
}

// replayKeep is how many frames a connection keeps for Faults.ReplayFrames.
const replayKeep = 16

// echoFaults writes a frame again (Faults.DuplicateFrames), or an older
// one (Faults.ReplayFrames), after the frame b was written. Only the
// connection's writer calls it.
func (c *conn) echoFaults(b []byte) error {
	srv := c.srv
	f := srv.faults.Load()
	if f.DuplicateFrames > 0 && rand.Float64() < f.DuplicateFrames {
		srv.count.duplicatedFrames.Add(1)
		if err := c.tc.Send(srv.ctx, &bin.Buffer{Buf: slices.Clone(b)}); err != nil {
			return err
		}
	}
	if f.ReplayFrames > 0 && len(c.sent) > 0 && rand.Float64() < f.ReplayFrames {
		old := c.sent[rand.N(len(c.sent))]
		srv.count.replayedFrames.Add(1)
		if err := c.tc.Send(srv.ctx, &bin.Buffer{Buf: slices.Clone(old)}); err != nil {
			return err
		}
	}
	if f.ReplayFrames > 0 {
		c.sent = append(c.sent, slices.Clone(b))
		if len(c.sent) > replayKeep {
			c.sent = c.sent[1:]
		}
	}
	return nil
}

// addrLimiter holds the per-address connection budgets (Config.AddrConnRate).
type addrLimiter struct {
	rate Rate
	mu   sync.Mutex
	b    map[string]*addrBucket
}

type addrBucket struct {
	tokens float64
	last   time.Time
}

// admit spends one connection of addr's budget: false when it is empty.
func (l *addrLimiter) admit(addr net.Addr, now time.Time) bool {
	if l.rate.unlimited() {
		return true
	}
	host := addr.String()
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.b == nil {
		l.b = map[string]*addrBucket{}
	}
	b := l.b[host]
	if b == nil {
		b = &addrBucket{tokens: float64(l.rate.N), last: now}
		l.b[host] = b
	}
	if dt := now.Sub(b.last).Seconds(); dt > 0 {
		b.tokens = min(float64(l.rate.N), b.tokens+dt*float64(l.rate.N)/l.rate.Per.Seconds())
		b.last = now
	}
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// admitAddr applies Config.AddrConnRate to c's first frame: false (after
// answering -429) when its address has opened too many connections.
func (c *conn) admitAddr() bool {
	if c.admitted {
		return true
	}
	c.admitted = true
	s := c.srv
	if s.addrs.admit(c.raw.RemoteAddr(), s.cfg.Now()) {
		return true
	}
	s.count.err("transport_flood_addr")
	c.sendTransportError(codec.CodeTransportFlood)
	return false
}

// admitConn applies Config.ConnRate to a new connection of k: false when k
// has opened more than N connections within Window.
func (k *authKey) admitConn(now time.Time) bool {
	r := k.dc.srv.cfg.ConnRate
	if r.N <= 0 || r.Window <= 0 {
		return true
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	keep := k.connTimes[:0]
	for _, t := range k.connTimes {
		if now.Sub(t) < r.Window {
			keep = append(keep, t)
		}
	}
	k.connTimes = keep
	if len(keep) >= r.N {
		return false
	}
	k.connTimes = append(k.connTimes, now)
	return true
}
