package scheduler

import "time"

// due reports whether a DC's queue should be flushed now: at once when
// nothing is in flight (the adaptive window), else once the oldest call
// waited Window or a full batch is queued.
func (s *State) due(q *dcQueue, first item) bool {
	if q.inflight == 0 {
		return true
	}
	if !first.e.enq.Add(s.cfg.Window).After(s.now) {
		return true
	}
	return q.queued() >= s.cfg.MaxMessages
}

// flushAt returns when q is due (a zero time for at once); false when it is
// empty or at MaxInFlight, so that only an answer can move it.
func (s *State) flushAt(q *dcQueue) (time.Time, bool) {
	it, has := q.front()
	if !has || q.inflight >= s.cfg.MaxInFlight || s.parked(it.e.dc) {
		return time.Time{}, false
	}
	if q.inflight == 0 || q.queued() >= s.cfg.MaxMessages {
		return time.Time{}, true
	}
	return it.e.enq.Add(s.cfg.Window), true
}

// batch cuts the next batch off dc's queue if it is due: up to MaxMessages
// calls, MaxBytes of them (a larger call goes alone) and the room left
// under MaxInFlight. The calls in it are in flight when it returns.
func (s *State) batch(dc int, q *dcQueue) (Batch, bool) {
	first, ok := q.front()
	if !ok || q.inflight >= s.cfg.MaxInFlight || s.parked(dc) || !s.due(q, first) {
		return Batch{}, false
	}
	b := Batch{DC: dc}
	limit := min(s.cfg.MaxMessages, s.cfg.MaxInFlight-q.inflight)
	for len(b.Calls) < limit {
		it, ok := q.front()
		if !ok {
			break
		}
		e := it.e
		size := max(e.call.Size, 1)
		if len(b.Calls) > 0 && b.Bytes+size > s.cfg.MaxBytes {
			break
		}
		q.pop()
		if _, _, shut := s.gates.closed(&e.call, s.now); shut {
			// The gate closed after the call was queued.
			s.place(e)
			continue
		}
		after := s.wrapAfter(e)
		s.pacedSent(e)
		e.ph = phInFlight
		e.stamp++
		e.attempts++
		q.inflight++
		s.stats.Sent++
		b.Bytes += size
		b.Calls = append(b.Calls, Sending{Call: &e.call, After: after, Attempt: e.attempts})
		// Dependents on this DC may follow in the same container.
		s.release(e)
	}
	if len(b.Calls) == 0 {
		return Batch{}, false
	}
	s.stats.Batches++
	return b, true
}
