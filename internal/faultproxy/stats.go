package faultproxy

import (
	"context"
	"fmt"
)

// Stats are the proxy's counters since Start.
type Stats struct {
	// Accepted counts connections accepted, refused ones included.
	Accepted int
	// Refused counts connections closed at once because Refuse was on.
	Refused int
	// DialFailed counts connections closed because the target could not be
	// dialled.
	DialFailed int
	// Open is the number of connections open now (from accept, before the
	// target is dialled, until closed).
	Open int
	// Cuts counts connections closed by a fault: Cut, CutAfter, Refuse.
	// Closes by a peer, by Close or for a bad stream are not cuts.
	Cuts int
	// BadStreams counts connections closed for breaking the intermediate
	// framing (another tag, a bad length).
	BadStreams int
	// ToServer and ToClient count each direction.
	ToServer, ToClient Flow
}

// Flow counts one direction.
type Flow struct {
	// Frames counts frames forwarded whole, copies not included.
	Frames int
	// Bytes counts bytes written: length prefixes, the client's tag,
	// copies and partial writes included.
	Bytes int64
	// Dropped counts frames discarded by Silence.
	Dropped int
	// Duplicated and Replayed count copies written whole.
	Duplicated, Replayed int
	// Delayed counts frames held back by a delay.
	Delayed int
}

// flow returns the counters of stream s.
func (s *Stats) flow(st stream) *Flow {
	if st == toServer {
		return &s.ToServer
	}
	return &s.ToClient
}

// Stats returns a snapshot of the counters.
func (p *Proxy) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.statsLocked()
}

func (p *Proxy) statsLocked() Stats {
	s := p.stats
	s.Open = len(p.conns)
	return s
}

// Conns returns the number of open connections (Stats.Open).
func (p *Proxy) Conns() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.conns)
}

// WaitFor blocks until cond holds for the counters, checking at once and
// after every change, or until ctx ends; it then returns an error wrapping
// ctx.Err() that shows the last counters. cond runs without the proxy's
// lock held and must not block.
func (p *Proxy) WaitFor(ctx context.Context, cond func(Stats) bool) error {
	for {
		p.mu.Lock()
		s, ch := p.statsLocked(), p.changed
		p.mu.Unlock()
		if cond(s) {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("faultproxy: wait (last %+v): %w", s, ctx.Err())
		}
	}
}

// WaitConns blocks until exactly n connections are open, or ctx ends (see
// WaitFor).
func (p *Proxy) WaitConns(ctx context.Context, n int) error {
	return p.WaitFor(ctx, func(s Stats) bool { return s.Open == n })
}

// notifyLocked wakes the waiters. p.mu must be held.
func (p *Proxy) notifyLocked() {
	close(p.changed)
	p.changed = make(chan struct{})
}

// countWrite counts w bytes written on stream s, and the part k if whole.
func (p *Proxy) countWrite(s stream, k part, w int, whole bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fl := p.stats.flow(s)
	fl.Bytes += int64(w)
	if whole {
		switch k {
		case partFrame:
			fl.Frames++
		case partDuplicate:
			fl.Duplicated++
		case partReplay:
			fl.Replayed++
		}
	}
	p.notifyLocked()
}
