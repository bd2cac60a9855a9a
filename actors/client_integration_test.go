package actors

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gotd/td/bin"
	"github.com/gotd/td/crypto"
	"github.com/gotd/td/exchange"
	"github.com/gotd/td/mt"
	"github.com/gotd/td/tg"
	"github.com/gotd/td/tgerr"
	"github.com/gotd/td/tgtest"
	"github.com/gotd/td/transport"
	"go.uber.org/goleak"

	"github.com/tlsched/tlsched/scheduler"
)

func TestMain(m *testing.M) {
	// protoactor's dead-letter log throttle keeps a goroutine for its
	// interval (1 s) after a dead letter, as a client closing often makes:
	// not a leak, and the last test or Example to run need not wait for it.
	goleak.VerifyTestMain(m,
		goleak.IgnoreTopFunction("github.com/asynkron/protoactor-go/actor.NewDeadLetter.NewThrottle.func4.1"),
		goleak.IgnoreTopFunction("github.com/asynkron/protoactor-go/actor.NewThrottle.func1.1"))
}

var (
	keyOnce sync.Once
	rsaKey  *rsa.PrivateKey
)

func serverKey() *rsa.PrivateKey {
	keyOnce.Do(func() {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		rsaKey = k
	})
	return rsaKey
}

// world is a tgtest handler that behaves like Telegram where the tests
// need it: it unwraps invokeWithLayer/initConnection/invokeAfterMsg, answers
// a dependent with MSG_WAIT_FAILED when the awaited call failed (tgtest runs
// a connection's messages in order, so the awaited one was handled first),
// deduplicates sendMessage by random_id as Telegram does, and lets a hook
// inject errors.
type world struct {
	mu       sync.Mutex
	outcome  map[int64]bool // msg_id -> answered without error
	executed map[int64]int  // random_id -> deliveries (the first runs, repeats are answered from memory)
	order    []int64        // random_ids in execution order
	sends    []time.Time    // arrival of every sendMessage
	getUsers int
	hook     func(srv *tgtest.Server, req *tgtest.Request, randomID int64) error // nil: proceed
}

func newWorld() *world {
	return &world{outcome: map[int64]bool{}, executed: map[int64]int{}}
}

type peekObject struct{ id uint32 }

func (p *peekObject) Decode(b *bin.Buffer) error {
	id, err := b.PeekID()
	p.id = id
	return err
}
func (p *peekObject) Encode(*bin.Buffer) error { return errors.New("decode only") }

func (w *world) OnMessage(srv *tgtest.Server, req *tgtest.Request) error {
	var after int64
	for {
		id, err := req.Buf.PeekID()
		if err != nil {
			return err
		}
		var p peekObject
		var r bin.Decoder
		switch id {
		case mt.MsgsAckTypeID, mt.MsgResendReqTypeID:
			return nil
		case tg.InvokeAfterMsgRequestTypeID:
			x := &tg.InvokeAfterMsgRequest{Query: &p}
			if err := x.Decode(req.Buf); err != nil {
				return err
			}
			after = x.MsgID
			continue
		case tg.InvokeWithLayerRequestTypeID:
			r = &tg.InvokeWithLayerRequest{Query: &p}
		case tg.InitConnectionRequestTypeID:
			r = &tg.InitConnectionRequest{Query: &p}
		case tg.InvokeWithoutUpdatesRequestTypeID:
			r = &tg.InvokeWithoutUpdatesRequest{Query: &p}
		default:
			return w.call(srv, req, id, after)
		}
		if err := r.Decode(req.Buf); err != nil {
			return err
		}
	}
}

func (w *world) answer(srv *tgtest.Server, req *tgtest.Request, res bin.Encoder, err error) error {
	w.mu.Lock()
	w.outcome[req.MsgID] = err == nil
	w.mu.Unlock()
	if err != nil {
		var rpc *tgerr.Error
		if errors.As(err, &rpc) {
			return srv.SendErr(req, rpc)
		}
		return err
	}
	return srv.SendResult(req, res)
}

func (w *world) call(srv *tgtest.Server, req *tgtest.Request, id uint32, after int64) error {
	if after != 0 {
		w.mu.Lock()
		ok, seen := w.outcome[after]
		w.mu.Unlock()
		if seen && !ok {
			// MTProto: the awaited call failed.
			return w.answer(srv, req, nil, tgerr.New(400, "MSG_WAIT_FAILED"))
		}
	}
	switch id {
	case tg.MessagesSendMessageRequestTypeID:
		var m tg.MessagesSendMessageRequest
		if err := m.Decode(req.Buf); err != nil {
			return err
		}
		w.mu.Lock()
		w.sends = append(w.sends, time.Now())
		hook := w.hook
		w.mu.Unlock()
		if hook != nil {
			if err := hook(srv, req, m.RandomID); err != nil {
				if errors.Is(err, errDrop) {
					return nil
				}
				return w.answer(srv, req, nil, err)
			}
		}
		w.mu.Lock()
		if w.executed[m.RandomID] == 0 {
			w.order = append(w.order, m.RandomID)
		}
		// Telegram runs a repeated random_id once and answers the same.
		w.executed[m.RandomID]++
		w.mu.Unlock()
		return w.answer(srv, req, &tg.UpdateShortSentMessage{ID: int(m.RandomID), Date: 1}, nil)
	case tg.HelpGetConfigRequestTypeID:
		// gotd's client starts with it.
		return w.answer(srv, req, &tg.Config{ThisDC: 2, Date: int(time.Now().Unix()), Expires: int(time.Now().Add(time.Hour).Unix())}, nil)
	case tg.UsersGetUsersRequestTypeID:
		w.mu.Lock()
		w.getUsers++
		w.mu.Unlock()
		return w.answer(srv, req, &tg.UserClassVector{Elems: []tg.UserClass{&tg.User{ID: 1}}}, nil)
	}
	return w.answer(srv, req, nil, tgerr.New(400, "METHOD_INVALID"))
}

var errDrop = errors.New("drop: do not answer")

// redeliveries counts sendMessage deliveries after the first per random_id:
// resends that Telegram's random_id deduplication absorbs.
func (w *world) redeliveries() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.redeliveriesLocked()
}

func (w *world) redeliveriesLocked() int {
	n := 0
	for _, c := range w.executed {
		if c > 1 {
			n += c - 1
		}
	}
	return n
}

func startWorld(t testing.TB, w *world) (*tgtest.Server, Config) {
	t.Helper()
	return serveWorld(t, tgtest.NewServer(tgtest.NewPrivateKey(serverKey()), w, tgtest.ServerOptions{DC: 2}))
}

// serveWorld serves srv, a tgtest server on DC 2, on loopback until the
// test ends, and returns it with a Config for it.
func serveWorld(t testing.TB, srv *tgtest.Server) (*tgtest.Server, Config) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, transport.Listen(l)) }()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return srv, Config{
		DCs:        map[int]string{2: l.Addr().String()},
		PublicKeys: []exchange.PublicKey{srv.Key()},
		Store:      NewMemoryStore(), // never the user's key file
	}
}

func startClient(t testing.TB, cfg Config) *Client {
	t.Helper()
	if os.Getenv("TLSCHED_DEBUG") != "" && cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	c, err := Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := c.Close(ctx); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return c
}

func send(id int64) *tg.MessagesSendMessageRequest {
	return &tg.MessagesSendMessageRequest{Peer: &tg.InputPeerSelf{}, Message: "hi", RandomID: id}
}

func sentID(t testing.TB, v any) int {
	t.Helper()
	u, ok := v.(*tg.UpdateShortSentMessage)
	if !ok {
		t.Fatalf("result %T", v)
	}
	return u.ID
}

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestConcurrentCallsShareContainers(t *testing.T) {
	w := newWorld()
	_, cfg := startWorld(t, w)
	c := startClient(t, cfg)
	ctx := testCtx(t)

	const callers, each = 1000, 10
	var wg sync.WaitGroup
	var wrong atomic.Int64
	for g := 0; g < callers; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				id := int64(g*each + i + 1)
				v, err := c.Call(ctx, send(id))
				if err != nil {
					t.Errorf("call %d: %v", id, err)
					return
				}
				if u, ok := v.(*tg.UpdateShortSentMessage); !ok || int64(u.ID) != id {
					wrong.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if wrong.Load() != 0 {
		t.Fatalf("%d results routed to the wrong caller", wrong.Load())
	}
	st, err := c.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Succeeded != callers*each {
		t.Fatalf("%+v", st)
	}
	perBatch := float64(st.Sent) / float64(st.Batches)
	if perBatch < 5 {
		t.Fatalf("%.1f calls per container: most calls must share containers", perBatch)
	}
	t.Logf("%d calls in %d containers (%.1f per container)", st.Sent, st.Batches, perBatch)
	if d := w.redeliveries(); d != 0 {
		t.Fatalf("%d resends without any failure", d)
	}
}

func TestOrderedBatchSurvivesFloodWaitMidChain(t *testing.T) {
	w := newWorld()
	var flooded atomic.Bool
	w.hook = func(_ *tgtest.Server, _ *tgtest.Request, id int64) error {
		if id == 50 && !flooded.Swap(true) {
			return tgerr.New(420, "FLOOD_WAIT_1")
		}
		return nil
	}
	_, cfg := startWorld(t, w)
	c := startClient(t, cfg)
	ctx := testCtx(t)

	reqs := make([]bin.Encoder, 100)
	for i := range reqs {
		reqs[i] = send(int64(i + 1))
	}
	res, err := c.InvokeAll(ctx, reqs, Ordered())
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res {
		var u tg.UpdateShortSentMessage
		if r.Err != nil || u.Decode(&bin.Buffer{Buf: r.Body}) != nil || u.ID != i+1 {
			t.Fatalf("#%d: %v", i, r.Err)
		}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if !flooded.Load() {
		t.Fatal("flood wait not injected")
	}
	for i, id := range w.order {
		if id != int64(i+1) {
			t.Fatalf("executed out of order at %d: %v", i, w.order)
		}
	}
	if len(w.order) != 100 {
		t.Fatalf("%d executed", len(w.order))
	}
}

func TestFloodWaitGatesOnlyItsMethod(t *testing.T) {
	w := newWorld()
	var floodAt atomic.Int64
	w.hook = func(_ *tgtest.Server, _ *tgtest.Request, id int64) error {
		if id == 1 && floodAt.Load() == 0 {
			floodAt.Store(time.Now().UnixNano())
			return tgerr.New(420, "FLOOD_WAIT_2")
		}
		return nil
	}
	_, cfg := startWorld(t, w)
	c := startClient(t, cfg)
	ctx := testCtx(t)

	f1, err := c.Go(ctx, send(1))
	if err != nil {
		t.Fatal(err)
	}
	// Wait until the server has flooded call 1, then send more of both
	// methods: getUsers flows, sendMessage waits for the gate.
	for floodAt.Load() == 0 {
		if _, err := c.Call(ctx, &tg.UsersGetUsersRequest{ID: []tg.InputUserClass{&tg.InputUserSelf{}}}); err != nil {
			t.Fatal(err)
		}
	}
	f2, err := c.Go(ctx, send(2))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 20; i++ {
		if _, err := c.Call(ctx, &tg.UsersGetUsersRequest{ID: []tg.InputUserClass{&tg.InputUserSelf{}}}); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case <-f2.Done():
		t.Fatal("sendMessage finished while its gate was closed")
	default:
	}
	for _, f := range []*Future{f1, f2} {
		if _, err := f.Wait(ctx); err != nil {
			t.Fatal(err)
		}
	}
	gateEnd := time.Unix(0, floodAt.Load()).Add(2 * time.Second)
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, at := range w.sends[1:] {
		if at.Before(gateEnd) {
			t.Fatalf("a sendMessage reached the server %v before the flood wait ended", gateEnd.Sub(at))
		}
	}
	if w.getUsers < 21 {
		t.Fatalf("getUsers calls: %d", w.getUsers)
	}
}

func TestConnectionLossAndActorPanicLoseNothing(t *testing.T) {
	w := newWorld()
	var cut, panicked atomic.Bool
	var c *Client
	w.hook = func(srv *tgtest.Server, req *tgtest.Request, id int64) error {
		switch {
		case id == 300 && !cut.Swap(true):
			srv.ForceDisconnect(req.Session)
			return errDrop
		case id == 700 && !panicked.Swap(true):
			c.system.Root.Send(c.sched, &failDCMsg{dc: 2})
			return errDrop
		}
		return nil
	}
	_, cfg := startWorld(t, w)
	c = startClient(t, cfg)
	ctx := testCtx(t)

	futures := make([]*Future, 1000)
	for i := range futures {
		f, err := c.Go(ctx, send(int64(i+1)))
		if err != nil {
			t.Fatal(err)
		}
		futures[i] = f
	}
	for i, f := range futures {
		v, err := f.Result(ctx)
		if err != nil {
			t.Fatalf("call %d: %v", i+1, err)
		}
		if got := sentID(t, v); got != i+1 {
			t.Fatalf("call %d got %d", i+1, got)
		}
	}
	if !cut.Load() || !panicked.Load() {
		t.Fatal("failures not injected")
	}
	// Every resend carried its call's own random_id, so the server ran
	// each message exactly once: no random_id outside 1..1000.
	w.mu.Lock()
	for id := range w.executed {
		if id < 1 || id > 1000 {
			t.Errorf("server saw foreign random_id %d", id)
		}
	}
	if len(w.executed) != 1000 || len(w.order) != 1000 {
		t.Errorf("server ran %d distinct messages, want 1000", len(w.order))
	}
	t.Logf("%d deliveries absorbed by random_id deduplication", w.redeliveriesLocked())
	w.mu.Unlock()
	st, _ := c.Stats(ctx)
	// The lost connection's calls are resent by the resumed session; the
	// crashed actor's go back to the scheduler and are dispatched again.
	if st.Sent <= st.Submitted {
		t.Fatalf("no retries after the failures: %+v", st)
	}
}

func TestBadInput(t *testing.T) {
	w := newWorld()
	_, cfg := startWorld(t, w)
	c := startClient(t, cfg)
	ctx := testCtx(t)

	if _, err := c.Go(ctx, nil); err == nil {
		t.Fatal("nil request accepted")
	}
	if _, err := c.Go(ctx, &tg.User{}); err == nil {
		t.Fatal("a constructor is not a method")
	}
	f, err := c.Go(ctx, send(1), OnDC(9))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Wait(ctx); err == nil || !strings.Contains(err.Error(), "unknown dc 9") {
		t.Fatalf("unknown dc: %v", err)
	}
	// Still works for the next call.
	if _, err := c.Call(ctx, send(2)); err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := c.Call(cctx, send(3)); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
	res, err := c.InvokeAll(ctx, []bin.Encoder{send(4)})
	if err != nil || len(res) != 1 {
		t.Fatalf("%v", err)
	}
}

func TestClosedClient(t *testing.T) {
	w := newWorld()
	_, cfg := startWorld(t, w)
	c, err := Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Call(testCtx(t), send(1)); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Call(testCtx(t), send(2)); !errors.Is(err, ErrClosed) {
		t.Fatalf("%v", err)
	}
}

func TestKeysPersistAcrossClients(t *testing.T) {
	w := newWorld()
	_, cfg := startWorld(t, w)
	path := t.TempDir() + "/keys.json"
	cfg.Store = &FileStore{Path: path}
	for i := 0; i < 2; i++ {
		c, err := Start(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Call(testCtx(t), send(int64(i+1))); err != nil {
			t.Fatal(err)
		}
		if err := c.Close(testCtx(t)); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			if _, _, ok, _ := cfg.Store.Load(dcName(cfg, 2)); !ok {
				t.Fatal("key not saved after the first exchange")
			}
			// The exchange's DH prime is kept beside the key (verified
			// now or earlier in this process), for the next process.
			primes, err := cfg.Store.(PrimeStore).LoadPrimes()
			if err != nil || len(primes) != 1 || len(primes[0]) != 256 {
				t.Fatalf("primes saved after the first exchange: %d, %v", len(primes), err)
			}
		}
	}
	// The second client reused the key: tgtest knows one auth key only.
	key, _, _, _ := cfg.Store.Load(dcName(cfg, 2))
	if key.Value.Zero() {
		t.Fatal("no key")
	}
}

func TestQueueFull(t *testing.T) {
	w := newWorld()
	hold := make(chan struct{})
	w.hook = func(*tgtest.Server, *tgtest.Request, int64) error { <-hold; return nil }
	_, cfg := startWorld(t, w)
	cfg.Scheduler.MaxQueued = 2
	c := startClient(t, cfg)
	defer close(hold)
	ctx := testCtx(t)
	var fs []*Future
	for i := 0; i < 2; i++ {
		f, err := c.Go(ctx, send(int64(i+1)))
		if err != nil {
			t.Fatal(err)
		}
		fs = append(fs, f)
	}
	f, err := c.Go(ctx, send(3))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Wait(ctx); !errors.Is(err, scheduler.ErrQueueFull) {
		t.Fatalf("third call: %v", err)
	}
	hold <- struct{}{}
	hold <- struct{}{}
	for _, f := range fs {
		if _, err := f.Wait(ctx); err != nil {
			t.Fatal(err)
		}
	}
}

func TestForgottenKeyIsReplaced(t *testing.T) {
	w := newWorld()
	_, cfg := startWorld(t, w)
	var stale crypto.Key
	stale[0] = 1
	name := dcName(cfg, 2)
	if err := cfg.Store.Save(name, stale.WithID(), 1); err != nil {
		t.Fatal(err)
	}
	c := startClient(t, cfg)
	if _, err := c.Call(testCtx(t), send(1)); err != nil {
		t.Fatal(err)
	}
	key, _, _, _ := cfg.Store.Load(name)
	if key.ID == stale.WithID().ID {
		t.Fatal("the key the server rejected (-404) is still stored")
	}
}

func TestSchedulerCrashLeavesNoCallerWaiting(t *testing.T) {
	w := newWorld()
	var sent atomic.Bool
	w.hook = func(_ *tgtest.Server, _ *tgtest.Request, id int64) error {
		if id == 1 {
			sent.Store(true)
			return errDrop // never answered: the call is pending at the crash
		}
		return nil
	}
	_, cfg := startWorld(t, w)
	c := startClient(t, cfg)
	ctx := testCtx(t)
	f, err := c.Go(ctx, send(1))
	if err != nil {
		t.Fatal(err)
	}
	for !sent.Load() {
		if _, err := c.Call(ctx, &tg.UsersGetUsersRequest{ID: []tg.InputUserClass{&tg.InputUserSelf{}}}); err != nil {
			t.Fatal(err)
		}
	}
	c.system.Root.Send(c.sched, &panicMsg{})
	if _, err := f.Wait(ctx); !errors.Is(err, ErrSchedulerRestarted) || !errors.Is(err, scheduler.ErrMayHaveRun) {
		t.Fatalf("%v", err)
	}
	// The restarted scheduler serves new calls.
	if _, err := c.Call(ctx, send(2)); err != nil {
		t.Fatal(err)
	}
}

func TestBlockWhenFullWaitsForRoom(t *testing.T) {
	w := newWorld()
	hold := make(chan struct{})
	w.hook = func(_ *tgtest.Server, _ *tgtest.Request, id int64) error {
		if id == 1 {
			<-hold
		}
		return nil
	}
	_, cfg := startWorld(t, w)
	cfg.Scheduler.MaxQueued = 1
	cfg.BlockWhenFull = true
	c := startClient(t, cfg)
	ctx := testCtx(t)
	f1, err := c.Go(ctx, send(1))
	if err != nil {
		t.Fatal(err)
	}
	// The queue is full: a second submission blocks until ctx ends ...
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := c.Go(short, send(2)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("full queue: %v", err)
	}
	// ... or until the first call is answered.
	second := make(chan error, 1)
	go func() {
		_, err := c.Call(ctx, send(3))
		second <- err
	}()
	close(hold)
	if _, err := f1.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-second; err != nil {
		t.Fatal(err)
	}
}
