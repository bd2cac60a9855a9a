package scheduler

import (
	"cmp"
	"slices"
	"time"

	"github.com/cenkalti/backoff/v4"

	"github.com/tlsched/tlsched/tl"
)

// Retries. MTProto "Error handling": 5xx, -503 Timeout and *_RETRY errors
// are the server's fault and worth repeating, with exponential backoff
// (cenkalti/backoff/v4, on the scheduler's injected clock); a call lost
// with its connection is repeated the same way, unless its DC is in an
// outage (outage.go). 303 *_MIGRATE_X names the DC to repeat the call on.
// Backoffs and migrations count against MaxAttempts; a loss in an outage,
// a call lost before it was written and a flood wait (gates.go) do not.

// onBackoff handles tl.RetryWithBackoff: the call is sent again after the
// next backoff interval, or fails with the typed error once MaxAttempts
// sends or the backoff's MaxElapsed are spent.
func (s *State) onBackoff(e *entry, err error) {
	e.maybeRan = true // the server saw it
	s.retryLater(e, tl.Typed(err))
}

// onMigrate handles tl.RetryElsewhere (303 *_MIGRATE_X): the call moves to
// DC X, and with USER_, PHONE_ and NETWORK_MIGRATE so does the home DC
// (the account lives there). After MaxAttempts sends it fails with the
// *tl.MigrateError.
func (s *State) onMigrate(e *entry, c tl.Class, err error) {
	if e.counted() >= s.cfg.MaxAttempts {
		s.finish(e, tl.Typed(err))
		return
	}
	s.stats.Migrations++
	e.dc = c.DC
	e.call.DC = c.DC
	s.requeue(e) // first: it was sent before the calls rehome moves
	s.migrateHome(c, err)
}

// migrateHome moves the home DC for USER_, PHONE_ and NETWORK_MIGRATE: the
// account lives on another DC, so later calls go there too, and so do the
// calls for the old home DC not sent yet.
func (s *State) migrateHome(c tl.Class, err error) {
	me, _ := tl.AsMigrate(err)
	switch me.Kind {
	case "USER", "PHONE", "NETWORK":
		if old := s.cfg.HomeDC; old != c.DC {
			s.cfg.HomeDC = c.DC
			s.rehome(old)
		}
	}
}

// rehome moves the unsent calls that went to the home DC by default from
// old to the new home DC. Calls in flight on old move when their own
// answer (a migration) comes.
func (s *State) rehome(old int) {
	var moved []*entry
	for _, e := range s.entries {
		if e.home && e.dc == old && e.ph != phInFlight {
			moved = append(moved, e)
		}
	}
	slices.SortFunc(moved, func(a, b *entry) int { return cmp.Compare(a.ID(), b.ID()) })
	for _, e := range moved {
		e.dc = s.cfg.HomeDC
		e.call.DC = e.dc
		if e.ph == phReady || e.ph == phPaced {
			// Off the old DC's queue or its pacing turn (the item goes
			// stale), placed again for the new DC: a dependent whose
			// predecessor is in flight on the old DC now waits for it.
			s.place(e)
		}
	}
}

// retryLater sends e again after its next backoff interval, or fails it
// with err when MaxAttempts or the backoff are spent.
func (s *State) retryLater(e *entry, err error) {
	if e.counted() >= s.cfg.MaxAttempts {
		s.finish(e, err)
		return
	}
	if e.bo == nil {
		e.bo = s.newBackoff()
	}
	d := e.bo.NextBackOff()
	if d == backoff.Stop {
		s.finish(e, err)
		return
	}
	s.stats.Backoffs++
	e.notBefore = s.now.Add(d)
	s.requeue(e)
}

// LostDC reports that a DC's connection and session were lost with every
// call in flight on it, all of them possibly sent: Lost with every call in
// flight on dc as maybeSent.
func (s *State) LostDC(now time.Time, dc int, cause error) []Done {
	var ids []CallID
	for _, e := range s.entries {
		if e.ph == phInFlight && e.dc == dc {
			ids = append(ids, e.ID())
		}
	}
	return s.Lost(now, dc, Lost{MaybeSent: ids}, cause)
}

// Lost names the calls a DC actor lost with its connection or session.
type Lost struct {
	// NotSent never left this process (queued for a connection, or packed
	// and never written): sending them again is always safe.
	NotSent []CallID
	// MaybeSent were written to a connection that was lost before their
	// answer came: they may have run.
	MaybeSent []CallID
}

// Lost reports calls in flight on a DC that the connection lost. The same
// Payload goes out again, so random_id stays the same and the server
// deduplicates. Ids that are not in flight there (an answer won the race,
// or the call was already requeued) are skipped.
//
// A call in l.NotSent is queued again at once and the loss does not count
// as an attempt. A call in l.MaybeSent is marked as possibly run; while dc
// is unreachable (DCDown, outage.go) it waits for the DC without counting
// the loss, past the outage budget it fails with *OutageError, and
// otherwise it is retried with backoff like a 5xx and fails with
// *LostError once MaxAttempts or the backoff are spent.
func (s *State) Lost(now time.Time, dc int, l Lost, cause error) []Done {
	s.advance(now)
	maybe := map[CallID]bool{}
	for _, id := range l.MaybeSent {
		maybe[id] = true
	}
	var lost []*entry
	for _, id := range append(slices.Clone(l.NotSent), l.MaybeSent...) {
		if e := s.entries[id]; e != nil && e.ph == phInFlight && e.dc == dc {
			lost = append(lost, e)
		}
	}
	slices.SortFunc(lost, func(a, b *entry) int { return cmp.Compare(a.ID(), b.ID()) })
	lost = slices.CompactFunc(lost, func(a, b *entry) bool { return a == b })
	for _, e := range lost {
		s.queue(dc).inflight--
		if e.cancelled {
			s.bury(e)
			continue
		}
		if maybe[e.ID()] {
			e.maybeRan = true
		}
		if e.brokenBy != 0 {
			s.finish(e, s.broken(e))
			continue
		}
		if !maybe[e.ID()] {
			// It never went out: not an attempt. A dependent the session
			// could not name the predecessor for waits for that attempt's
			// answer (chains.go).
			e.free++
			s.awaitPred(e)
			s.requeue(e)
			continue
		}
		if o := s.outages[dc]; o != nil {
			// The DC is unreachable: wait for it (place fails the call
			// once the budget is spent). A call that kills every
			// connection it goes out on (each of which answered first,
			// ending its outage) still gets one budget in all.
			if e.lostSince.IsZero() {
				e.lostSince = s.now
			}
			if !s.now.Before(e.lostSince.Add(s.cfg.OutageTimeout)) {
				s.finish(e, &OutageError{DC: dc, Since: e.lostSince, Cause: o.cause, MaybeRan: true})
				continue
			}
			e.free++
			s.requeue(e)
			continue
		}
		s.retryLater(e, &LostError{DC: dc, Cause: cause, MaybeRan: true})
	}
	return s.drain()
}

// clock lets backoff/v4 read the scheduler's injected time.
type clock struct{ now *time.Time }

func (c clock) Now() time.Time { return *c.now }

// newBackoff returns a backoff configured by Config.Backoff, reading s.now.
func (s *State) newBackoff() *backoff.ExponentialBackOff {
	b := s.cfg.Backoff
	return backoff.NewExponentialBackOff(
		backoff.WithInitialInterval(b.Initial),
		backoff.WithMaxInterval(b.Max),
		backoff.WithMaxElapsedTime(b.MaxElapsed),
		backoff.WithMultiplier(b.Multiplier),
		backoff.WithRandomizationFactor(b.Jitter),
		backoff.WithClockProvider(clock{&s.now}),
	)
}
