package scheduler

import (
	"cmp"
	"slices"
	"time"

	"github.com/tlsched/tlsched/tl"
)

// Flood gates. MTProto "Error handling": 420 FLOOD_WAIT_X (and
// FLOOD_PREMIUM_WAIT_X) forbids a method to the account for X seconds,
// SLOWMODE_WAIT_X forbids writing to one chat. Rather than let the calls
// behind it fail, the scheduler closes a gate on that key and parks the
// calls behind it until it opens, unless the wait exceeds FloodThreshold.
//
// A new flood rule is one row of tl/errors.go's floodRules, whose scope
// (method or chat) picks the gate here (floodKey); only a new kind of scope
// needs a new gateKind, checked in closed.

// gateKind says what a gate holds back.
type gateKind uint8

const (
	methodGate gateKind = iota + 1 // one method for the account
	peerGate                       // one chat (slow mode)
)

// gateKey names a gate: a method or a chat.
type gateKey struct {
	kind gateKind
	name string // Call.Method or Call.Peer
}

// compare orders keys by kind, then name: gates opening at the same
// instant release their calls in this order.
func (k gateKey) compare(o gateKey) int {
	return cmp.Or(cmp.Compare(k.kind, o.kind), cmp.Compare(k.name, o.name))
}

// floodKey is the gate a flood wait on c closes: the chat for a wait of
// chat scope (SLOWMODE_WAIT) on a call that names one, else the method.
func floodKey(c *Call, fw *tl.FloodWaitError) gateKey {
	if fw.Scope == tl.ScopeChat && c.Peer != "" {
		return gateKey{peerGate, c.Peer}
	}
	return gateKey{methodGate, c.Method}
}

// gates holds the closed gates and the calls parked behind them. It reads
// no clock: callers pass now.
type gates struct {
	until  map[gateKey]time.Time // when each gate opens
	kind   map[gateKey]string    // the wait that closed it last (tl.FloodWait, …)
	parked map[gateKey][]item
}

func newGates() gates {
	return gates{until: make(map[gateKey]time.Time), kind: make(map[gateKey]string), parked: make(map[gateKey][]item)}
}

// close closes key until the given time for a wait of the given kind, or
// keeps it closed that much longer; it reports false when the gate already
// stays closed as long.
func (g *gates) close(key gateKey, until time.Time, kind string) bool {
	if cur, ok := g.until[key]; ok && !until.After(cur) {
		return false
	}
	g.until[key] = until
	g.kind[key] = kind
	return true
}

// closed returns the gate that holds c back at now, if any: its method's
// first, then its chat's.
func (g *gates) closed(c *Call, now time.Time) (gateKey, time.Time, bool) {
	if len(g.until) == 0 {
		return gateKey{}, time.Time{}, false
	}
	key := gateKey{methodGate, c.Method}
	if until, ok := g.until[key]; ok && until.After(now) {
		return key, until, true
	}
	if c.Peer != "" {
		key = gateKey{peerGate, c.Peer}
		if until, ok := g.until[key]; ok && until.After(now) {
			return key, until, true
		}
	}
	return gateKey{}, time.Time{}, false
}

// park holds it behind the gate key until it opens.
func (g *gates) park(key gateKey, it item) { g.parked[key] = append(g.parked[key], it) }

// open opens the gates due at now and returns the items parked behind
// them (stale ones included), gate by gate in key order.
func (g *gates) open(now time.Time) []item {
	var due []gateKey
	for key, until := range g.until {
		if !until.After(now) {
			due = append(due, key)
		}
	}
	slices.SortFunc(due, gateKey.compare)
	var out []item
	for _, key := range due {
		delete(g.until, key)
		delete(g.kind, key)
		out = append(out, g.parked[key]...)
		delete(g.parked, key)
	}
	return out
}

// next returns the earliest opening of a gate with calls parked behind it.
func (g *gates) next() (time.Time, bool) {
	var t time.Time
	ok := false
	for key, until := range g.until {
		if len(g.parked[key]) > 0 && (!ok || until.Before(t)) {
			t, ok = until, true
		}
	}
	return t, ok
}

// gate parks e behind a closed gate, or fails it when the gate stays closed
// longer than FloodThreshold; it reports false when no gate holds e back.
func (s *State) gate(e *entry) bool {
	key, until, shut := s.gates.closed(&e.call, s.now)
	if !shut {
		return false
	}
	if wait := until.Sub(s.now); wait > s.cfg.FloodThreshold {
		// The caller sees the wait the server gave, of the kind it gave
		// (a chat's slow mode stays SLOWMODE_WAIT), for what is left of it.
		s.finish(e, tl.NewFloodWait(s.gates.kind[key], wait))
		return true
	}
	e.ph = phGated
	s.gates.park(key, item{e, e.stamp})
	return true
}

// onFloodWait handles tl.RetryAfterWait (420 FLOOD_WAIT_X,
// FLOOD_PREMIUM_WAIT_X, SLOWMODE_WAIT_X): it closes the call's gate for the
// wait, and retries the call when the gate opens, or fails it with the
// *tl.FloodWaitError when the wait exceeds FloodThreshold.
func (s *State) onFloodWait(e *entry, c tl.Class, err error) {
	s.stats.FloodWaits++
	fw, _ := tl.AsFloodWait(err)
	if s.gates.close(floodKey(&e.call, fw), s.now.Add(c.Wait), fw.Kind) {
		s.stats.GateClosures++
	}
	if c.Wait > s.cfg.FloodThreshold {
		s.finish(e, fw)
		return
	}
	s.requeue(e)
}
