package actors

import (
	"context"
	"sync"

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
	// resendable: the method may go again under a new server-side session
	// (tl.Resendable; mtproto.Call.Resendable).
	resendable bool
	peer       string
	dc         int
	size       int
	after      scheduler.CallID
	client     *Client

	once sync.Once
	done chan struct{}
	body []byte // TL result, once done without error
	err  error
	tel  *telemetry.Call // nil without telemetry
}

func (p *pending) resolve(body []byte, err error) {
	p.once.Do(func() {
		p.tel.End(err)
		p.body, p.err = body, err
		close(p.done)
	})
}

// Done is closed when the call has its final outcome.
func (f *Future) Done() <-chan struct{} { return f.p.done }

// Wait blocks until the call is answered or ctx ends. If ctx ends first, a
// call not yet sent is withdrawn; a sent call's late result is dropped.
// The result is the TL body of the answer; see Result for a decoded one.
func (f *Future) Wait(ctx context.Context) ([]byte, error) {
	if ctx.Done() == nil {
		// A context that never ends (Background, WithoutCancel): a plain
		// receive, much cheaper per call than a select.
		<-f.p.done
		return f.p.body, f.p.err
	}
	select {
	case <-f.p.done:
		return f.p.body, f.p.err
	default:
	}
	select {
	case <-f.p.done:
		return f.p.body, f.p.err
	case <-ctx.Done():
		f.p.client.cancel(f.p)
		return nil, ctx.Err()
	}
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
