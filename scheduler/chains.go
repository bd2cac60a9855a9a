package scheduler

import "slices"

// Ordered calls. MTProto "Calling methods: sequential requests":
// invokeAfterMsg(msg_id, query) runs query only after msg_id's result; if
// that call failed the server answers 400 MSG_WAIT_FAILED, if its result
// has not appeared within ~0.5 s, MSG_WAIT_TIMEOUT. A msg_id names a
// message of one session, so a call is wrapped only after a predecessor in
// flight on the same DC; otherwise it waits for the predecessor's result.
// A call never runs before its predecessor succeeded, and never after it
// failed for good: then it fails with *ChainBrokenError.
//
// The session that sends a batch holds the last word: a dependent whose
// predecessor it no longer holds unanswered (answered meanwhile, or sent
// in an earlier session) is handed back unsent (Lost.NotSent), never sent
// unwrapped, and waits here for that attempt's answer (awaitAttempt). A
// MSG_WAIT_TIMEOUT or MSG_WAIT_FAILED that comes while the predecessor is
// still in flight does the same: the dependent waits for the predecessor's
// own answer, then goes wrapped after its next attempt or unwrapped after
// its success; it is not resent after the same slow attempt, and such
// waits are not repairs, nor is a MSG_WAIT_* after the predecessor's own
// error was handled (it is retried, and the dependent follows its next
// attempt). Only a MSG_WAIT_* after the predecessor is done (it succeeded,
// yet the server did not see it: a forgotten session) counts against
// MaxChainRepairs.

// failedMemory is how many failed calls are remembered, so that a call
// submitted after one of them fails at once. Submit refuses a call ordered
// after a forgotten one, as after any unknown id (ErrUnknownPred).
const failedMemory = 4096

// chains holds the links between ordered calls and the recent failures.
type chains struct {
	deps    map[CallID][]*entry // live dependents of each live call
	failed  map[CallID]error    // recently failed calls, for late dependents
	failedQ []CallID            // failed, oldest first
}

func newChains() chains {
	return chains{deps: make(map[CallID][]*entry), failed: make(map[CallID]error)}
}

// link records that e is ordered after the live call pred.
func (ch *chains) link(pred CallID, e *entry) { ch.deps[pred] = append(ch.deps[pred], e) }

// unlink forgets e as a dependent of its predecessor.
func (ch *chains) unlink(e *entry) {
	if p := e.call.After; p != 0 {
		ch.deps[p] = slices.DeleteFunc(ch.deps[p], func(d *entry) bool { return d == e })
		if len(ch.deps[p]) == 0 {
			delete(ch.deps, p)
		}
	}
}

// take removes and returns id's dependents.
func (ch *chains) take(id CallID) []*entry {
	ds := ch.deps[id]
	delete(ch.deps, id)
	return ds
}

// remember records that id failed with err, forgetting the oldest failure
// beyond failedMemory.
func (ch *chains) remember(id CallID, err error) {
	if len(ch.failedQ) >= failedMemory {
		delete(ch.failed, ch.failedQ[0])
		ch.failedQ = ch.failedQ[1:]
	}
	ch.failed[id] = err
	ch.failedQ = append(ch.failedQ, id)
}

// failedWith returns the error a remembered call failed with.
func (ch *chains) failedWith(id CallID) (error, bool) {
	err, ok := ch.failed[id]
	return err, ok && id != 0
}

// pred returns e's live predecessor, if any.
func (s *State) pred(e *entry) *entry {
	if e.call.After == 0 {
		return nil
	}
	return s.entries[e.call.After]
}

// mustWait reports whether e waits for its predecessor to be sent or done.
// MTProto: invokeAfterMsg orders calls within one session only, so a call
// follows its predecessor onto the wire only on the same DC; and not after
// an attempt it must see answered first (awaitAttempt).
func (s *State) mustWait(e *entry) bool {
	p := s.pred(e)
	if p == nil {
		return false
	}
	return p.ph != phInFlight || p.dc != e.dc || p.attempts == e.awaitAttempt
}

// awaitPred holds e, about to be placed again, until the answer of its
// predecessor's attempt in flight; it reports false when the predecessor
// is not in flight.
func (s *State) awaitPred(e *entry) bool {
	p := s.pred(e)
	if p == nil || p.ph != phInFlight {
		return false
	}
	e.awaitAttempt = p.attempts
	s.stats.ChainWaits++
	return true
}

// wrapAfter returns the call e must be wrapped after (invokeAfterMsg) when
// sent now: its predecessor if in flight on e's DC, else 0.
func (s *State) wrapAfter(e *entry) CallID {
	if p := s.pred(e); p != nil && p.ph == phInFlight && p.dc == e.dc {
		return p.ID()
	}
	return 0
}

// release places dependents that were waiting for e to be sent or done.
func (s *State) release(e *entry) {
	// A copy: placing a dependent can finish it (its gate is closed past
	// FloodThreshold), which removes it from the list being walked.
	for _, d := range slices.Clone(s.chains.deps[e.ID()]) {
		if d.ph == phWaiting {
			s.place(d)
		}
	}
}

// hold sends e's unsent dependents back to waiting: e is no longer in
// flight, so nothing may overtake it.
func (s *State) hold(e *entry) {
	for _, d := range s.chains.deps[e.ID()] {
		switch d.ph {
		case phReady, phGated, phDelayed, phPaced:
			d.stamp++
			d.ph = phWaiting
			s.pacedGone(d)
		}
	}
}

// settle decides the dependents of id, which just became final with err:
// on success the waiting ones are placed; on failure each fails with
// *ChainBrokenError, at once or, if in flight, when its answer comes.
func (s *State) settle(id CallID, err error) {
	for _, d := range s.chains.take(id) {
		switch {
		case err == nil:
			if d.ph == phWaiting {
				s.place(d)
			}
		case d.ph == phInFlight:
			d.brokenBy, d.brokenErr = id, err
		default:
			s.finish(d, &ChainBrokenError{Pred: id, Err: err, MaybeRan: d.maybeRan})
		}
	}
}

// onChainRepair handles tl.RepairChain (MSG_WAIT_FAILED, MSG_WAIT_TIMEOUT):
// while the predecessor is in flight the call waits for its answer (see
// the top of this file); while it is being retried (a flood wait, a
// backoff), the call waits to be wrapped after its next attempt, which
// costs no repair either: the predecessor's retries are bounded on their
// own. Only once the predecessor is done is the call resent unwrapped, at
// most MaxChainRepairs times.
func (s *State) onChainRepair(e *entry, err error) {
	if s.awaitPred(e) {
		s.requeue(e)
		return
	}
	if s.pred(e) != nil {
		s.stats.ChainWaits++
		s.requeue(e)
		return
	}
	e.repairs++
	if e.repairs > s.cfg.MaxChainRepairs {
		s.finish(e, err)
		return
	}
	s.stats.ChainRepairs++
	s.requeue(e)
}
