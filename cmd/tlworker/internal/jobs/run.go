package jobs

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gotd/td/bin"

	"github.com/tlsched/tlsched/actors"
	"github.com/tlsched/tlsched/entitycache"
	"github.com/tlsched/tlsched/tl"
)

// Sender submits one request and returns its call at once. The call goes
// to DC dc when dc > 0 (else the home DC), and runs strictly after the
// call after when after is not nil (an invokeAfterMsg chain; after is a
// Call this Sender returned). Actors adapts an actors.Client.
type Sender interface {
	Send(ctx context.Context, req bin.Encoder, dc int, after Call) (Call, error)
}

// Call is a request submitted through a Sender.
type Call interface {
	// Wait blocks until the call has its result (the TL body) or fails,
	// or ctx ends.
	Wait(ctx context.Context) ([]byte, error)
}

// Peers builds a request with peer shorthands resolved (r) and sends it
// through inv; *entitycache.Cache is one (it may build and send twice when
// the server rejects a cached access hash).
type Peers interface {
	Invoke(ctx context.Context, inv entitycache.Invoker, build func(ctx context.Context, r tl.Resolver) (bin.Encoder, error), res bin.Decoder) error
}

// Actors is a Sender that submits through an actors.Client.
func Actors(c *actors.Client) Sender { return actorSender{c} }

type actorSender struct{ c *actors.Client }

func (s actorSender) Send(ctx context.Context, req bin.Encoder, dc int, after Call) (Call, error) {
	var opts []actors.Option
	if dc > 0 {
		opts = append(opts, actors.OnDC(dc))
	}
	if after != nil {
		opts = append(opts, actors.After(after.(*actors.Future)))
	}
	f, err := s.c.Go(ctx, req, opts...)
	if err != nil {
		return nil, err
	}
	return f, nil
}

// run sends one job and writes its result line. ctx is not cancelled by
// a signal (see workers).
func (r *runner) run(ctx context.Context, t task) {
	j, st, pred := t.j, t.st, t.pred
	defer r.wg.Done()
	var after Call
	if pred != nil {
		switch ok, earlier := r.done[j.After]; {
		case earlier && !ok:
			st.end(failed)
			r.finish(t, &Result{ID: j.ID, Error: &Error{Message: fmt.Sprintf("not run: job %q it must run after failed in an earlier run", j.After)}})
			return
		case earlier:
			// Done in an earlier run: nothing to wait for.
		default:
			call, o := pred.await()
			switch {
			case o == succeeded:
				// It ran already: nothing to wait for.
			case o == dropped:
				// Neither gets a line: --resume runs both, in order.
				st.end(dropped)
				r.finish(t, nil)
				return
			case o == unsent:
				// Neither was sent: --resume --retry-not-sent runs both.
				st.end(unsent)
				r.finish(t, &Result{ID: j.ID, Error: &Error{Message: fmt.Sprintf("not run: job %q it must run after was not sent", j.After), Kind: KindNotSent}})
				return
			case call == nil:
				st.end(failed)
				r.finish(t, &Result{ID: j.ID, Error: &Error{Message: fmt.Sprintf("not run: job %q it must run after was not sent", j.After)}})
				return
			case o == failed:
				st.end(failed)
				r.finish(t, &Result{ID: j.ID, Error: &Error{Message: fmt.Sprintf("not run: job %q it must run after failed", j.After)}})
				return
			default:
				// In flight: the scheduler orders this one after it
				// (invokeAfterMsg), and fails it if that one fails.
				after = call
			}
		}
	}
	// One allocation for the job's sending: the invoker holds the job, its
	// result and the buffer it is decoded from.
	inv := &jobInvoker{s: t.acct.Sender, dc: j.DC, after: after, st: st, j: j, def: t.m.def}
	res := &inv.res
	start := time.Now()
	err := t.m.err
	if err == nil {
		err = t.acct.Peers.Invoke(ctx, inv, inv.build, res)
	}
	kind := ""
	if err != nil {
		kind = unanswered(err)
		if !inv.sent && kind != "" {
			// Resolving a peer got no answer: the job itself never left.
			kind = KindNotSent
		}
	}
	switch {
	case err == nil:
		st.end(succeeded)
	case r.closing.Load() && (errors.Is(err, actors.ErrClosed) || errors.Is(err, context.Canceled)):
		st.end(dropped)
		r.finish(t, nil)
		return // not a result: --resume runs it again
	case kind == KindNotSent:
		st.end(unsent)
	default:
		st.end(failed)
	}
	if err == nil {
		// The result's JSON goes straight into its line.
		lat := msOf(time.Since(start))
		jerr := r.w.writeOK(j.ID, t.acct.Name, res.b, t.m.def.Type, lat, r.json)
		if jerr == nil {
			r.counted(true)
			if r.router != nil {
				r.router.Finished(t.acct.Name, &Result{ID: j.ID, Account: t.acct.Name, OK: true})
			}
			return
		}
		l := lat // on the heap only on this path
		r.finish(t, &Result{ID: j.ID, Error: &Error{Message: fmt.Sprintf("the call succeeded but its result could not be read: %v", jerr)}, LatencyMS: &l})
		return
	}
	o := Result{ID: j.ID}
	if inv.sent {
		o.Error = failure(err)
	} else {
		// Never sent (bad params, a peer that cannot be resolved): code 0,
		// and the message says which line and why.
		o.Error = &Error{Message: fmt.Sprintf("line %d: %v", j.line, err), Kind: kind}
	}
	r.unreachable.note(err, o.Error.Kind)
	r.finish(t, &o)
}

// finish writes a routed job's result line (nil: it has none), naming its
// account, and tells the Router the job is done.
func (r *runner) finish(t task, o *Result) {
	if o != nil {
		o.Account = t.acct.Name
		r.result(*o)
	}
	if r.router != nil {
		r.router.Finished(t.acct.Name, o)
	}
}

// jobInvoker sends a job's request through the sender with its DC and
// predecessor, and records the first attempt's call for jobs chained
// after it.
type jobInvoker struct {
	s     Sender
	dc    int
	after Call
	st    *jobState
	sent  bool
	j     job
	def   *tl.Definition // j's method
	res   rawResult      // the result, decoded from buf
	buf   bin.Buffer
}

// build is the job's request with its peers resolved by rv, and a missing
// random_id derived from the job's id: a *tl.Request, encoded once, which
// actors sends as it is. One method value per job, not two closures.
func (j *jobInvoker) build(ctx context.Context, rv tl.Resolver) (bin.Encoder, error) {
	return tl.EncodeParams(ctx, j.def, j.j.Params, tl.DecodeOptions{Resolver: rv, RandomID: j.randomID})
}

func (j *jobInvoker) randomID() int64 { return randomID(j.j.ID) }

func (j *jobInvoker) Invoke(ctx context.Context, req bin.Encoder, res bin.Decoder) error {
	f, err := j.s.Send(ctx, req, j.dc, j.after)
	if err != nil {
		return err
	}
	j.sent = true
	j.st.submit(f) // only the first attempt's counts
	body, err := f.Wait(ctx)
	if err != nil {
		return err
	}
	j.buf.Buf = body
	return res.Decode(&j.buf)
}

// rawResult keeps a result's bytes. It keeps the buffer's bytes, not a
// copy: jobInvoker.Invoke decodes it from the call's own body (Call.Wait),
// which nothing writes to, and the result is only read.
type rawResult struct{ b []byte }

func (r *rawResult) Decode(b *bin.Buffer) error {
	r.b = b.Buf
	return nil
}
