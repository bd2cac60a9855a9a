package jobs

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/gotd/td/bin"

	"github.com/tlsched/tlsched/actors"
	"github.com/tlsched/tlsched/entitycache"
	"github.com/tlsched/tlsched/tl"
)

// Sender submits requests and returns at once, telling of each call's
// outcome as it is ready. Actors adapts an actors.Client.
type Sender interface {
	// Send submits the calls of subs together, in slice order, and sets
	// each one's Call, or its Err when it was not submitted (a request
	// that cannot be encoded); an error returned means none was submitted.
	// A call goes to DC sub.DC when it is above 0 (else the home DC), and
	// runs strictly after sub.After when that is set (an invokeAfterMsg
	// chain; a Call this Sender returned, maybe of the same subs). notify
	// is called once with each submitted call's Call when its outcome is
	// ready, from any goroutine; it must not block.
	Send(ctx context.Context, subs []Submit, notify func(Call)) error
}

// Submit is one call of Sender.Send.
type Submit struct {
	Req   bin.Encoder
	DC    int
	After Call
	// Call and Err are set by Send.
	Call Call
	Err  error
}

// Call is a request submitted through a Sender.
type Call interface {
	// Wait blocks until the call has its result (the TL body) or fails,
	// or ctx ends; once the call's notify has come, it returns at once.
	Wait(ctx context.Context) ([]byte, error)
}

// Peers builds a request with peer shorthands resolved and, once it has
// been sent, builds it again when the server rejected a cached access hash
// (entitycache.Prepared.Retry); *entitycache.Cache is one.
type Peers interface {
	Build(ctx context.Context, build func(ctx context.Context, r tl.Resolver) (bin.Encoder, error)) (*entitycache.Prepared, error)
}

// Actors is a Sender that submits through an actors.Client: a batch of
// jobs is one message to its scheduler actor (actors.Client.GoBatch).
func Actors(c *actors.Client) Sender { return &actorSender{c: c} }

type actorSender struct {
	c *actors.Client
}

func (s *actorSender) Send(ctx context.Context, subs []Submit, notify func(Call)) error {
	calls := make([]actors.BatchCall, len(subs))
	nf := func(f *actors.Future) { notify(f) }
	for i, sub := range subs {
		calls[i] = actors.BatchCall{Req: sub.Req, DC: sub.DC, Notify: nf}
		if sub.After != nil {
			calls[i].After = sub.After.(*actors.Future)
		}
	}
	if err := s.c.GoBatch(ctx, calls); err != nil {
		return err
	}
	for i := range calls {
		if calls[i].Err != nil {
			subs[i].Call, subs[i].Err = nil, calls[i].Err
		} else {
			subs[i].Call, subs[i].Err = calls[i].Future, nil
		}
	}
	return nil
}

// batchSize is how many jobs a worker keeps in flight: those it finds
// waiting are submitted together (one message to each account's
// scheduler actor), and their lines written as each finishes, without a
// goroutine parked per job.
const batchSize = 32

// batch is one worker and its jobs in flight.
type batch struct {
	r *runner
	// signal ends when the run is interrupted: jobs read and not yet
	// started are then dropped (no line: --resume runs them), not sent.
	signal context.Context
	size   int        // jobs in flight at most
	groups []group    // per account, the jobs built and not yet submitted
	flying []*jobRun  // submitted, waiting for their notify
	calls  []Call     // flying[i].call: scanned without touching each job
	done   chan Call  // notifies; room for every job in flight
	notify func(Call) // sends to done
}

// group is the jobs of one account built and not yet submitted.
type group struct {
	acct Account
	runs []*jobRun
	subs []Submit
}

func newBatch(r *runner, size int, signal context.Context) *batch {
	b := &batch{r: r, signal: signal, size: size, done: make(chan Call, size)}
	b.notify = func(c Call) { b.done <- c }
	return b
}

// jobRun is one job from its start to its line: one allocation for the
// job's sending.
type jobRun struct {
	t     task
	after Call
	prep  *entitycache.Prepared
	call  Call // the attempt in flight
	sent  bool // an attempt was submitted
	start time.Time
}

// work runs jobs from tasks until it is closed and the last is done:
// whenever it has room it starts the jobs waiting in tasks (builds them,
// in input order) and submits them together, and it writes each job's
// line as the job finishes. ctx is not cancelled by a signal (see
// workers).
func (b *batch) work(ctx context.Context, tasks <-chan task) {
	for tasks != nil || len(b.flying) > 0 {
		if tasks == nil || len(b.flying) == b.size {
			b.finished(ctx, <-b.done)
			continue
		}
		var t task
		var open bool
		if len(b.flying) == 0 {
			t, open = <-tasks
		} else {
			select {
			case c := <-b.done:
				b.finished(ctx, c)
				continue
			case t, open = <-tasks:
			}
		}
		if !open {
			tasks = nil
			continue
		}
		b.start(ctx, t)
		// Those waiting already go with it.
		for started := 1; len(b.flying)+started < b.size; started++ {
			more := false
			select {
			case t, more = <-tasks:
				if !more {
					tasks = nil
				}
			default:
			}
			if !more {
				break
			}
			b.start(ctx, t)
		}
		b.submit(ctx)
	}
}

// start checks a job's predecessor and builds its request, ending the job
// at once when it cannot run; a job that can is held for submit.
func (b *batch) start(ctx context.Context, t task) {
	r := b.r
	j, st, pred := t.j, t.st, t.pred
	select {
	case <-b.signal.Done(): // a channel receive, not Err's lock, per job
		// Interrupted: a job read ahead and not started is not sent.
		st.end(dropped)
		r.over(t, nil)
		return
	default:
	}
	var after Call
	if pred != nil {
		switch ok, earlier := r.done[j.After]; {
		case earlier && !ok:
			st.end(failed)
			r.over(t, &Result{ID: j.ID, Error: &Error{Message: fmt.Sprintf("not run: job %q it must run after failed in an earlier run", j.After)}})
			return
		case earlier:
			// Done in an earlier run: nothing to wait for.
		default:
			if !pred.isSubmitted() {
				// It may be one of ours, built and not yet submitted: no
				// job waits for a job its own worker holds back.
				b.submit(ctx)
			}
			call, o := pred.await()
			switch {
			case o == succeeded:
				// It ran already: nothing to wait for.
			case o == dropped:
				// Neither gets a line: --resume runs both, in order.
				st.end(dropped)
				r.over(t, nil)
				return
			case o == unsent:
				// Neither was sent: --resume --retry-not-sent runs both.
				st.end(unsent)
				r.over(t, &Result{ID: j.ID, Error: &Error{Message: fmt.Sprintf("not run: job %q it must run after was not sent", j.After), Kind: KindNotSent}})
				return
			case call == nil:
				st.end(failed)
				r.over(t, &Result{ID: j.ID, Error: &Error{Message: fmt.Sprintf("not run: job %q it must run after was not sent", j.After)}})
				return
			case o == failed:
				st.end(failed)
				r.over(t, &Result{ID: j.ID, Error: &Error{Message: fmt.Sprintf("not run: job %q it must run after failed", j.After)}})
				return
			default:
				// In flight: the scheduler orders this one after it
				// (invokeAfterMsg), and fails it if that one fails.
				after = call
			}
		}
	}
	jr := &jobRun{t: t, after: after, start: time.Now()}
	err := t.m.err
	if err == nil {
		jr.prep, err = t.acct.Peers.Build(ctx, jr.build)
	}
	if err != nil {
		r.ended(jr, nil, err)
		return
	}
	g := b.group(t.acct)
	g.runs = append(g.runs, jr)
	g.subs = append(g.subs, Submit{Req: jr.prep.Req, DC: j.DC, After: after})
}

// group returns acct's group of jobs to submit (accounts are told apart
// by name: a run without a Router has one, named "").
func (b *batch) group(acct Account) *group {
	for i := range b.groups {
		if b.groups[i].acct.Name == acct.Name {
			return &b.groups[i]
		}
	}
	b.groups = append(b.groups, group{acct: acct})
	return &b.groups[len(b.groups)-1]
}

// submit sends the jobs built so far, one Send per account.
func (b *batch) submit(ctx context.Context) {
	for i := range b.groups {
		g := &b.groups[i]
		if len(g.runs) == 0 {
			continue
		}
		err := g.acct.Sender.Send(ctx, g.subs, b.notify)
		for k, jr := range g.runs {
			sub := &g.subs[k]
			switch {
			case err != nil:
				b.r.ended(jr, nil, err)
			case sub.Err != nil:
				b.r.ended(jr, nil, sub.Err)
			default:
				b.sent(jr, sub.Call)
			}
		}
		clear(g.subs)
		g.runs, g.subs = g.runs[:0], g.subs[:0]
	}
}

// sent records a job's attempt in flight.
func (b *batch) sent(jr *jobRun, c Call) {
	if !jr.sent {
		jr.sent = true
		jr.t.st.submit(c) // only the first attempt's counts
	}
	jr.call = c
	b.flying = append(b.flying, jr)
	b.calls = append(b.calls, c)
}

// finished takes the outcome of the call c: it sends the job again when
// its peer was refreshed (entitycache.Prepared.Retry), else ends it.
func (b *batch) finished(ctx context.Context, c Call) {
	i := slices.Index(b.calls, c)
	if i < 0 {
		panic("tlworker: a notify for a call no job has in flight")
	}
	jr := b.flying[i]
	last := len(b.flying) - 1
	b.flying[i], b.calls[i] = b.flying[last], b.calls[last]
	b.flying[last], b.calls[last] = nil, nil
	b.flying, b.calls = b.flying[:last], b.calls[:last]
	body, err := c.Wait(ctx)
	if err != nil {
		var req bin.Encoder
		if req, err = jr.prep.Retry(ctx, err); req != nil {
			subs := []Submit{{Req: req, DC: jr.t.j.DC, After: jr.after}}
			if err = jr.t.acct.Sender.Send(ctx, subs, b.notify); err == nil {
				err = subs[0].Err
			}
			if err == nil {
				b.sent(jr, subs[0].Call)
				return
			}
		}
	}
	b.r.ended(jr, body, err)
}

// build is the job's request with its peers resolved by rv, and a missing
// random_id derived from the job's id: a *tl.Request, encoded once, which
// actors sends as it is. One method value per job, not two closures.
func (jr *jobRun) build(ctx context.Context, rv tl.Resolver) (bin.Encoder, error) {
	return tl.EncodeParams(ctx, jr.t.m.def, jr.t.j.Params, tl.DecodeOptions{Resolver: rv, RandomID: jr.randomID})
}

func (jr *jobRun) randomID() int64 { return randomID(jr.t.j.ID) }

// ended writes the line of a job that ran (or could not be sent): body is
// its result, or err why it failed.
func (r *runner) ended(jr *jobRun, body []byte, err error) {
	t := jr.t
	j, st := t.j, t.st
	defer r.wg.Done()
	kind := ""
	if err != nil {
		kind = unanswered(err)
		if !jr.sent && kind != "" {
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
		lat := msOf(time.Since(jr.start))
		jerr := r.w.writeOK(j.ID, t.acct.Name, body, t.m.def.Type, lat, r.json)
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
	if jr.sent {
		o.Error = failure(err)
	} else {
		// Never sent (bad params, a peer that cannot be resolved): code 0,
		// and the message says which line and why.
		o.Error = &Error{Message: fmt.Sprintf("line %d: %v", j.line, err), Kind: kind}
	}
	r.unreachable.note(err, o.Error.Kind)
	r.finish(t, &o)
}

// over is finish for a job that ends before it is built: its run is
// over (wg).
func (r *runner) over(t task, o *Result) {
	r.finish(t, o)
	r.wg.Done()
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
