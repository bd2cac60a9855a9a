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
		if a.state.Unreachable(id) {
			// Its DC actor is what ends the outage: without it the DC's
			// calls would be held back (or refused) for good. The timer,
			// armed again, looks once more later.
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
type dialRecord struct {
	mu     sync.Mutex
	opened []time.Time
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
func (a *schedulerActor) dialRecord(id int) *dialRecord {
	if a.dialRecords == nil {
		a.dialRecords = map[int]*dialRecord{}
	}
	r := a.dialRecords[id]
	if r == nil {
		r = &dialRecord{}
		a.dialRecords[id] = r
	}
	return r
}
