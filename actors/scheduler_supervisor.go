package actors

import (
	"errors"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/tlsched/tlsched/scheduler"
)

// Supervision of the scheduler actor. A panic in it is a bug: it is
// restarted at once with a fresh scheduler.State, and the calls it held fail
// with ErrSchedulerRestarted. A bug that keeps firing (more than
// schedulerMaxRestarts failures within schedulerRestartWindow, protoactor's
// own default limits) makes the Client give up: the actor is not stopped,
// which would drop the calls in its mailbox, but restarted as a
// stoppedScheduler that fails every call it is handed, and the Client
// refuses later calls at once; all of them match ErrSchedulerStopped, and
// Close returns (TestSchedulerFailingForGoodFailsEveryCall). Should the
// actor stop any other way, its pending calls fail the same way and calls
// sent to it after are resolved from protoactor's dead letters
// (TestSchedulerStoppedUnexpectedlyResolvesCalls).
const (
	schedulerMaxRestarts   = 10
	schedulerRestartWindow = 10 * time.Second
)

// ErrSchedulerStopped is matched by the error of every call failed or
// refused because the scheduler actor failed too often (a bug: more than 10
// panics within 10 s). The Client serves no more calls; Close it. A call
// the actor held may have run (it also matches scheduler.ErrMayHaveRun); a
// call refused or handed to it afterwards was not sent (it also matches
// scheduler.ErrNotSent).
var ErrSchedulerStopped = errors.New("tlsched: scheduler actor stopped after repeated failures")

var (
	errStoppedMayHaveRun error = &unansweredError{
		msg:   "tlsched: scheduler actor stopped after repeated failures; the call may or may not have run",
		kind:  scheduler.ErrMayHaveRun,
		cause: ErrSchedulerStopped,
	}
	errStoppedNotSent error = &unansweredError{
		msg:   "tlsched: scheduler actor stopped after repeated failures; the call was not sent",
		kind:  scheduler.ErrNotSent,
		cause: ErrSchedulerStopped,
	}
)

// schedulerSupervisor restarts the failed scheduler actor; past the limits
// it sets stopped first, so the actor's producer makes a stoppedScheduler.
type schedulerSupervisor struct {
	maxRestarts int
	window      time.Duration
	stopped     *atomic.Bool
	log         *slog.Logger
}

func (s *schedulerSupervisor) HandleFailure(_ *actor.ActorSystem, sup actor.Supervisor, child *actor.PID, rs *actor.RestartStatistics, reason, _ any) {
	rs.Fail()
	if n := rs.NumberOfFailures(s.window); n > s.maxRestarts {
		if !s.stopped.Swap(true) {
			s.log.Error("scheduler actor failed too often: every call fails from now on", "failures", n, "within", s.window, "reason", reason)
		}
	} else {
		s.log.Error("scheduler actor failed: restarting it, its calls fail", "reason", reason)
	}
	sup.RestartChildren(child)
}

// stoppedScheduler stands in for the scheduler actor once it has failed too
// often: it fails every call it is handed.
type stoppedScheduler struct{ d schedulerDeps }

func (s *stoppedScheduler) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *submitMsg:
		failSubmit(m, errStoppedNotSent, s.d.release)
	case *drainMsg:
		close(m.done)
	case *statsMsg:
		if m.reply != nil {
			m.reply <- scheduler.Stats{}
		}
		if m.pacing != nil {
			m.pacing <- PacingReport{}
		}
	}
}

// failSubmit fails every call of a submission no scheduler took.
func failSubmit(m *submitMsg, err error, release func()) {
	for _, p := range m.calls {
		p.resolve(nil, err)
		release()
	}
}

// deadLetters resolves what reaches the scheduler actor after it stopped
// (Close refuses calls before it stops it, so only an unexpected stop
// leaves any): protoactor publishes a message sent to a stopped actor on
// the system's EventStream as a *actor.DeadLetterEvent, on the sender's
// goroutine.
func (c *Client) deadLetters(ev any) {
	dl, ok := ev.(*actor.DeadLetterEvent)
	if !ok || dl.PID == nil || !dl.PID.Equal(c.sched) {
		return
	}
	switch m := dl.Message.(type) {
	case *submitMsg:
		failSubmit(m, errStoppedNotSent, c.released)
	case *drainMsg:
		close(m.done)
	}
}
