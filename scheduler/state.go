package scheduler

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/cenkalti/backoff/v4"

	"github.com/tlsched/tlsched/tl"
)

// phase is where a live call is; every move bumps entry.stamp.
type phase uint8

const (
	phReady    phase = iota // in a DC's ready queue
	phGated                 // behind a closed flood gate
	phDelayed               // waiting out a backoff
	phWaiting               // waiting for its predecessor to be sent or done
	phPaced                 // in its chat's pacing queue (pacer.go)
	phInFlight              // sent, unanswered
	phDone
)

// entry is the scheduler's record of one call, from Submit to Done.
type entry struct {
	call      Call
	dc        int
	ph        phase
	stamp     uint32 // bumped on every move: stale queue items are skipped
	enq       time.Time
	notBefore time.Time
	attempts  int
	repairs   int
	bo        *backoff.ExponentialBackOff
	home      bool   // submitted without a DC: follows the home DC when it moves
	brokenBy  CallID // predecessor that failed for good while this was in flight
	brokenErr error  // its error
	// awaitAttempt, while the predecessor is in flight on its attempt
	// awaitAttempt, holds this call back until that attempt is answered
	// (MSG_WAIT_TIMEOUT: the head is slow; or a session that could not
	// name it).
	awaitAttempt int
	cancelled    bool      // cancelled in flight: its owner heard, it is never sent again
	tokens       bool      // took its pacing tokens for the next send (pacer.go)
	sentAt       time.Time // when its latest paced send went (pacer.go)
	maybeRan     bool      // a send of it was lost unanswered: it may have run
	free         int       // sends that do not count against MaxAttempts (lost in an outage)
	lostSince    time.Time // first loss in an outage: the call's own budget starts
}

// counted is how many sends count against MaxAttempts.
func (e *entry) counted() int { return e.attempts - e.free }

// ID returns the entry's call id.
func (e *entry) ID() CallID { return e.call.ID }

// State is the scheduler. Not safe for concurrent use: one owner drives it.
type State struct {
	cfg     Config
	now     time.Time
	entries map[CallID]*entry
	dcs     map[int]*dcQueue
	gates   gates
	delayed delayHeap
	chains  chains
	outages map[int]*outage // unreachable DCs (outage.go)
	ghosts  int             // calls cancelled in flight, awaiting their answer or loss
	pacer   *pacer          // nil with pacing off
	out     []Done
	stats   Stats
}

// New returns an empty scheduler.
func New(cfg Config) *State {
	s := &State{
		cfg:     cfg.WithDefaults(),
		entries: make(map[CallID]*entry),
		dcs:     make(map[int]*dcQueue),
		gates:   newGates(),
		chains:  newChains(),
		outages: make(map[int]*outage),
	}
	if s.cfg.Pacing.On {
		s.pacer = newPacer(s.cfg.Pacing)
	}
	return s
}

// Stats returns the counters.
func (s *State) Stats() Stats { return s.stats }

// HomeDC returns the DC calls without one go to.
func (s *State) HomeDC() int { return s.cfg.HomeDC }

// Len returns the number of live calls (queued, waiting or in flight),
// calls cancelled in flight included until their answer or loss (they do
// not count against MaxQueued).
func (s *State) Len() int { return len(s.entries) }

// InFlight returns the calls sent and unanswered on a DC.
func (s *State) InFlight(dc int) int {
	if q := s.dcs[dc]; q != nil {
		return q.inflight
	}
	return 0
}

// drain returns and clears the outcomes gathered by one entry point.
func (s *State) drain() []Done {
	out := s.out
	s.out = nil
	return out
}

// Submit adds a call. It fails on a zero or duplicate id and when the queue
// is full; a call after a recently failed call is answered at once with
// *ChainBrokenError (in the returned Done list).
func (s *State) Submit(now time.Time, c Call) ([]Done, error) {
	s.now = now
	switch {
	case c.ID == 0:
		return nil, errors.New("scheduler: call id 0 is reserved")
	case s.entries[c.ID] != nil:
		return nil, fmt.Errorf("scheduler: call id %d already submitted", c.ID)
	case c.After == c.ID:
		// It would wait for itself forever.
		return nil, fmt.Errorf("scheduler: call %d is ordered after itself", c.ID)
	case len(s.entries)-s.ghosts >= s.cfg.MaxQueued:
		return nil, fmt.Errorf("%w: %d calls held", ErrQueueFull, len(s.entries)-s.ghosts)
	}
	failed, predFailed := s.chains.failedWith(c.After)
	if c.After != 0 && !predFailed && s.entries[c.After] == nil {
		return nil, fmt.Errorf("%w: call %d is ordered after call %d", ErrUnknownPred, c.ID, c.After)
	}
	e := &entry{call: c, dc: c.DC, home: c.DC == 0}
	if e.home {
		e.dc = s.cfg.HomeDC
		e.call.DC = e.dc
	}
	s.stats.Submitted++
	if predFailed {
		s.entries[c.ID] = e
		s.finish(e, &ChainBrokenError{Pred: c.After, Err: failed})
		return s.drain(), nil
	}
	s.entries[c.ID] = e
	if o, ok := s.refused(e.dc); ok {
		// The DC stayed unreachable past the budget: fail fast.
		s.finish(e, s.outageErr(e, e.dc, o))
		return s.drain(), nil
	}
	if c.After != 0 {
		s.chains.link(c.After, e)
	}
	s.place(e)
	return s.drain(), nil
}

// place puts a live, unsent call where it belongs.
func (s *State) place(e *entry) {
	e.stamp++
	s.pacedGone(e) // a promise of tokens holds only on the way to the wire
	if o, ok := s.refused(e.dc); ok {
		s.finish(e, s.outageErr(e, e.dc, o))
		return
	}
	if s.mustWait(e) {
		e.ph = phWaiting
		return
	}
	if e.notBefore.After(s.now) {
		s.delay(e)
		return
	}
	if s.gate(e) {
		return
	}
	if s.pace(e) {
		return
	}
	s.enqueue(e)
}

// advance opens gates and ends backoffs that are due at now.
func (s *State) advance(now time.Time) {
	if now.After(s.now) {
		s.now = now
	}
	for _, it := range s.gates.open(s.now) {
		if it.live(phGated) {
			s.place(it.e)
		}
	}
	for {
		it, ok := s.delayed.popDue(s.now)
		if !ok {
			break
		}
		if it.live(phDelayed) {
			s.place(it.e)
		}
	}
	s.releasePaced()
	s.expireDue()
}

// Ready returns the batches to send now, one or more per DC, and calls that
// failed while waiting (a gate that turned out longer than FloodThreshold).
// Calls in the batches are in flight from now on.
func (s *State) Ready(now time.Time) ([]Batch, []Done) {
	s.advance(now)
	var out []Batch
	dcs := make([]int, 0, len(s.dcs))
	for dc := range s.dcs {
		dcs = append(dcs, dc)
	}
	slices.Sort(dcs)
	for _, dc := range dcs {
		q := s.dcs[dc]
		for {
			b, ok := s.batch(dc, q)
			if !ok {
				break
			}
			out = append(out, b)
		}
	}
	return out, s.drain()
}

// Complete records the answer to a call in flight: err nil for a result,
// else the RPC error. It returns the calls that are now final: this one
// unless it is retried, and dependents that can no longer run. An answer
// for a call not in flight (late, or duplicate) is counted and ignored.
//
// Complete only routes: an error goes by tl.Classify's Action to one
// handler, beside the state it changes (onFloodWait in gates.go, onMigrate
// and onBackoff in retry.go, onChainRepair in chains.go, onReauthorize and
// onNextStep in auth.go, onFinal here).
func (s *State) Complete(now time.Time, id CallID, err error) []Done {
	s.advance(now)
	e := s.entries[id]
	if e == nil || e.ph != phInFlight {
		s.stats.LateResults++
		return nil
	}
	s.queue(e.dc).inflight--
	if e.cancelled {
		// Its owner has its outcome already.
		s.learn(e, err)
		s.bury(e)
		return s.drain()
	}
	if err == nil {
		s.pacedOK(e)
		s.finish(e, nil)
		return s.drain()
	}
	if e.brokenBy != 0 {
		s.learn(e, err)
		s.finish(e, s.broken(e))
		return s.drain()
	}
	c := tl.Classify(err)
	switch c.Action {
	case tl.RetryAfterWait:
		s.onFloodWait(e, c, err)
	case tl.RetryElsewhere:
		s.onMigrate(e, c, err)
	case tl.RetryWithBackoff:
		s.onBackoff(e, err)
	case tl.RepairChain:
		s.onChainRepair(e, err)
	case tl.Reauthorize, tl.RecreateKey:
		s.onReauthorize(e, err)
	case tl.NextStep:
		s.onNextStep(e, err)
	default: // tl.Final, and an action this package does not know yet
		s.onFinal(e, err)
	}
	return s.drain()
}

// learn keeps what an error answer says of the account (a flood wait, a
// new home DC) and of the call (a 5xx: it may have run) for a call that is
// not retried whatever it says.
func (s *State) learn(e *entry, err error) {
	c := tl.Classify(err)
	switch c.Action {
	case tl.RetryAfterWait:
		s.closeGate(e, c, err)
	case tl.RetryElsewhere:
		s.migrateHome(c, err)
	case tl.RetryWithBackoff:
		e.maybeRan = true // the server saw it
	}
}

// onFinal handles tl.Final: the call fails for good with the typed error
// (a *tl.NumberError carries the wait it names), and its dependents with it.
func (s *State) onFinal(e *entry, err error) {
	if c := tl.Classify(err); c.RPC != nil && c.RPC.Type == "PEER_FLOOD" {
		s.pacedPeerFlood()
	}
	s.finish(e, tl.Typed(err))
}

// requeue places a call again after an error, holding its unsent
// dependents back until it is in flight again.
func (s *State) requeue(e *entry) {
	s.hold(e)
	s.place(e)
}

// Cancel makes a call final at once with *CanceledError wrapping cause
// (its owner gave up: context.Canceled, context.DeadlineExceeded), and its
// dependents with *ChainBrokenError. A call not yet sent never goes out
// (ErrNotSent). A call in flight (handed to its DC's connection, written
// or not) cannot be unsent: it matches ErrMayHaveRun, stays counted in
// flight (not against MaxQueued) until its answer or loss, which are then
// dropped, and it is never sent again, whatever the answer (a flood wait,
// a lost connection). The owner tells the DC's connection too
// (InFlightOn), which hands the call back once it forgot it. Cancelling an
// unknown or final call does nothing.
func (s *State) Cancel(now time.Time, id CallID, cause error) []Done {
	s.advance(now)
	e := s.entries[id]
	if e == nil || e.cancelled {
		return s.drain()
	}
	if e.ph != phInFlight {
		s.finish(e, &CanceledError{Err: cause, MaybeRan: e.maybeRan})
		return s.drain()
	}
	e.cancelled = true
	s.ghosts++
	s.stats.CanceledInFlight++
	s.report(e, &CanceledError{Err: cause, MaybeRan: true})
	return s.drain()
}

// InFlightOn returns the DC a live call is in flight on, if it is: the
// owner tells that DC's connection when the call is cancelled, so that it
// is not sent again from there either (Cancel).
func (s *State) InFlightOn(id CallID) (int, bool) {
	if e := s.entries[id]; e != nil && e.ph == phInFlight {
		return e.dc, true
	}
	return 0, false
}

// bury forgets a call cancelled in flight once its answer or loss came:
// its owner already has its outcome.
func (s *State) bury(e *entry) {
	s.ghosts--
	delete(s.entries, e.ID())
	e.ph = phDone
	e.stamp++
	s.chains.unlink(e)
}

// broken is the error of e, whose predecessor failed for good while e was
// in flight.
func (s *State) broken(e *entry) error {
	return &ChainBrokenError{Pred: e.brokenBy, Err: e.brokenErr, MaybeRan: e.maybeRan}
}

// finish makes a call final and settles its dependents.
func (s *State) finish(e *entry, err error) {
	s.pacedGone(e)
	delete(s.entries, e.ID())
	e.ph = phDone
	e.stamp++
	s.chains.unlink(e)
	s.report(e, err)
}

// report hands e's final outcome to the owner and settles its dependents.
func (s *State) report(e *entry, err error) {
	id := e.ID()
	if err == nil {
		s.stats.Succeeded++
	} else {
		s.stats.Failed++
		s.chains.remember(id, err)
	}
	s.out = append(s.out, Done{ID: id, Err: err, Attempts: e.attempts})
	s.settle(id, err)
}

// NextDeadline reports when Ready should run next: the earliest window end
// of a busy DC, backoff end, gate opening or end of an outage budget. ok is false when only answers
// can make progress. A zero time means at once.
func (s *State) NextDeadline() (time.Time, bool) {
	var t time.Time
	ok := false
	consider := func(c time.Time) {
		if !ok || c.Before(t) {
			t, ok = c, true
		}
	}
	for _, q := range s.dcs {
		if at, ok := s.flushAt(q); ok {
			consider(at)
		}
	}
	if at, ok := s.delayed.next(); ok {
		consider(at)
	}
	if at, ok := s.gates.next(); ok {
		consider(at)
	}
	if at, ok := s.outageDeadline(); ok {
		consider(at)
	}
	if s.pacer != nil {
		if at, ok := s.pacer.nextTurn(s.now); ok {
			consider(at)
		}
	}
	return t, ok
}
