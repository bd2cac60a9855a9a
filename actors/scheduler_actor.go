package actors

import (
	"errors"
	"fmt"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	protosched "github.com/asynkron/protoactor-go/scheduler"

	"github.com/tlsched/tlsched/scheduler"
	"github.com/tlsched/tlsched/tl"
)

// schedulerActor drives scheduler.State: it takes submissions, hands batches
// to its DC actor children, routes their results to the callers' futures and
// arms a timer for the state's next deadline. It is the parent and
// supervisor of the DC actors, and it holds everything that must survive a
// DC actor's restart (the pending calls; auth keys live in the Store).
type schedulerActor struct {
	d       schedulerDeps
	state   *scheduler.State
	pending map[scheduler.CallID]*pending
	bodies  map[scheduler.CallID][]byte // answers awaiting Done
	dcs     map[int]*actor.PID
	timer   *protosched.TimerScheduler
	cancel  protosched.CancelFunc
	timerAt time.Time
	ticking bool // a tickMsg is already in the mailbox
	drains  []chan struct{}
	// stopping: Stopping was received; submissions fail at once.
	stopping bool
	homeDC   int          // the state's home DC as last saved (homedc.go)
	learned  int          // the pacer's cuts and probes when its limits were last saved
	pacing   *pacingTrack // the pacer's waits and rates, shown (pacing_view.go)
	idle     idleTimer    // Config.IdleTimeout (idle.go)
}

// schedulerProps spawns a scheduler actor that supervises its DC actors
// with dcSupervisor.
func schedulerProps(d schedulerDeps) *actor.Props {
	return actor.PropsFromProducer(func() actor.Actor {
		if d.stopped.Load() {
			return &stoppedScheduler{d: d}
		}
		return newSchedulerActor(d)
	},
		actor.WithSupervisor(dcSupervisor(d.restartBackoff, d.restartWindow)),
		actor.WithGuardian(&schedulerSupervisor{maxRestarts: schedulerMaxRestarts, window: schedulerRestartWindow,
			stopped: d.stopped, log: d.log}))
}

func newSchedulerActor(d schedulerDeps) *schedulerActor {
	cfg := d.config
	if dc := d.homeDC.Load(); dc != 0 {
		// Restarted: the home DC a migration taught the last life stays
		// (TestHomeDCSurvivesSchedulerRestart).
		cfg.HomeDC = int(dc)
	}
	// A restarted scheduler's DC actors dial at once, as restarted DC
	// actors do: the openings of the last life's are forgotten (here, once
	// they have all stopped), the ends of keys kept (idle.go).
	d.dcRecords.forgetOpenings()
	state := scheduler.New(cfg)
	if d.limits != nil {
		if limits, err := d.limits.LoadLimits(); err != nil {
			d.log.Warn("load pacing limits", "err", err)
		} else {
			state.SetLimits(limits)
		}
	}
	return &schedulerActor{
		d:       d,
		state:   state,
		pending: make(map[scheduler.CallID]*pending),
		bodies:  make(map[scheduler.CallID][]byte),
		dcs:     make(map[int]*actor.PID),
		homeDC:  cfg.HomeDC,
		pacing:  newPacingTrack(cfg.Pacing.On, d.dc.telemetry, state),
		idle:    idleTimer{after: d.idleTimeout},
	}
}

// noteLimits saves the pacer's limits when it cut or raised one (force:
// whenever they are kept).
func (a *schedulerActor) noteLimits(force bool) {
	if a.d.limits == nil {
		return
	}
	st := a.state.PacingStats()
	n := st.ChatCuts + st.BurstCuts + st.AccountCuts + st.AccountBurstCuts + st.Probes
	if n == a.learned && !force {
		return
	}
	a.learned = n
	if err := a.d.limits.SaveLimits(a.state.Limits()); err != nil {
		a.d.log.Warn("save pacing limits", "err", err)
	}
}

// noteHomeDC saves the home DC when a migration has moved it.
func (a *schedulerActor) noteHomeDC() {
	if dc := a.state.HomeDC(); dc != a.homeDC {
		a.homeDC = dc
		a.d.homeDC.Store(int64(dc))
		if a.d.saveHomeDC != nil {
			a.d.saveHomeDC(dc)
		}
	}
}

func (a *schedulerActor) Receive(ctx actor.Context) {
	if m, ok := ctx.Message().(*submitMsg); ok && a.stopping {
		// Left in the mailbox while stopping; Close refuses calls before
		// it stops us, so this is an unexpected stop.
		failSubmit(m, errStoppedNotSent, a.d.release)
		return
	}
	now := a.d.clock.now()
	switch m := ctx.Message().(type) {
	case *actor.Started:
		a.timer = protosched.NewTimerScheduler(ctx)
	case *submitMsg:
		// Every call of the message is pending before any is submitted: if
		// one makes Receive panic, the Restarting handler fails them all
		// (TestPanicMidSubmitFailsWholeMessage).
		for _, p := range m.calls {
			a.pending[p.id] = p
		}
		for _, p := range m.calls {
			if err := a.admit(p); err != nil {
				a.finish(scheduler.Done{ID: p.id, Err: err})
				continue
			}
			done, err := a.state.Submit(now, scheduler.Call{
				ID: p.id, Method: p.method.Name, Peer: p.peer, Writes: p.writes, DC: p.dc, Size: p.size,
				After: p.after, FloodBudget: p.budget, Deadline: a.d.clock.at(p.deadline), PaidFloodskip: p.paid, Payload: p,
			})
			if err != nil {
				// Refused (the queue is full): never sent.
				a.finish(scheduler.Done{ID: p.id, Err: fmt.Errorf("%w (%w)", err, scheduler.ErrNotSent)})
				continue
			}
			a.pacing.submitted(a.state, p.id, now)
			a.finishAll(done)
		}
		a.pump(ctx, now)
	case *resultsMsg:
		for _, r := range m.results {
			id := scheduler.CallID(r.Call)
			if r.Err == nil {
				a.bodies[id] = r.Body
			} else if fw, ok := tl.AsFloodWait(r.Err); ok {
				a.pacing.floodWait(fw.Duration)
				if p := a.pending[id]; p != nil {
					p.tel.FloodWait(fw.Duration)
				}
			}
			a.finishAll(a.state.Complete(now, id, r.Err))
			delete(a.bodies, id)
		}
		a.noteHomeDC()
		a.noteLimits(false)
		a.pump(ctx, now)
	case *lostMsg:
		a.finishAll(a.state.Lost(now, m.dc, m.calls, m.err))
		a.pump(ctx, now)
	case *dcDownMsg:
		if m.fatal {
			a.finishAll(a.state.DCFailed(now, m.dc, m.err))
		} else {
			a.finishAll(a.state.DCDown(now, m.dc, m.err))
		}
		a.pump(ctx, now)
	case *dcConnectedMsg:
		a.finishAll(a.state.DCConnected(now, m.dc))
		a.pump(ctx, now)
	case *dcUpMsg:
		a.finishAll(a.state.DCUp(now, m.dc))
		a.pump(ctx, now)
	case *cancelMsg:
		if dc, ok := a.state.InFlightOn(m.id); ok {
			// Its DC actor must not send it again either (a resend after
			// a reconnect, a bad salt, a new session); it reports the
			// call back, which ends the scheduler's record of it.
			if pid := a.dcs[dc]; pid != nil {
				ctx.Send(pid, &dcCancelMsg{id: m.id})
			}
		}
		a.finishAll(a.state.Cancel(now, m.id, m.cause))
		a.pump(ctx, now)
	case *tickMsg:
		a.ticking = false
		a.pump(ctx, now)
	case *timerMsg:
		a.cancel, a.timerAt = nil, time.Time{}
		a.pump(ctx, now)
	case *statsMsg:
		if m.reply != nil {
			m.reply <- a.state.Stats()
		}
		if m.pacing != nil {
			m.pacing <- a.pacing.report(a.state)
		}
	case *idleMsg:
		a.onIdle(ctx, m)
	case *panicMsg:
		panic("scheduler actor: failure requested")
	case *failDCMsg:
		if pid := a.dcs[m.dc]; pid != nil {
			ctx.Send(pid, &panicMsg{})
		}
	case *drainMsg:
		a.drains = append(a.drains, m.done)
		a.checkDrained()
	case *actor.Restarting:
		// A bug made Receive panic; protoactor restarts us with a fresh
		// state (or a stoppedScheduler, scheduler_supervisor.go). What was
		// sent is unknown, so no caller is left waiting: every pending call
		// fails with a clear error, and a Close waiting for them goes on.
		if a.d.stopped.Load() {
			a.failPending(errStoppedMayHaveRun)
		} else {
			a.failPending(ErrSchedulerRestarted)
		}
		a.checkDrained()
	case *actor.Stopping:
		if a.d.closed.Load() {
			a.failPending(ErrClosed)
		} else {
			// Stopped, not by Close: the Client serves no more calls.
			a.d.stopped.Store(true)
			a.failPending(errStoppedMayHaveRun)
		}
		a.stopping = true
		a.checkDrained()
	case *actor.Stopped:
		// Saved once the DC actors (children) have stopped and closed
		// their connections: saving may wait on a remote store (etcd in
		// cluster mode).
		a.noteLimits(true)
	}
	a.checkIdle(ctx)
}

// ErrSchedulerRestarted fails the calls pending when the scheduler actor
// crashed and was restarted: they may or may not have reached the server,
// so it matches scheduler.ErrMayHaveRun.
var ErrSchedulerRestarted error = &unansweredError{msg: "tlsched: scheduler restarted after a failure; the call may or may not have run", kind: scheduler.ErrMayHaveRun}

// unansweredError is a fixed error that matches one of the scheduler's
// unanswered kinds (scheduler.ErrNotSent, scheduler.ErrMayHaveRun), and
// through Unwrap its cause, if any.
type unansweredError struct {
	msg   string
	kind  error
	cause error
}

func (e *unansweredError) Error() string        { return e.msg }
func (e *unansweredError) Is(target error) bool { return target == e.kind }
func (e *unansweredError) Unwrap() error        { return e.cause }

func (a *schedulerActor) failPending(err error) {
	if a.cancel != nil {
		a.cancel()
		a.cancel = nil
	}
	for id, p := range a.pending {
		p.resolve(nil, err)
		delete(a.pending, id)
		a.d.release()
	}
}

// admit checks a call about to be submitted: one cancelled before it got
// here is not submitted, and its predecessor (After) is checked against
// its own outcome, so that the scheduler sees After only for a
// predecessor it holds. (A predecessor not done yet is pending here: its
// outcome is set on this goroutine.)
func (a *schedulerActor) admit(p *pending) error {
	if cause := p.cancelCause.Load(); cause != nil {
		return &scheduler.CanceledError{Err: *cause}
	}
	q := p.afterP
	if q == nil {
		return nil
	}
	p.afterP = nil // a chain must not keep every finished call alive
	if q.isDone() {
		p.after = 0
		if q.err != nil {
			return &scheduler.ChainBrokenError{Pred: q.id, Err: q.err}
		}
	} else if a.pending[q.id] != q {
		return &scheduler.ChainBrokenError{Pred: q.id, Err: errors.New("predecessor was never submitted")}
	}
	return nil
}

func (a *schedulerActor) finishAll(done []scheduler.Done) {
	for _, d := range done {
		a.finish(d)
	}
}

func (a *schedulerActor) finish(d scheduler.Done) {
	p := a.pending[d.ID]
	if p == nil {
		return
	}
	delete(a.pending, d.ID)
	a.pacing.done(d.ID)
	if d.Err != nil {
		p.resolve(nil, d.Err)
	} else {
		body := a.bodies[d.ID]
		if a.d.onResult != nil {
			a.showResult(p, body)
		}
		p.resolve(body, nil)
	}
	a.d.release()
}

// showResult runs the Config.OnResult hook. The call has left pending
// already, so a panic in the hook must not reach protoactor (a restart
// would leave its caller waiting): it is logged, and the caller gets the
// result (TestPanickingOnResultStillResolves).
func (a *schedulerActor) showResult(p *pending, body []byte) {
	defer func() {
		if r := recover(); r != nil {
			a.d.log.Error("OnResult hook panicked", "method", p.method.Name, "panic", r)
		}
	}()
	a.d.onResult(p.method, body)
}

// gauges publishes the in-flight and queued counts for telemetry.
func (a *schedulerActor) gauges() {
	if a.d.gauges == nil {
		return
	}
	f := 0
	for dc := range a.dcs {
		f += a.state.InFlight(dc)
	}
	a.d.gauges(int64(f), int64(a.state.Len()-f))
}

// pump sends what is ready and arms the timer for the next deadline.
func (a *schedulerActor) pump(ctx actor.Context, now time.Time) {
	defer a.gauges()
	a.pacing.catchUp(a.state, now)
	batches, done := a.state.Ready(now)
	a.pacing.sentBatches(batches, a.pending, now)
	a.pacing.catchUp(a.state, now)
	a.pacing.publish(a.state)
	a.finishAll(done)
	for _, b := range batches {
		pid, err := a.dc(ctx, b.DC)
		if err != nil {
			err = fmt.Errorf("%w (%w)", err, scheduler.ErrNotSent)
			for _, s := range b.Calls {
				a.finishAll(a.state.Complete(now, s.Call.ID, err))
			}
			continue
		}
		ctx.Send(pid, &batchMsg{batch: b})
	}
	a.arm(ctx, now)
	a.checkDrained()
}

func (a *schedulerActor) arm(ctx actor.Context, now time.Time) {
	at, ok := a.state.NextDeadline()
	if !ok {
		return
	}
	if !at.After(now) {
		if !a.ticking {
			a.ticking = true
			ctx.Send(ctx.Self(), &tickMsg{})
		}
		return
	}
	if a.cancel != nil && !at.Before(a.timerAt) {
		return // an earlier timer is armed
	}
	if a.cancel != nil {
		a.cancel()
	}
	a.timerAt = at
	a.cancel = a.timer.SendOnce(a.d.clock.real(at.Sub(now)), ctx.Self(), &timerMsg{})
}

func (a *schedulerActor) checkDrained() {
	if len(a.pending) > 0 || len(a.drains) == 0 {
		return
	}
	for _, d := range a.drains {
		close(d)
	}
	a.drains = nil
}

// dc returns the DC actor for an id, spawning it on first use.
func (a *schedulerActor) dc(ctx actor.Context, id int) (*actor.PID, error) {
	if pid := a.dcs[id]; pid != nil {
		return pid, nil
	}
	addr, ok := a.d.dcs[id]
	if !ok {
		return nil, fmt.Errorf("tlsched: unknown dc %d (configured: %v)", id, dcIDs(a.d.dcs))
	}
	d := a.d.dc
	d.openings = a.dialRecord(id)
	pid := ctx.Spawn(actor.PropsFromProducer(func() actor.Actor { return newDCActor(d, id, addr) }))
	a.dcs[id] = pid
	return pid, nil
}

func dcIDs(m map[int]string) []int {
	var ids []int
	for id := range m {
		ids = append(ids, id)
	}
	return ids
}
