package cluster

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	pacluster "github.com/asynkron/protoactor-go/cluster"
	"github.com/gotd/td/tgerr"

	"github.com/tlsched/tlsched/actors"
	"github.com/tlsched/tlsched/cluster/clusterpb"
	"github.com/tlsched/tlsched/scheduler"
	"github.com/tlsched/tlsched/tl"
)

// AccountKind is the cluster kind of account grains: one virtual actor per
// account, its identity the account's name.
const AccountKind = "tlsched-account"

// maxEnded is how many ended calls a grain remembers the outcome of, for
// calls that name one of them as After.
const maxEnded = 1 << 16

// Kind is the cluster kind whose grains run accounts on this Host: a grain
// activated for an account acquires it (Host.Run, waiting while another
// member owns it), sends the calls of every clusterpb.Invoke through the
// account's Client and answers each with a clusterpb.Answer to the
// Invoke's reply_to. A grain whose account stops (its ownership lost) or
// cannot start stops too, answering every call it took; the next Invoke
// activates the account again, here or on another member.
func (h *Host) Kind() *pacluster.Kind {
	return pacluster.NewKind(AccountKind, actor.PropsFromProducer(func() actor.Actor { return &grain{host: h} }))
}

// grain is an account's virtual actor.
type grain struct {
	host    *Host
	account string
	self    *actor.PID
	system  *actor.ActorSystem
	cancel  context.CancelFunc // ends the start (Host.Run) if it still waits
	acct    *Account           // nil until started
	// handoff passes the account started from the starting goroutine to
	// the grain, or back to that goroutine to stop when the grain stopped
	// meanwhile (its grainStarted would never be read).
	handoff struct {
		sync.Mutex
		stopped bool
		acct    *Account
	}
	// held are the Invokes that came before the account started.
	held []*clusterpb.Invoke
	// calls are the calls in flight, by their submitter's id.
	calls map[callKey]*grainCall
	// ended is whether recent calls succeeded, for an After naming one
	// that ended before its dependent came; endedOrder evicts the oldest.
	ended      map[callKey]bool
	endedOrder []callKey
	// out are answers not yet sent, per reply_to; flushing is whether a
	// flush is queued (answers ending in one turn go in one message).
	out      map[string]*replyBatch
	flushing bool
}

type callKey struct {
	to string // reply_to, as a string
	id uint64
}

type grainCall struct {
	fut *actors.Future
	to  *actor.PID
}

type replyBatch struct {
	to      *actor.PID
	answers []*clusterpb.Answer
}

// Messages a grain sends itself.
type (
	grainStarted struct {
		acct *Account
		err  error
	}
	grainStopped struct{ acct *Account } // the account's Client closed (ownership lost)
	grainDone    struct {
		key callKey
		fut *actors.Future
	}
	grainFlush struct{}
)

func (g *grain) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		g.started(ctx)
	case *grainStarted:
		g.run(ctx, m)
	case *clusterpb.Invoke:
		if m.ReplyTo == nil {
			return // nobody to answer: a malformed Invoke, not run
		}
		if g.acct == nil {
			g.held = append(g.held, m)
			return
		}
		g.invoke(ctx, m)
	case *grainDone:
		g.done(ctx, m.key, m.fut)
	case *grainFlush:
		g.flushing = false
		g.flush(ctx)
	case *grainStopped:
		if m.acct != g.acct {
			return // an earlier instance's (a restart)
		}
		// Every call in flight has its outcome now (a closed Client
		// fails them), and their notifies are queued before this.
		ctx.Poison(ctx.Self())
	case *actor.Stopping:
		g.stopping(ctx)
	case *actor.Restarting:
		// A panic: the instance is replaced, so it gives its account
		// back and answers its calls, as a stopping one does.
		g.stopping(ctx)
	}
}

func (g *grain) started(ctx actor.Context) {
	g.account = pacluster.GetClusterIdentity(ctx).Identity
	g.self, g.system = ctx.Self(), ctx.ActorSystem()
	g.calls, g.ended, g.out = map[callKey]*grainCall{}, map[callKey]bool{}, map[string]*replyBatch{}
	// A grain activated on a member that lost the lookup's race (a
	// stale topology) may wait for an account another member keeps:
	// bounded, it fails its calls as not sent and stops, and the next
	// Invoke finds the account's grain where it is.
	rctx, cancel := context.WithTimeout(context.Background(), g.host.startTimeout())
	g.cancel = cancel
	self, root := g.self, g.system.Root
	go func() {
		acct, err := g.host.Run(rctx, g.account)
		g.handoff.Lock()
		gone := g.handoff.stopped
		if !gone {
			g.handoff.acct = acct
		}
		g.handoff.Unlock()
		if gone {
			// The grain stopped while the account started: give it back.
			if acct != nil {
				_ = acct.Stop(context.Background())
			}
			return
		}
		root.Send(self, &grainStarted{acct: acct, err: err})
	}()
}

// run takes the account started (or why it could not start) and sends
// the calls held meanwhile.
func (g *grain) run(ctx actor.Context, m *grainStarted) {
	if m.err != nil {
		why := fmt.Errorf("account %q could not start on this member: %w", g.account, m.err)
		g.failHeld(ctx, why)
		g.flush(ctx)
		ctx.Poison(ctx.Self())
		return
	}
	g.acct = m.acct
	self, root := g.self, g.system.Root
	go func() {
		<-m.acct.Stopped()
		root.Send(self, &grainStopped{acct: m.acct})
	}()
	for _, inv := range g.held {
		g.invoke(ctx, inv)
	}
	g.held = nil
}

// failHeld fails the calls of the Invokes held, not sent: lost to the
// cluster (the account did not start here), so they may go again.
func (g *grain) failHeld(ctx actor.Context, why error) {
	for _, inv := range g.held {
		for _, c := range inv.Calls {
			a := failed(c.Id, why, clusterpb.Sent_SENT_NOT, ctx)
			a.Failure.Lost = true
			g.answer(ctx, inv.ReplyTo, a)
		}
	}
	g.held = nil
}

// invoke submits an Invoke's calls in one GoBatch.
func (g *grain) invoke(ctx actor.Context, m *clusterpb.Invoke) {
	to := m.ReplyTo.String()
	batch := make([]actors.BatchCall, 0, len(m.Calls))
	keys := make([]callKey, 0, len(m.Calls))
	self, root := g.self, g.system.Root
	for _, c := range m.Calls {
		key := callKey{to: to, id: c.Id}
		req, err := request(c)
		if err != nil {
			g.answer(ctx, m.ReplyTo, failed(c.Id, err, clusterpb.Sent_SENT_NOT, ctx))
			continue
		}
		bc := actors.BatchCall{Req: req, DC: int(c.Dc), Notify: func(f *actors.Future) { root.Send(self, &grainDone{key: key, fut: f}) }}
		if c.After != 0 {
			ak := callKey{to: to, id: c.After}
			switch pred, ok := g.calls[ak]; {
			case ok:
				bc.After = pred.fut
			default:
				okEnded, known := g.ended[ak]
				switch {
				case known && okEnded:
					// It succeeded already: nothing to wait for.
				case known:
					g.answer(ctx, m.ReplyTo, failed(c.Id, fmt.Errorf("not run: call %d it must run after failed", c.After), clusterpb.Sent_SENT_NOT, ctx))
					continue
				default:
					g.answer(ctx, m.ReplyTo, failed(c.Id, fmt.Errorf("not run: call %d it must run after is not known to this member (it ran on another, or long ago)", c.After), clusterpb.Sent_SENT_NOT, ctx))
					continue
				}
			}
		}
		batch = append(batch, bc)
		keys = append(keys, key)
	}
	if len(batch) > 0 {
		// The calls live until they end (a Background context); when the
		// account's queue is full, the grain waits for room, and the
		// Invokes behind it wait in its mailbox.
		err := g.acct.Client.GoBatch(context.Background(), batch)
		for i := range batch {
			switch cerr := batch[i].Err; {
			case err != nil:
				g.answer(ctx, m.ReplyTo, failed(keys[i].id, err, clusterpb.Sent_SENT_NOT, ctx))
			case cerr != nil:
				g.answer(ctx, m.ReplyTo, failed(keys[i].id, cerr, clusterpb.Sent_SENT_NOT, ctx))
			default:
				g.calls[keys[i]] = &grainCall{fut: batch[i].Future, to: m.ReplyTo}
			}
		}
	}
	g.flush(ctx)
}

// request is a Call's TL request, sent as its bytes are.
func request(c *clusterpb.Call) (*tl.Request, error) {
	if len(c.Body) < 4 {
		return nil, fmt.Errorf("call %d: a body of %d bytes is not a TL call", c.Id, len(c.Body))
	}
	id := uint32(c.Body[0]) | uint32(c.Body[1])<<8 | uint32(c.Body[2])<<16 | uint32(c.Body[3])<<24
	def, ok := tl.ByID(id)
	if !ok || !def.Method {
		return nil, fmt.Errorf("call %d: constructor %#08x is not a method of the schema", c.Id, id)
	}
	return &tl.Request{Def: def, Body: c.Body, Peer: c.Peer, PaidFloodskip: c.Paid}, nil
}

// done answers a call that has its outcome.
func (g *grain) done(ctx actor.Context, key callKey, f *actors.Future) {
	gc, ok := g.calls[key]
	if !ok || gc.fut != f {
		return
	}
	delete(g.calls, key)
	body, err := f.Wait(context.Background()) // done already
	g.remember(key, err == nil)
	if err != nil {
		g.answer(ctx, gc.to, failed(key.id, err, sentOf(err), ctx))
	} else {
		g.answer(ctx, gc.to, &clusterpb.Answer{Id: key.id, Body: body})
	}
	if !g.flushing {
		g.flushing = true
		ctx.Send(ctx.Self(), &grainFlush{})
	}
}

func (g *grain) remember(key callKey, ok bool) {
	if len(g.endedOrder) >= maxEnded {
		delete(g.ended, g.endedOrder[0])
		g.endedOrder = g.endedOrder[1:]
	}
	g.ended[key] = ok
	g.endedOrder = append(g.endedOrder, key)
}

func (g *grain) answer(_ actor.Context, to *actor.PID, a *clusterpb.Answer) {
	k := to.String()
	b := g.out[k]
	if b == nil {
		b = &replyBatch{to: to}
		g.out[k] = b
	}
	b.answers = append(b.answers, a)
}

// flush sends the answers gathered, one message per reply_to.
func (g *grain) flush(ctx actor.Context) {
	for k, b := range g.out {
		if len(b.answers) > 0 {
			ctx.Send(b.to, &clusterpb.Answers{Answers: b.answers})
		}
		delete(g.out, k)
	}
}

// stopping gives the account back and answers every call the grain took:
// Stop closes the Client, which fails the calls still in flight.
func (g *grain) stopping(ctx actor.Context) {
	if g.cancel != nil {
		g.cancel()
	}
	g.handoff.Lock()
	g.handoff.stopped = true
	if g.acct == nil {
		// Started, and its grainStarted not yet taken: it is this
		// grain's to stop.
		g.acct = g.handoff.acct
	}
	g.handoff.Unlock()
	if g.acct != nil {
		sctx, cancel := context.WithTimeout(context.Background(), stopTimeout)
		_ = g.acct.Stop(sctx)
		cancel()
	}
	for key, gc := range g.calls {
		body, err := gc.fut.Wait(context.Background())
		if err != nil {
			g.answer(ctx, gc.to, failed(key.id, err, sentOf(err), ctx))
		} else {
			g.answer(ctx, gc.to, &clusterpb.Answer{Id: key.id, Body: body})
		}
		delete(g.calls, key)
	}
	g.failHeld(ctx, errors.New("the account's grain stopped before starting it"))
	g.flush(ctx)
}

// stopTimeout bounds how long a stopping grain drains its account's calls.
const stopTimeout = 10 * time.Second

// failed is the Answer of a call that failed with err. A call failed
// because its account closed (its grain stops, its ownership is lost) is
// lost to the cluster: it may go again.
func failed(id uint64, err error, sent clusterpb.Sent, ctx actor.Context) *clusterpb.Answer {
	f := &clusterpb.Failure{Message: err.Error(), Sent: sent, Member: ctx.ActorSystem().Address(), Lost: errors.Is(err, actors.ErrClosed)}
	var rpc *tgerr.Error
	if errors.As(err, &rpc) {
		f.Code, f.Message = int32(rpc.Code), rpc.Message
	}
	return &clusterpb.Answer{Id: id, Failure: f}
}

// sentOf is what err says of whether its call reached Telegram.
func sentOf(err error) clusterpb.Sent {
	var rpc *tgerr.Error
	switch {
	case errors.As(err, &rpc):
		return clusterpb.Sent_SENT_ANSWERED
	case errors.Is(err, scheduler.ErrNotSent):
		return clusterpb.Sent_SENT_NOT
	default:
		return clusterpb.Sent_SENT_MAYBE
	}
}
