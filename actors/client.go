package actors

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/eventstream"
	"github.com/gotd/td/bin"
	"github.com/gotd/td/tg"
	"golang.org/x/sync/semaphore"

	"github.com/tlsched/tlsched/mtproto"
	"github.com/tlsched/tlsched/scheduler"
	"github.com/tlsched/tlsched/telemetry"
	"github.com/tlsched/tlsched/tl"
)

// ErrClosed is returned for calls on a closed client, and to calls still
// pending when Close gave up waiting.
var ErrClosed = errors.New("tlsched: client closed")

var _ tg.Invoker = (*Client)(nil)

// Client sends MTProto calls through the actor system. Safe for concurrent
// use. It is a tg.Invoker: tg.NewClient(c) gives gotd's typed API on top
// of it, and its calls go through the middlewares added with Use (the
// entity cache's refresh of stale access hashes, entitycache.Cache.Attach,
// is one).
type Client struct {
	cfg    Config
	system *actor.ActorSystem
	// ownSystem: Start made system, and Close shuts it down; a Fleet's
	// Clients share the Fleet's.
	ownSystem bool
	// name is the account's name in its Fleet; empty for a Client of
	// Start.
	name string
	// deadSub is the subscription to system's dead letters (deadLetters)
	// of a Client of Start; nil in a Fleet, which subscribes once.
	deadSub *eventstream.Subscription
	// onClose, if set, runs at the end of the first Close (the Fleet
	// forgets the account and closes its resources); its error is Close's
	// unless Close has one already.
	onClose func() error
	sched   *actor.PID
	nextID  atomic.Uint64
	// mu orders submissions against Close: a submission checks closed and
	// hands its calls to the scheduler actor under the read lock, Close sets
	// closed under the write lock, so every submission either reaches the
	// actor's mailbox before Close's drain or sees closed
	// (TestSubmitRacingCloseNeverHangs).
	mu     sync.RWMutex
	closed atomic.Bool
	// stopped: the scheduler actor failed for good; every call fails with
	// ErrSchedulerStopped (scheduler_supervisor.go).
	stopped atomic.Bool
	// inFlight and queued feed the telemetry gauges.
	inFlight, queued atomic.Int64
	// room (BlockWhenFull) holds Scheduler.MaxQueued units, one per call
	// submitted and not finished; a batch takes its units at once, in
	// arrival order.
	room *semaphore.Weighted
	// mw is the middleware chain Invoke goes through (Use); direct is
	// invokeDirect as a tg.Invoker, made once, for when there is none.
	mw     middlewares
	direct tg.Invoker
	// hooks are shown every result (Config.OnResult, Client.OnResult).
	hooks *resultHooks
	// updates feeds Config.UpdateHandler; nil without one.
	updates *updateQueue
	// idleSeen counts the idle timer's events (idle.go).
	idleSeen *idleCounts
}

// Start starts the actor system and the scheduler actor. Connections open
// lazily, on the first call for a DC. The Client owns its actor system; a
// Fleet's Clients share the Fleet's (fleet.go).
func Start(ctx context.Context, cfg Config) (*Client, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	cfg, err := cfg.prepare()
	if err != nil {
		return nil, err
	}
	system := newActorSystem(cfg.Logger, cfg.Telemetry)
	c, err := startAccount(system, "", cfg)
	if err != nil {
		system.Shutdown()
		return nil, err
	}
	c.ownSystem = true
	return c, nil
}

// prepare applies the defaults to cfg and takes the home DC from the
// Store when cfg does not set one.
func (cfg Config) prepare() (Config, error) {
	homeSet := cfg.Scheduler.HomeDC != 0
	cfg, err := cfg.withDefaults()
	if err != nil {
		return cfg, err
	}
	if !homeSet {
		if dc, ok := loadHomeDC(cfg); ok {
			cfg.Scheduler.HomeDC = dc
		}
	}
	return cfg, nil
}

// newActorSystem makes the actor system of a Client or a Fleet.
func newActorSystem(logger *slog.Logger, t *telemetry.Telemetry) *actor.ActorSystem {
	opts := []actor.ConfigOption{actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
		// protoactor logs at info level by default; ours is quiet unless
		// the user gave a logger.
		return logger
	})}
	if mp := t.MeterProvider(); mp != nil {
		// protoactor-go's own actor metrics go to the same provider.
		opts = append(opts, actor.WithMetricProviders(mp))
	}
	return actor.NewActorSystemWithConfig(actor.Configure(opts...))
}

// startAccount spawns one account's actors in system: its scheduler actor,
// the root of the account's actor tree (its DC actors are its children, so
// a failure stays inside the account), under the name "account/"+name when
// name is not empty. cfg has its defaults applied (prepare).
func startAccount(system *actor.ActorSystem, name string, cfg Config) (*Client, error) {
	c := &Client{cfg: cfg, system: system, name: name, hooks: &resultHooks{first: cfg.OnResult, log: cfg.Logger}}
	c.direct = InvokeFunc(c.invokeDirect)
	if name == "" {
		// A Fleet registers one gauge for all its accounts (fleet.go).
		cfg.Telemetry.Gauges(func() (int64, int64) { return c.inFlight.Load(), c.queued.Load() })
	}
	if cfg.BlockWhenFull {
		c.room = semaphore.NewWeighted(int64(cfg.Scheduler.MaxQueued))
	}
	var gauges func(inFlight, queued int64)
	if cfg.Telemetry != nil {
		gauges = func(inFlight, queued int64) {
			c.inFlight.Store(inFlight)
			c.queued.Store(queued)
		}
	}
	d := newDeps(cfg, system.Root, c.released, gauges)
	// Hooks may be added after Start (Client.OnResult): the actor always
	// shows results to the list.
	d.onResult = c.hooks.show
	d.closed, d.stopped = &c.closed, &c.stopped
	c.idleSeen = d.idleSeen
	if cfg.UpdateHandler != nil {
		c.updates = newUpdateQueue(cfg.UpdateHandler, cfg.UpdateQueue, cfg.Logger)
		d.dc.updates = c.updates
		// Results that are Updates go to the handler too, as gotd's client
		// does with messages.sendMessage's.
		c.hooks.add(func(_ *tl.Definition, body []byte) { c.updates.offer(body) })
	}
	if name == "" {
		c.sched = system.Root.Spawn(schedulerProps(d))
	} else {
		pid, err := system.Root.SpawnNamed(schedulerProps(d), accountPIDPrefix+name)
		if err != nil {
			c.updates.close()
			return nil, fmt.Errorf("tlsched: account %q: %w", name, err)
		}
		c.sched = pid
	}
	if name == "" {
		// A Fleet subscribes once for all its accounts (Fleet.deadLetters).
		c.deadSub = system.EventStream.Subscribe(c.deadLetters)
	}
	return c, nil
}

// Close stops accepting calls, waits until the calls in flight are answered
// (or ctx ends; those left fail with ErrClosed), then stops the actors.
func (c *Client) Close(ctx context.Context) error {
	c.mu.Lock()
	already := c.closed.Swap(true)
	c.mu.Unlock()
	if already {
		return nil
	}
	drained := make(chan struct{})
	c.system.Root.Send(c.sched, &drainMsg{done: drained})
	var err error
	select {
	case <-drained:
	case <-ctx.Done():
		err = ctx.Err()
	}
	// A poison pill, not Stop: it comes after every submission in the
	// mailbox, so those calls become pending and fail with ErrClosed
	// instead of being dropped with the mailbox.
	if stopErr := c.system.Root.PoisonFuture(c.sched).Wait(); stopErr != nil && err == nil {
		err = stopErr
	}
	if c.ownSystem {
		c.system.Shutdown()
	}
	c.updates.close()
	if c.cfg.closeStore != nil {
		if cerr := c.cfg.closeStore(); cerr != nil && err == nil {
			err = cerr
		}
	}
	if c.onClose != nil {
		if cerr := c.onClose(); cerr != nil && err == nil {
			err = cerr
		}
	}
	return err
}

// Go submits a call and returns its future at once. A ctx that has ended
// already sends nothing and returns its error. The call lives as long as
// ctx: when ctx ends before the call has its outcome, the call is
// cancelled as by Future.Cancel, with ctx's error (context.Canceled or
// context.DeadlineExceeded) inside the *scheduler.CanceledError. Go goes
// straight to the scheduler: the middlewares (Use) see only Invoke, Call
// and Do.
//
// req is gotd's object for a method, or a *tl.Request (tl.EncodeParams),
// whose bytes are sent as they are: neither decoded nor encoded again.
func (c *Client) Go(ctx context.Context, req bin.Encoder, opts ...Option) (*Future, error) {
	o := options(ctx, opts)
	p, err := c.newPending(req, o)
	if err != nil {
		return nil, err
	}
	if err := c.chain(p, o.after); err != nil {
		return nil, err
	}
	if err := c.submit(ctx, []*pending{p}); err != nil {
		return nil, err
	}
	return p.future(), nil
}

// chain makes p run after the call of an After option, checking that it
// is one of c's.
func (c *Client) chain(p, after *pending) error {
	if after == nil {
		return nil
	}
	if after.client != c {
		return errors.New("tlsched: After names a call of another client")
	}
	p.afterP, p.after = after, after.id
	return nil
}

// Invoke sends a call and decodes its answer into res (a *tg.Updates, a
// *tg.UpdatesBox or any bin.Decoder matching the method's result). It is
// tg.Invoker's method: the call goes through the middlewares (Use), and
// takes its options from ctx (WithOptions).
func (c *Client) Invoke(ctx context.Context, req bin.Encoder, res bin.Decoder) error {
	return c.invoker().Invoke(ctx, req, res)
}

// invokeDirect is Invoke past the middlewares: the end of the chain.
func (c *Client) invokeDirect(ctx context.Context, req bin.Encoder, res bin.Decoder) error {
	f, err := c.Go(ctx, req)
	if err != nil {
		return err
	}
	body, err := f.wait(ctx)
	if err != nil {
		return err
	}
	switch r := res.(type) {
	case nil:
		return nil
	case *rawResult:
		r.body = body
		return nil
	}
	if err := res.Decode(&bin.Buffer{Buf: body}); err != nil {
		return fmt.Errorf("decode %s result: %w", f.p.method.Name, err)
	}
	return nil
}

// rawResult keeps a result's TL body undecoded (Call decodes it by the
// method's result type).
type rawResult struct{ body []byte }

func (r *rawResult) Decode(b *bin.Buffer) error {
	r.body = append([]byte(nil), b.Buf...)
	return nil
}

// Call sends a call through the middlewares (as Invoke does) and returns
// its answer decoded by the method's result type (see tl.DecodeResult).
func (c *Client) Call(ctx context.Context, req bin.Encoder, opts ...Option) (any, error) {
	def, err := methodOf(req)
	if err != nil {
		return nil, err
	}
	var raw rawResult
	if err := c.Invoke(WithOptions(ctx, opts...), req, &raw); err != nil {
		return nil, err
	}
	return tl.DecodeResult(def, raw.body)
}

// Do sends a call (as Call does) and returns its answer as T, for results
// of one boxed class: Do[tg.UpdatesClass](ctx, c, &tg.MessagesSendMessageRequest{...}).
func Do[T any](ctx context.Context, c *Client, req bin.Encoder, opts ...Option) (T, error) {
	var zero T
	v, err := c.Call(ctx, req, opts...)
	if err != nil {
		return zero, err
	}
	t, ok := v.(T)
	if !ok {
		return zero, fmt.Errorf("result is %T, not %T", v, zero)
	}
	return t, nil
}

// methodOf returns the schema definition of a request's method.
func methodOf(req bin.Encoder) (*tl.Definition, error) {
	if req == nil {
		return nil, errors.New("tlsched: nil request")
	}
	typed, ok := req.(interface{ TypeID() uint32 })
	if !ok {
		return nil, fmt.Errorf("tlsched: %T has no TL type id", req)
	}
	def, known := tl.ByID(typed.TypeID())
	if !known || !def.Method {
		return nil, fmt.Errorf("tlsched: %T is not a method of layer %d", req, tl.Layer)
	}
	return def, nil
}

// newPending encodes req (with its random_id filled, FillRandomID) into a
// call that o's DC and flood budget apply to. A *tl.Request is sent as it
// was encoded, unless it has a zero random_id to fill.
func (c *Client) newPending(req bin.Encoder, o callOptions) (*pending, error) {
	if c.closed.Load() {
		return nil, ErrClosed
	}
	if c.stopped.Load() {
		return nil, errStoppedNotSent
	}
	if r, ok := req.(*tl.Request); ok {
		if !r.ZeroRandomID {
			return c.newEncodedPending(r, o)
		}
		obj, err := r.Object()
		if err != nil {
			return nil, fmt.Errorf("tlsched: %w", err)
		}
		req = obj
	}
	def, err := methodOf(req)
	if err != nil {
		return nil, err
	}
	if !o.keepZeroRandomID {
		req = withRandomID(req)
	}
	var b bin.Buffer
	if err := req.Encode(&b); err != nil {
		return nil, fmt.Errorf("tlsched: encode %s: %w", def.Name, err)
	}
	if b.Len() > mtproto.MaxMessageBytes {
		return nil, fmt.Errorf("tlsched: %s is %d bytes, over the %d-byte MTProto limit", def.Name, b.Len(), mtproto.MaxMessageBytes)
	}
	p := &pending{
		id:         scheduler.CallID(c.nextID.Add(1)),
		raw:        rawRequest(b.Buf),
		method:     def,
		resendable: resendable(def, req),
		peer:       tl.RequestPeer(req),
		writes:     tl.WritesToChat(def),
		paid:       tl.PaidFloodskip(req),
		size:       b.Len(),
		dc:         o.dc,
		budget:     o.budget,
		client:     c,
	}
	p.fut.p = p
	return p, nil
}

// newEncodedPending is newPending for a call encoded already, whose
// random_id (if it has one) is not zero: its bytes are sent as they are
// (TestEncodedRequestSendsTheSameBytes).
func (c *Client) newEncodedPending(r *tl.Request, o callOptions) (*pending, error) {
	if r.Def == nil || !r.Def.Method {
		return nil, errors.New("tlsched: a tl.Request without a method")
	}
	if len(r.Body) > mtproto.MaxMessageBytes {
		return nil, fmt.Errorf("tlsched: %s is %d bytes, over the %d-byte MTProto limit", r.Def.Name, len(r.Body), mtproto.MaxMessageBytes)
	}
	p := &pending{
		id:         scheduler.CallID(c.nextID.Add(1)),
		raw:        rawRequest(r.Body),
		method:     r.Def,
		resendable: tl.Resendable(r.Def),
		peer:       r.Peer,
		writes:     tl.WritesToChat(r.Def),
		paid:       r.PaidFloodskip,
		size:       len(r.Body),
		dc:         o.dc,
		budget:     o.budget,
		client:     c,
	}
	p.fut.p = p
	return p, nil
}

func (c *Client) submit(ctx context.Context, ps []*pending) error {
	if err := ctx.Err(); err != nil {
		// The caller gave up already: the calls are not sent at all
		// (a result racing the cancellation must not win).
		return err
	}
	if t := c.cfg.Telemetry; t != nil {
		for _, p := range ps {
			_, p.tel = t.StartCall(ctx, p.method.Name)
		}
	}
	if ctx.Done() != nil {
		// The calls live as long as ctx (Go).
		dl, _ := ctx.Deadline()
		for _, p := range ps {
			p.deadline = dl
			p.stop = context.AfterFunc(ctx, func() { c.cancel(p, ctx.Err()) })
		}
	}
	if c.room != nil {
		if err := c.takeRoom(ctx, len(ps)); err != nil {
			abandon(ps, err)
			return err
		}
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.closed.Load() || c.stopped.Load() {
		err := ErrClosed
		if c.stopped.Load() {
			err = errStoppedNotSent
		}
		abandon(ps, err)
		for range ps {
			c.released()
		}
		return err
	}
	if testHookSubmit != nil {
		testHookSubmit()
	}
	c.system.Root.Send(c.sched, &submitMsg{calls: ps})
	return nil
}

// abandon forgets calls refused before they reached the scheduler actor
// for err: the end of their context has nothing to cancel, and their spans
// end (telemetry).
func abandon(ps []*pending, err error) {
	for _, p := range ps {
		if p.stop != nil {
			p.stop()
		}
		p.tel.End(err)
	}
}

// testHookSubmit, set by tests only, runs between a submission's closed
// check and its Send.
var testHookSubmit func()

// cancel withdraws a call for cause (Future.Cancel, the end of its
// context). The scheduler actor sets its outcome: only it knows whether
// the call was sent. A call cancelled before the actor took it is never
// submitted (pending.canceled).
func (c *Client) cancel(p *pending, cause error) {
	if p.isDone() {
		return
	}
	if !p.cancelCause.CompareAndSwap(nil, &cause) {
		return // cancelled already
	}
	c.system.Root.Send(c.sched, &cancelMsg{id: p.id, cause: cause})
}

// takeRoom waits for n queue slots at once (BlockWhenFull), first come
// first served: batches waiting together cannot each hold part of the room
// (TestBlockWhenFullReservesBatchesWhole). A batch larger than the queue
// can never fit and is refused (TestBlockWhenFullRefusesBatchOverMaxQueued).
func (c *Client) takeRoom(ctx context.Context, n int) error {
	if limit := c.cfg.Scheduler.MaxQueued; n > limit {
		return fmt.Errorf("tlsched: a batch of %d calls cannot fit in the queue (Scheduler.MaxQueued %d): %w (%w)", n, limit, scheduler.ErrQueueFull, scheduler.ErrNotSent)
	}
	return c.room.Acquire(ctx, int64(n))
}

// released gives a queue slot back (BlockWhenFull).
func (c *Client) released() {
	if c.room != nil {
		c.room.Release(1)
	}
}

// rawRequest is a request encoded once by newPending: the DC actor's Pack
// copies these bytes instead of encoding the request again on every attempt.
// The server sees the same bytes, so random_id stays the same on resends.
type rawRequest []byte

func (r rawRequest) Encode(b *bin.Buffer) error {
	b.Put(r)
	return nil
}

// Stats returns the scheduler's counters.
func (c *Client) Stats(ctx context.Context) (scheduler.Stats, error) {
	if c.closed.Load() {
		return scheduler.Stats{}, ErrClosed
	}
	if c.stopped.Load() {
		return scheduler.Stats{}, ErrSchedulerStopped
	}
	reply := make(chan scheduler.Stats, 1)
	c.system.Root.Send(c.sched, &statsMsg{reply: reply})
	select {
	case st := <-reply:
		return st, nil
	case <-ctx.Done():
		return scheduler.Stats{}, ctx.Err()
	}
}

// resendable reports whether req may be sent again after its server-side
// session is gone (tl.Resendable), with a random_id the server can
// deduplicate: a zero random_id is not one.
func resendable(def *tl.Definition, req bin.Encoder) bool {
	if r, ok := req.(interface{ GetRandomID() int64 }); ok && r.GetRandomID() == 0 {
		return false
	}
	return tl.Resendable(def)
}

// DroppedUpdates is the number of updates dropped because
// Config.UpdateQueue updates were already waiting for the UpdateHandler.
func (c *Client) DroppedUpdates() uint64 {
	if c.updates == nil {
		return 0
	}
	return c.updates.dropped.Load()
}
