package actors

import (
	"context"
	"fmt"
	"strings"

	"github.com/gotd/td/bin"
)

// Result is one call's outcome in InvokeAll: its TL body, or its error.
type Result struct {
	Body []byte
	Err  error
}

// Decode decodes the body into v (a *tg.UpdatesBox, a *tg.ContactsResolvedPeer,
// any bin.Decoder matching the method's result). It returns Err if the
// call failed.
func (r Result) Decode(v bin.Decoder) error {
	if r.Err != nil {
		return r.Err
	}
	return v.Decode(&bin.Buffer{Buf: r.Body})
}

// MultiError reports the calls of a batch that failed, by index. InvokeAll
// and InvokeAllAs return one whenever any call failed, whatever the size of
// the batch, a batch of one included; errors.Is and errors.As look inside
// it (Unwrap).
type MultiError struct {
	Errors map[int]error
	Total  int
}

func (e *MultiError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d of %d calls failed", len(e.Errors), e.Total)
	for i := 0; i < e.Total; i++ {
		if err, ok := e.Errors[i]; ok {
			fmt.Fprintf(&b, "; #%d: %v", i, err)
			break
		}
	}
	return b.String()
}

// Err returns the error of call i of the batch, nil if it succeeded. It may
// be called on a nil *MultiError (the batch had no failure), so a loop over
// a batch's results needs no check of its own:
//
//	var failed *actors.MultiError
//	if err != nil && !errors.As(err, &failed) {
//		return err // nothing was sent
//	}
//	for i := range reqs {
//		if err := failed.Err(i); err != nil { … }
//	}
//
// (TestMultiErrorErr)
func (e *MultiError) Err(i int) error {
	if e == nil {
		return nil
	}
	return e.Errors[i]
}

// Unwrap returns the calls' errors in index order, so that errors.Is and
// errors.As look inside the batch (TestMultiErrorUnwraps).
func (e *MultiError) Unwrap() []error {
	errs := make([]error, 0, len(e.Errors))
	for i := 0; i < e.Total; i++ {
		if err, ok := e.Errors[i]; ok {
			errs = append(errs, err)
		}
	}
	return errs
}

// InvokeAll sends requests together (they share containers) and returns
// results and errors side by side, in request order. The error is nil when
// all succeeded, else a *MultiError naming the calls that failed, for any
// number of requests (TestBatchErrorSameShapeForAnySize). It takes every
// Option: OnDC, FloodBudget and After apply to each call, Ordered chains
// them (TestBatchTakesCallOptions). An error before anything was sent (a
// request that cannot be encoded, a closed client, an ended ctx) is
// returned alone, with no results. Batches go straight to the scheduler:
// the middlewares (Use) do not see them.
func (c *Client) InvokeAll(ctx context.Context, reqs []bin.Encoder, opts ...Option) ([]Result, error) {
	o := options(ctx, opts)
	ps := make([]*pending, len(reqs))
	for i, r := range reqs {
		p, err := c.newPending(r, o)
		if err != nil {
			return nil, fmt.Errorf("request #%d: %w", i, err)
		}
		after := o.after
		if o.ordered && i > 0 {
			after = ps[i-1]
		}
		if err := c.chain(p, after); err != nil {
			return nil, fmt.Errorf("request #%d: %w", i, err)
		}
		ps[i] = p
	}
	if err := c.submit(ctx, ps); err != nil {
		return nil, err
	}
	out := make([]Result, len(ps))
	merr := &MultiError{Errors: map[int]error{}, Total: len(ps)}
	for i, p := range ps {
		body, err := p.future().wait(ctx)
		out[i] = Result{Body: body, Err: err}
		if err != nil {
			merr.Errors[i] = err
		}
	}
	if len(merr.Errors) == 0 {
		return out, nil
	}
	return out, merr
}

// Decodable is a pointer to a TL result type that can be decoded into:
// *tg.UpdatesBox, *tg.ContactsResolvedPeer, *tg.MessagesChatsBox, ...
type Decodable[T any] interface {
	*T
	bin.Decoder
}

// InvokeAllAs is InvokeAll for requests of one result type: it decodes
// each call's answer into a T (tg.UpdatesBox for messages.sendMessage,
// say) and returns them in request order, a zero T where the call failed.
// The error is InvokeAll's: a *MultiError naming the failed calls, or an
// error before anything was sent; a result that does not decode as a T is
// its call's error in the *MultiError.
//
//	reqs := []*tg.MessagesSendMessageRequest{{Peer: p, Message: "a"}, {Peer: p, Message: "b"}}
//	upds, err := actors.InvokeAllAs[tg.UpdatesBox](ctx, c, reqs, actors.Ordered())
func InvokeAllAs[T any, PT Decodable[T], R bin.Encoder](ctx context.Context, c *Client, reqs []R, opts ...Option) ([]T, error) {
	encs := make([]bin.Encoder, len(reqs))
	for i, r := range reqs {
		encs[i] = r
	}
	res, err := c.InvokeAll(ctx, encs, opts...)
	if res == nil {
		return nil, err
	}
	merr, _ := err.(*MultiError)
	out := make([]T, len(res))
	for i, r := range res {
		if r.Err != nil {
			continue
		}
		if derr := r.Decode(PT(&out[i])); derr != nil {
			out[i] = *new(T)
			if merr == nil {
				merr = &MultiError{Errors: map[int]error{}, Total: len(res)}
			}
			merr.Errors[i] = fmt.Errorf("decode result #%d: %w", i, derr)
		}
	}
	if merr == nil {
		return out, nil
	}
	return out, merr
}

// BatchCall is one call of GoBatch: its request, where it goes, and, once
// GoBatch returns, its Future or why it was not submitted.
type BatchCall struct {
	Req bin.Encoder
	// DC is the DC the call goes to (OnDC); 0 is the home DC.
	DC int
	// After, if set, is the call this one runs strictly after (After): a
	// Future of this Client (from Go or an earlier GoBatch).
	After *Future
	// Notify, if set, is called once with the call's Future when its
	// outcome is set, on the goroutine that sets it (the scheduler actor's,
	// mostly): it must return at once, and never call the Client. It is
	// not called for a call GoBatch did not submit.
	Notify func(*Future)

	// Future is set by GoBatch for a call it submitted.
	Future *Future
	// Err is set by GoBatch for a call it did not submit: its request
	// could not be encoded, or its After names another client's call.
	Err error
}

// GoBatch submits many calls at once, each as Go would with its own DC and
// predecessor, in one message to the scheduler actor (InvokeAll's cost for
// calls that are not alike): a bulk sender pays the hand-off to the actor
// once per batch, not once per call, and need not park a goroutine per call
// (Notify, called with the very Future GoBatch set). Calls are queued in slice order. A call that cannot be
// submitted gets its Err and the others go; an error returned means none
// was submitted (ctx has ended, the client is closed, the queue is full
// and the ctx ended waiting for room). ctx and opts apply to every call as
// they do to Go's (WithOptions, FloodBudget); their DC and After are each
// call's own. Like Go, GoBatch goes straight to the scheduler: the
// middlewares (Use) do not see it.
func (c *Client) GoBatch(ctx context.Context, calls []BatchCall, opts ...Option) error {
	for i := range calls {
		calls[i].Future, calls[i].Err = nil, nil
	}
	switch {
	case c.closed.Load():
		return ErrClosed
	case c.stopped.Load():
		return errStoppedNotSent
	}
	o := options(ctx, opts)
	ps := make([]*pending, 0, len(calls))
	for i := range calls {
		bc := &calls[i]
		co := o
		co.dc = bc.DC
		p, err := c.newPending(bc.Req, co)
		if err == nil && bc.After != nil {
			err = c.chain(p, bc.After.p)
		}
		if err != nil {
			bc.Err = err
			continue
		}
		bc.Future = p.future()
		p.notify = bc.Notify
		ps = append(ps, p)
	}
	if len(ps) == 0 {
		return nil
	}
	if err := c.submit(ctx, ps); err != nil {
		for i := range calls {
			calls[i].Future = nil
		}
		return err
	}
	return nil
}
