package actors

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/gotd/td/bin"
	"github.com/gotd/td/tg"
)

// InvokeFunc implements tg.Invoker as a function.
type InvokeFunc func(ctx context.Context, input bin.Encoder, output bin.Decoder) error

// Invoke implements tg.Invoker.
func (f InvokeFunc) Invoke(ctx context.Context, input bin.Encoder, output bin.Decoder) error {
	return f(ctx, input, output)
}

// Middleware wraps the Client's Invoke: Handle returns the invoker that
// calls next. It has the shape of gotd's telegram.Middleware (the types
// are ours so that importing actors does not pull in gotd's telegram
// package); a gotd middleware m is used as
//
//	c.Use(actors.MiddlewareFunc(func(next tg.Invoker) actors.InvokeFunc {
//		return actors.InvokeFunc(m.Handle(next))
//	}))
type Middleware interface {
	Handle(next tg.Invoker) InvokeFunc
}

// MiddlewareFunc implements Middleware as a function.
type MiddlewareFunc func(next tg.Invoker) InvokeFunc

// Handle implements Middleware.
func (f MiddlewareFunc) Handle(next tg.Invoker) InvokeFunc { return f(next) }

// chain is the composed invoker and the middlewares it was built from.
type chain struct {
	mws     []Middleware
	invoker tg.Invoker
}

// middlewares holds a Client's chain; the zero value has none.
type middlewares struct {
	mu  sync.Mutex // serialises Use
	cur atomic.Pointer[chain]
}

// Use adds middlewares to the calls made through Invoke, Call and Do, and
// so through tg.NewClient(c). The first one given (in the first Use) sees
// a call first and its result last; each calls the next, the last one
// calls the scheduler. Go, InvokeAll and InvokeAllAs bypass them. Use may
// be called at any time, from any goroutine: a call takes the chain as it
// is when the call starts (TestMiddlewareChainOrder).
func (c *Client) Use(mws ...Middleware) {
	c.mw.mu.Lock()
	defer c.mw.mu.Unlock()
	var all []Middleware
	if cur := c.mw.cur.Load(); cur != nil {
		all = append(all, cur.mws...)
	}
	all = append(all, mws...)
	var inv tg.Invoker = InvokeFunc(c.invokeDirect)
	for i := len(all) - 1; i >= 0; i-- {
		inv = all[i].Handle(inv)
	}
	c.mw.cur.Store(&chain{mws: all, invoker: inv})
}

// invoker returns the head of the middleware chain.
func (c *Client) invoker() tg.Invoker {
	if cur := c.mw.cur.Load(); cur != nil {
		return cur.invoker
	}
	if c.direct != nil {
		return c.direct
	}
	return InvokeFunc(c.invokeDirect)
}
