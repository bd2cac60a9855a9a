package actors

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tlsched/tlsched/scheduler"
	"github.com/tlsched/tlsched/telemetry"
	"github.com/tlsched/tlsched/tl"
)

// Future is the pending result of one call. Wait for it with Wait.
type Future struct {
	p *pending
}

// pending is one call from submission to its final outcome.
type pending struct {
	id     scheduler.CallID
	raw    rawRequest // the request, encoded once on the caller's goroutine
	method *tl.Definition
	peer   string
	// resendable: the method may go again under a new server-side session
	// (tl.Resendable; mtproto.Call.Resendable).
	resendable bool
	writes     bool // the call writes to peer's chat (slow mode, pacing)
	paid       bool // allow_paid_floodskip: paced by the paid rate only
	// claimed is set by the one resolve that sets the outcome; resolved,
	// under mu, once the outcome (body, err) is set.
	claimed  atomic.Bool
	resolved atomic.Bool
	dc       int
	size     int
	after    scheduler.CallID
	afterP   *pending      // the predecessor (After), checked at submission
	budget   time.Duration // FloodBudget; 0: the scheduler's threshold
	deadline time.Time     // the submitting context's deadline
	stop     func() bool   // unbinds the submitting context (context.AfterFunc)
	client   *Client
	// cancelCause is set once by Client.cancel, before the cancelMsg goes.
	cancelCause atomic.Pointer[error]
	// fut is the call's Future (&fut): no allocation of its own.
	fut Future

	mu sync.Mutex
	// done is made by the first who waits before the outcome is set (most
	// calls of a bulk sender are told by notify and never wait): closed
	// when it is set. Once resolved, a nil done reads as closed.
	done chan struct{}
	body []byte // TL result, once done without error
	err  error
	tel  *telemetry.Call // nil without telemetry
	// notify, if set, is the BatchCall.Notify to call with &fut once the
	// outcome is set.
	notify func(*Future)
}

// future returns the call's Future (newPending sets fut.p).
func (p *pending) future() *Future { return &p.fut }

// resolve sets the call's outcome, once: later calls do nothing (they
// return at once, maybe before the first has set it). Nothing outside the
// call (the span's exporters, notify) runs under mu.
func (p *pending) resolve(body []byte, err error) {
	if !p.claimed.CompareAndSwap(false, true) {
		return
	}
	if p.stop != nil {
		p.stop()
	}
	p.tel.End(err)
	p.mu.Lock()
	p.body, p.err = body, err
	p.resolved.Store(true)
	done := p.done
	p.mu.Unlock()
	if done != nil {
		close(done)
	}
	if p.notify != nil {
		p.notify(p.future())
	}
}

// isDone reports whether the outcome is set (body and err may be read).
func (p *pending) isDone() bool { return p.resolved.Load() }

// doneChan is closed once the outcome is set; it is made on first use.
func (p *pending) doneChan() <-chan struct{} {
	if p.resolved.Load() {
		return closedChan
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.resolved.Load() {
		return closedChan
	}
	if p.done == nil {
		p.done = make(chan struct{})
	}
	return p.done
}

// closedChan is a closed channel: doneChan's for a call already resolved.
var closedChan = func() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}()

// Done is closed when the call has its final outcome.
func (f *Future) Done() <-chan struct{} { return f.p.doneChan() }

// Wait blocks until the call has its outcome or ctx ends. ctx bounds this
// wait only: when it ends Wait returns ctx's error and the call goes on
// (other waiters of the same future still get its outcome). To withdraw
// the call, Cancel it, or end the context it was submitted with.
// The result is the TL body of the answer; see Result for a decoded one.
func (f *Future) Wait(ctx context.Context) ([]byte, error) {
	if f.p.isDone() {
		return f.p.body, f.p.err
	}
	done := f.p.doneChan()
	if ctx.Done() == nil {
		// A context that never ends (Background, WithoutCancel): a plain
		// receive, much cheaper per call than a select.
		<-done
		return f.p.body, f.p.err
	}
	select {
	case <-done:
		return f.p.body, f.p.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Cancel withdraws the call: its outcome becomes a *scheduler.CanceledError
// wrapping context.Canceled, unless it already has one. A call not yet sent
// is never sent (the error matches scheduler.ErrNotSent); a call already
// sent may still run on the server (scheduler.ErrMayHaveRun), but it is
// never sent again. Its dependents (After) fail with
// *scheduler.ChainBrokenError. Cancel does not wait; Done is closed once
// the outcome is set.
func (f *Future) Cancel() { f.p.client.cancel(f.p, context.Canceled) }

// wait waits for the outcome of a call submitted with ctx: when ctx ends
// the call is being cancelled (Client.Go binds it), and wait returns the
// call's own outcome, which says whether it may have run.
func (f *Future) wait(ctx context.Context) ([]byte, error) {
	if f.p.isDone() {
		return f.p.body, f.p.err
	}
	done := f.p.doneChan()
	select {
	case <-done:
	case <-ctx.Done(): // a nil channel when ctx never ends
		f.p.client.cancel(f.p, ctx.Err())
		<-done
	}
	return f.p.body, f.p.err
}

// Result waits and decodes the answer by the method's result type (see
// tl.DecodeResult): a bin.Object of gotd's type, bool, []bin.Object, ...
func (f *Future) Result(ctx context.Context) (any, error) {
	body, err := f.Wait(ctx)
	if err != nil {
		return nil, err
	}
	return tl.DecodeResult(f.p.method, body)
}

// ID returns the call's id, unique within the client.
func (f *Future) ID() uint64 { return uint64(f.p.id) }
