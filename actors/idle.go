package actors

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	protosched "github.com/asynkron/protoactor-go/scheduler"
)

// Idle stop (Config.IdleTimeout, issue 18): an account that has had no
// call pending for IdleTimeout stops its DC actors, closing their
// connections and saving their salts and time offset with the key
// (dc_actor.go, Stopping: saveSession), so that a Fleet's idle accounts
// hold no socket and no goroutine. The next call spawns the DC actor
// again, which opens a new MTProto session under the same key with the
// saved salts, as after a process restart
// (TestFleetIdleAccountClosesConnections). An account
// with an UpdateHandler never stops: its connections carry its updates. A
// DC in an outage (scheduler.State.Unreachable) keeps its DC actor until
// the outage is over: the scheduler holds that DC's calls back until the
// actor reports a connection, so it must be there to make one.

// idleMsg is the idle timer firing; gen tells a stale one from the last
// one armed.
type idleMsg struct{ gen int }

// idleCounts counts what the idle timer did over the account's life
// (every life of its scheduler actor): tests wait for these events
// rather than sleep through the timeout.
type idleCounts struct {
	armed atomic.Int64 // timers armed
	fired atomic.Int64 // timers that fired still current (an idle check made)
}

// idleTimer is the scheduler actor's idle-stop state.
type idleTimer struct {
	after  time.Duration // Config.IdleTimeout; 0: never
	gen    int
	cancel protosched.CancelFunc
}

// checkIdle arms the idle timer when the account has DC actors and no
// pending call, and disarms it when a call is pending.
func (a *schedulerActor) checkIdle(ctx actor.Context) {
	t := &a.idle
	if t.after <= 0 || a.d.dc.updates != nil || a.stopping {
		return
	}
	busy := len(a.pending) > 0 || len(a.dcs) == 0
	switch {
	case busy && t.cancel != nil:
		t.cancel()
		t.cancel = nil
		t.gen++
	case !busy && t.cancel == nil:
		t.gen++
		t.cancel = a.timer.SendOnce(t.after, ctx.Self(), &idleMsg{gen: t.gen})
		a.d.idleSeen.armed.Add(1)
	}
}

// onIdle stops the DC actors if nothing was pending since the timer was
// armed.
func (a *schedulerActor) onIdle(ctx actor.Context, m *idleMsg) {
	if m.gen != a.idle.gen || a.idle.cancel == nil {
		return // disarmed or re-armed since
	}
	a.idle.cancel = nil
	defer a.d.idleSeen.fired.Add(1)
	if len(a.pending) > 0 {
		return
	}
	for id, pid := range a.dcs {
		if a.state.Unreachable(id) && a.dialRecord(id).keyEnded() == nil {
			// Its DC actor is what ends the outage: without it the DC's
			// calls would be held back (or refused) for good. The timer,
			// armed again, looks once more later. (A DC whose key ended
			// stays refused whatever its actor does.)
			continue
		}
		ctx.Stop(pid)
		delete(a.dcs, id)
	}
	a.d.log.Debug("account idle: connections closed", "after", a.idle.after, "kept", len(a.dcs))
}

// dialRecord keeps a DC's recent connection openings across the lives of
// its DC actor that idle stops end, so that reopening after an idle stop
// still keeps to Config.DialLimits
// (TestFleetIdleReopenKeepsDialLimits). A supervisor restart clears it:
// the restarted actor dials at once (Config.RestartBackoff).
//
// It also keeps the end of the DC's auth key (the -404 and 406 policies,
// authkey.go) across every later life, restarts included: a DC actor
// restarted after its key was lost or revoked must not dial with it again.
type dialRecord struct {
	mu     sync.Mutex
	opened []time.Time
	keyEnd error // *AuthKeyLostError or *AuthKeyDuplicatedError
}

// endKey records that the DC's key ended with err.
func (r *dialRecord) endKey(err error) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.keyEnd = err
}

// keyEnded returns why the DC's key ended, or nil.
func (r *dialRecord) keyEnded() error {
	if r == nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.keyEnd
}

// seed gives a new DC actor's limiter the openings of its previous lives.
func (r *dialRecord) seed(l *dialLimiter) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	l.opened = append(l.opened[:0], r.opened...)
}

// keep records the limiter's openings; nil forgets them.
func (r *dialRecord) keep(l *dialLimiter) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if l == nil {
		r.opened = nil
		return
	}
	r.opened = append(r.opened[:0], l.opened...)
}

// dialRecord returns the record of DC id's openings, made on first use.
func (a *schedulerActor) dialRecord(id int) *dialRecord { return a.d.dcRecords.get(id) }

// dcRecords holds each DC's dialRecord for the Client's life: they outlive
// the scheduler actor's lives too, so that a DC whose key ended stays so
// after a restart of the scheduler (which stops its DC actors).
type dcRecords struct {
	mu sync.Mutex
	m  map[int]*dialRecord
}

// get returns DC id's record, made on first use.
func (r *dcRecords) get(id int) *dialRecord {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.m == nil {
		r.m = map[int]*dialRecord{}
	}
	d := r.m[id]
	if d == nil {
		d = &dialRecord{}
		r.m[id] = d
	}
	return d
}

// forgetOpenings clears every DC's openings (not the ends of keys): the
// DC actors of a restarted scheduler dial at once, as restarted DC actors
// do.
func (r *dcRecords) forgetOpenings() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, d := range r.m {
		d.keep(nil)
	}
}
