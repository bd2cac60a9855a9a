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

// minFloodWait is the least a flood wait holds its gate closed (TDLib's
// NetQueryDelayer clamps waits to at least 1 s too).
const minFloodWait = time.Second

// gateKind says what a gate holds back.
type gateKind uint8

const (
	methodGate gateKind = iota + 1 // one method for the account
	peerGate                       // one chat (slow mode; a chat's limit with pacing)
	writesGate                     // every chat write of the account (its limit, with pacing)
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
// first, then its chat's (slow mode holds only calls that write to it).
func (g *gates) closed(c *Call, now time.Time) (gateKey, time.Time, bool) {
	if len(g.until) == 0 {
		return gateKey{}, time.Time{}, false
	}
	key := gateKey{methodGate, c.Method}
	if until, ok := g.until[key]; ok && until.After(now) {
		return key, until, true
	}
	if c.Peer != "" && c.Writes {
		key = gateKey{peerGate, c.Peer}
		if until, ok := g.until[key]; ok && until.After(now) {
			return key, until, true
		}
		key = gateKey{writesGate, ""}
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

// The flood budget of a call is the longest wait it may absorb:
// Call.FloodBudget (Config.FloodThreshold by default), and never past
// Call.Deadline. A call whose wait would exceed it fails at once with
// *tl.FloodWaitError (not sent), whether the wait is its own answer, a
// gate it meets, or a gate it already waits behind that closes for longer.
// Flood waits do not count against MaxAttempts: the server did not run
// the call.
func (s *State) budget(e *entry) time.Duration {
	b := e.call.FloodBudget
	switch {
	case b == 0:
		b = s.cfg.FloodThreshold
	case b < 0:
		b = 0
	}
	if d := e.call.Deadline; !d.IsZero() {
		b = min(b, d.Sub(s.now))
	}
	return b
}

// floodErr is the error of e failing for a wait of kind: the wait the
// server gave, of the kind it gave (a chat's slow mode stays
// SLOWMODE_WAIT), for what is left of it.
func floodErr(e *entry, kind string, wait time.Duration) error {
	fw := tl.NewFloodWait(kind, wait)
	fw.MaybeRan = e.maybeRan
	return fw
}

// gate parks e behind a closed gate, or fails it when the gate stays closed
// longer than its budget; it reports false when no gate holds e back.
func (s *State) gate(e *entry) bool {
	key, until, shut := s.gates.closed(&e.call, s.now)
	if !shut {
		return false
	}
	if wait := until.Sub(s.now); wait > s.budget(e) {
		s.finish(e, floodErr(e, s.gates.kind[key], wait))
		return true
	}
	e.ph = phGated
	s.gates.park(key, item{e, e.stamp})
	return true
}

// regate fails the calls parked behind key whose budget the gate, just
// closed for longer, now exceeds.
func (s *State) regate(key gateKey) {
	until := s.gates.until[key]
	for _, it := range slices.Clone(s.gates.parked[key]) {
		if it.live(phGated) {
			if wait := until.Sub(s.now); wait > s.budget(it.e) {
				s.finish(it.e, floodErr(it.e, s.gates.kind[key], wait))
			}
		}
	}
}

// closeGate closes the gate a flood wait on e names, for the wait.
//
// The wait is at least minFloodWait (a FLOOD_WAIT_0 would otherwise be
// resent at once, and flood waits cost no attempt). A wait of chat scope
// on a call with a chat marks the call as writing to it: the server says
// slow mode holds it, so the chat's gate must hold it too.
func (s *State) closeGate(e *entry, c tl.Class, err error) *tl.FloodWaitError {
	s.stats.FloodWaits++
	fw, _ := tl.AsFloodWait(err)
	if fw.Scope == tl.ScopeChat && e.call.Peer != "" {
		e.call.Writes = true
	}
	key := floodKey(&e.call, fw)
	switch chatHit, paced := s.pacedFlood(e, fw); {
	case chatHit:
		// The chat's limit was hit (pacer.go): the other chats flow on.
		key = gateKey{peerGate, e.call.Peer}
	case paced:
		// The account's limit was hit: every chat write waits.
		key = gateKey{writesGate, ""}
	}
	if s.gates.close(key, s.now.Add(max(c.Wait, minFloodWait)), fw.Kind) {
		s.stats.GateClosures++
		s.regate(key)
	}
	return fw
}

// onFloodWait handles tl.RetryAfterWait (420 FLOOD_WAIT_X,
// FLOOD_PREMIUM_WAIT_X, SLOWMODE_WAIT_X): it closes the call's gate for the
// wait, and retries the call when the gate opens, or fails it with the
// *tl.FloodWaitError when the wait exceeds its budget.
func (s *State) onFloodWait(e *entry, c tl.Class, err error) {
	fw := s.closeGate(e, c, err)
	if c.Wait > s.budget(e) {
		f := *fw
		f.MaybeRan = e.maybeRan
		s.finish(e, &f)
		return
	}
	e.free++
	s.requeue(e)
}
