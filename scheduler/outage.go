package scheduler

import (
	"slices"
	"time"
)

// Outages. A DC is unreachable from the moment its connection is lost
// (DCDown) until a connection to it carries answers again (DCUp). While it
// is, the calls for it wait instead of burning MaxAttempts: calls lost
// with the connection, and calls queued for it, stay in its queue and are
// not batched; a loss caused by the connection does not count as an
// attempt. Once the connection is re-established (DCConnected) they are
// sent again, but the outage lasts until answers flow: a server that
// accepts connections and drops them at once (a transport -429, say)
// does not restart the budget.
//
// When the DC has been unreachable for Config.OutageTimeout (counted from
// the DCDown that began the outage; the budget does not run out while a
// connection is open, and is checked again at the next DCDown), every call
// waiting for it
// fails with *OutageError: ErrNotSent if it never went out, ErrMayHaveRun
// if it was sent and lost. Until the DC is connected again, later calls
// for it fail the same way at once (their submission does not wait out a
// second budget), and so do calls lost with it. A call lost with its
// connection again and again, each connection answering first (so no
// single outage lasts the budget), fails once OutageTimeout has passed
// since its own first loss.

// outage is what the scheduler knows of an unreachable DC.
type outage struct {
	since     time.Time
	cause     error
	connected bool // a new connection is open: calls flow, answers awaited
	expired   bool // OutageTimeout passed (or DCFailed): calls fail at once
}

// DCDown reports that dc's connection was lost or could not be opened,
// for cause. The outage starts now unless one is under way (then only the
// cause is updated). Calls for dc wait; past the budget they fail, which
// the returned list may already hold.
func (s *State) DCDown(now time.Time, dc int, cause error) []Done {
	s.advance(now)
	o := s.outages[dc]
	if o == nil {
		o = &outage{since: s.now}
		s.outages[dc] = o
	}
	o.cause, o.connected = cause, false
	if o.expired || !s.now.Before(o.since.Add(s.cfg.OutageTimeout)) {
		s.expire(dc, o)
	}
	return s.drain()
}

// DCFailed reports that dc cannot be reached until DCConnected, for a
// cause that waiting does not cure (the auth key was lost): every call
// waiting for it fails now with *OutageError wrapping cause, as later ones
// do until DCConnected.
func (s *State) DCFailed(now time.Time, dc int, cause error) []Done {
	s.advance(now)
	o := s.outages[dc]
	if o == nil {
		o = &outage{since: s.now}
		s.outages[dc] = o
	}
	o.cause, o.connected = cause, false
	s.expire(dc, o)
	return s.drain()
}

// DCConnected reports that a connection to dc is open again: its calls
// are sent, and calls for it are accepted again. The outage is over only
// with DCUp.
func (s *State) DCConnected(now time.Time, dc int) []Done {
	s.advance(now)
	if o := s.outages[dc]; o != nil {
		o.connected = true
		o.expired = false
	}
	return s.drain()
}

// DCUp reports that dc answers again (a connection carried an answer):
// the outage is over and the next DCDown starts a new one.
func (s *State) DCUp(now time.Time, dc int) []Done {
	s.advance(now)
	delete(s.outages, dc)
	return s.drain()
}

// Unreachable reports whether dc is in an outage: DCDown or DCFailed
// without DCUp since (a connection may be open again, DCConnected, with no
// answer on it yet).
func (s *State) Unreachable(dc int) bool { return s.outages[dc] != nil }

// parked reports whether dc's queue is held back: the DC is unreachable
// and no connection to it is open.
func (s *State) parked(dc int) bool {
	o := s.outages[dc]
	return o != nil && !o.connected
}

// refused returns the outage of a DC whose calls fail at once.
func (s *State) refused(dc int) (*outage, bool) {
	o := s.outages[dc]
	return o, o != nil && o.expired && !o.connected
}

// outageErr is the error of call e failing in dc's outage o.
func (s *State) outageErr(e *entry, dc int, o *outage) error {
	return &OutageError{DC: dc, Since: o.since, Cause: o.cause, MaybeRan: e.maybeRan}
}

// expire fails every call waiting for dc (not those in flight: the DC
// actor reports them lost) and refuses later ones until DCConnected.
func (s *State) expire(dc int, o *outage) {
	o.expired = true
	var ids []CallID
	for id, e := range s.entries {
		if e.dc == dc && e.ph != phInFlight {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	for _, id := range ids {
		// Finishing one may have finished its dependents.
		if e := s.entries[id]; e != nil && e.ph != phInFlight {
			s.finish(e, s.outageErr(e, dc, o))
		}
	}
}

// expireDue expires the outages whose budget ran out by now.
func (s *State) expireDue() {
	var dcs []int
	for dc, o := range s.outages {
		if !o.expired && !o.connected && !s.now.Before(o.since.Add(s.cfg.OutageTimeout)) {
			dcs = append(dcs, dc)
		}
	}
	slices.Sort(dcs)
	for _, dc := range dcs {
		s.expire(dc, s.outages[dc])
	}
}

// outageDeadline returns the earliest end of a running outage budget.
func (s *State) outageDeadline() (time.Time, bool) {
	var t time.Time
	ok := false
	for _, o := range s.outages {
		if o.expired || o.connected {
			continue
		}
		if at := o.since.Add(s.cfg.OutageTimeout); !ok || at.Before(t) {
			t, ok = at, true
		}
	}
	return t, ok
}
