package actors

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"testing"
	"time"
	"weak"

	"github.com/gotd/td/bin"
	"github.com/gotd/td/mt"
	"github.com/gotd/td/proto"
	"github.com/gotd/td/tg"
	"github.com/gotd/td/tgerr"
	"github.com/gotd/td/tgtest"

	"github.com/tlsched/tlsched/mtproto/spec"
	"github.com/tlsched/tlsched/scheduler"
	"github.com/tlsched/tlsched/tl"
)

// The facade's promises about cancel, chains and flood budgets, against a
// tgtest server (world) whose hook holds chosen calls on the server until
// the test lets them go.

// holder is a world hook that holds the sendMessage calls with chosen
// random_ids on the server: it reports each arrival, then waits for the
// test to say what the server answers (nil: run it).
type holder struct {
	mu      sync.Mutex
	held    map[int64]chan error
	arrived chan int64
	counts  map[int64]int // arrivals per random_id, held or not
}

func newHolder(w *world, ids ...int64) *holder {
	h := &holder{held: map[int64]chan error{}, arrived: make(chan int64, 16), counts: map[int64]int{}}
	for _, id := range ids {
		h.held[id] = make(chan error, 1)
	}
	w.hook = func(_ *tgtest.Server, _ *tgtest.Request, random int64) error {
		h.mu.Lock()
		h.counts[random]++
		ch, ok := h.held[random]
		if ok {
			delete(h.held, random) // held once: a resend runs at once
		}
		h.mu.Unlock()
		if !ok {
			return nil
		}
		h.arrived <- random
		return <-ch
	}
	return h
}

// release lets the held call go with the given answer (nil: run it).
func (h *holder) release(ch chan error, err error) { ch <- err }

func (h *holder) count(random int64) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.counts[random]
}

func (h *holder) wait(t *testing.T, ctx context.Context, want int64) {
	t.Helper()
	select {
	case got := <-h.arrived:
		if got != want {
			t.Fatalf("call %d arrived, want %d", got, want)
		}
	case <-ctx.Done():
		t.Fatalf("call %d never reached the server", want)
	}
}

// A call cancelled while in flight resolves at once as may-have-run, and
// is never sent again: not after the flood wait its own answer brings,
// not after its DC actor crashes and takes the connection with it.
func TestCancelledInFlightIsNeverSentAgain(t *testing.T) {
	w := newWorld()
	h := newHolder(w, 1, 11)
	gate1, gate11 := h.held[1], h.held[11]
	_, cfg := startWorld(t, w)
	c := startClient(t, cfg)
	ctx := testCtx(t)

	// Flood wait after the cancel.
	f, err := c.Go(context.Background(), send(1))
	if err != nil {
		t.Fatal(err)
	}
	h.wait(t, ctx, 1)
	f.Cancel()
	_, err = f.Wait(ctx)
	var ce *scheduler.CanceledError
	if !errors.As(err, &ce) || !errors.Is(err, context.Canceled) || !errors.Is(err, scheduler.ErrMayHaveRun) {
		t.Fatalf("cancelled in flight: %v", err)
	}
	h.release(gate1, tgerr.New(420, "FLOOD_WAIT_1"))
	// A later call of the same method waits for the same gate; had the
	// cancelled call been requeued, it would have gone out before it.
	if _, err := c.Call(ctx, send(2)); err != nil {
		t.Fatal(err)
	}
	if n := h.count(1); n != 1 {
		t.Fatalf("cancelled call reached the server %d times, want 1", n)
	}

	// The DC actor crashes with the cancelled call in flight: the calls
	// it held are lost, and only the others are retried.
	f, err = c.Go(context.Background(), send(11))
	if err != nil {
		t.Fatal(err)
	}
	h.wait(t, ctx, 11)
	f.Cancel()
	if _, err := f.Wait(ctx); !errors.Is(err, scheduler.ErrMayHaveRun) {
		t.Fatalf("cancelled in flight: %v", err)
	}
	c.system.Root.Send(c.sched, &failDCMsg{dc: 2})
	h.release(gate11, errDrop)
	if _, err := c.Call(ctx, send(12)); err != nil {
		t.Fatal(err)
	}
	if n := h.count(11); n != 1 {
		t.Fatalf("cancelled call reached the server %d times, want 1", n)
	}
}

// A call cancelled in flight is forgotten by its DC's session too: the
// session does not resend it when the server rejects its salt (nor after
// a reconnect or a new session, which resend the same way).
func TestCancelledInFlightIsNotResentBySession(t *testing.T) {
	w := newWorld()
	var (
		mu      sync.Mutex
		count   int
		arrived = make(chan struct{}, 1)
		release = make(chan struct{})
	)
	w.hook = func(srv *tgtest.Server, req *tgtest.Request, random int64) error {
		if random != 51 {
			return nil
		}
		mu.Lock()
		count++
		first := count == 1
		mu.Unlock()
		if !first {
			return nil
		}
		arrived <- struct{}{}
		<-release
		// MTProto: bad_server_salt makes the client resend the message.
		if err := srv.Send(req.RequestCtx, req.Session, proto.MessageServerResponse, &mt.BadServerSalt{
			BadMsgID: req.MsgID, ErrorCode: spec.BadMsgServerSalt, NewServerSalt: 0x5a17,
		}); err != nil {
			return err
		}
		return errDrop
	}
	_, cfg := startWorld(t, w)
	c := startClient(t, cfg)
	ctx := testCtx(t)

	f, err := c.Go(context.Background(), send(51))
	if err != nil {
		t.Fatal(err)
	}
	<-arrived
	f.Cancel()
	if _, err := f.Wait(ctx); !errors.Is(err, scheduler.ErrMayHaveRun) {
		t.Fatalf("cancelled in flight: %v", err)
	}
	// The DC actor heard of the cancel before it reads the bad salt; a
	// resend would go out before the next call, which the server runs in
	// order on the connection.
	close(release)
	if _, err := c.Call(ctx, send(52)); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if count != 1 {
		t.Fatalf("cancelled call reached the server %d times, want 1", count)
	}
}

// With BlockWhenFull, a call cancelled in flight gives its queue slot back,
// and the scheduler does not count it against MaxQueued either while it
// waits for its answer: the next call is taken, not refused.
func TestCancelledInFlightFreesItsSlot(t *testing.T) {
	w := newWorld()
	h := newHolder(w, 61)
	gate61 := h.held[61]
	_, cfg := startWorld(t, w)
	cfg.Scheduler.MaxQueued = 1
	cfg.BlockWhenFull = true
	c := startClient(t, cfg)
	ctx := testCtx(t)

	f, err := c.Go(context.Background(), send(61))
	if err != nil {
		t.Fatal(err)
	}
	h.wait(t, ctx, 61)
	f.Cancel()
	if _, err := f.Wait(ctx); !errors.Is(err, scheduler.ErrMayHaveRun) {
		t.Fatalf("cancelled: %v", err)
	}
	f2, err := c.Go(ctx, send(62))
	if err != nil {
		t.Fatal(err)
	}
	// Stats is answered after the submission before it: a refusal would
	// have resolved f2 by now.
	if _, err := c.Stats(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case <-f2.Done():
		_, err := f2.Wait(ctx)
		t.Fatalf("second call resolved while the first was held: %v", err)
	default:
	}
	h.release(gate61, nil)
	if _, err := f2.Wait(ctx); err != nil {
		t.Fatal(err)
	}
}

// Wait's context bounds that wait only: the call goes on for its other
// waiters. The context the call was submitted with ending makes the
// call's outcome a cancellation with that context's error: a deadline
// stays DeadlineExceeded.
func TestWaitEndsWithoutCancellingAndDeadlinesStay(t *testing.T) {
	w := newWorld()
	h := newHolder(w, 21, 22)
	gate21, gate22 := h.held[21], h.held[22]
	_, cfg := startWorld(t, w)
	c := startClient(t, cfg)
	ctx := testCtx(t)

	f, err := c.Go(context.Background(), send(21))
	if err != nil {
		t.Fatal(err)
	}
	h.wait(t, ctx, 21)
	gone, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := f.Wait(gone); !errors.Is(err, context.Canceled) {
		t.Fatalf("wait with an ended context: %v", err)
	}
	h.release(gate21, nil)
	body, err := f.Wait(ctx)
	if err != nil || len(body) == 0 {
		t.Fatalf("the other waiter: %v", err)
	}

	dctx, dcancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer dcancel()
	_, err = c.Call(dctx, send(22))
	if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) || !errors.Is(err, scheduler.ErrMayHaveRun) {
		t.Fatalf("call past its deadline: %v", err)
	}
	h.release(gate22, nil)
}

// After(f) is decided by f's own outcome: a predecessor refused with a full
// queue breaks the chain (it was never run, so neither is the dependent),
// one that succeeded is nothing to wait for.
func TestAfterFollowsThePredecessorsOutcome(t *testing.T) {
	w := newWorld()
	h := newHolder(w, 31)
	gate31 := h.held[31]
	_, cfg := startWorld(t, w)
	cfg.Scheduler.MaxQueued = 1
	c := startClient(t, cfg)
	ctx := testCtx(t)

	f1, err := c.Go(ctx, send(31))
	if err != nil {
		t.Fatal(err)
	}
	h.wait(t, ctx, 31)
	f2, err := c.Go(ctx, send(32))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f2.Wait(ctx); !errors.Is(err, scheduler.ErrQueueFull) || !errors.Is(err, scheduler.ErrNotSent) {
		t.Fatalf("over MaxQueued: %v", err)
	}
	f3, err := c.Go(ctx, send(33), After(f2))
	if err != nil {
		t.Fatal(err)
	}
	_, err = f3.Wait(ctx)
	var cb *scheduler.ChainBrokenError
	if !errors.As(err, &cb) || cb.Pred != scheduler.CallID(f2.ID()) || !errors.Is(cb.Err, scheduler.ErrQueueFull) ||
		errors.Is(err, scheduler.ErrQueueFull) || !errors.Is(err, scheduler.ErrNotSent) {
		t.Fatalf("after a refused call: %v", err)
	}
	h.release(gate31, nil)
	if _, err := f1.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	f4, err := c.Go(ctx, send(34), After(f1))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f4.Wait(ctx); err != nil {
		t.Fatalf("after a call that succeeded: %v", err)
	}
	if n := h.count(33); n != 0 {
		t.Fatalf("dependent of a refused call reached the server %d times", n)
	}
	other := startClient(t, cfg)
	if _, err := other.Go(ctx, send(35), After(f1)); err == nil {
		t.Fatal("After with a future of another client accepted")
	}
}

// A flood wait longer than a call's budget fails it at once, not sent:
// its own answer, and a gate it meets later, including a gate that stays
// closed past the deadline of the call's context.
func TestFloodBudget(t *testing.T) {
	w := newWorld()
	h := newHolder(w, 41)
	gate41 := h.held[41]
	_, cfg := startWorld(t, w)
	c := startClient(t, cfg)
	ctx := testCtx(t)

	h.release(gate41, tgerr.New(420, "FLOOD_WAIT_30"))
	f, err := c.Go(ctx, send(41), FloodBudget(10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.Wait(ctx)
	fw, ok := tl.AsFloodWait(err)
	if !ok || fw.Duration != 30*time.Second || !errors.Is(err, scheduler.ErrNotSent) {
		t.Fatalf("flood wait of 30 s with a 10 s budget: %v", err)
	}
	short, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	_, err = c.Call(short, send(42))
	if fw, ok := tl.AsFloodWait(err); !ok || fw.Duration < 20*time.Second || !errors.Is(err, scheduler.ErrNotSent) {
		t.Fatalf("behind a 30 s gate with a 10 s deadline: %v", err)
	}
	f, err = c.Go(context.Background(), send(43), FloodBudget(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Wait(ctx); !errors.Is(err, scheduler.ErrNotSent) {
		t.Fatalf("behind a 30 s gate with a 1 s budget: %v", err)
	}
	if n := h.count(42) + h.count(43); n != 0 {
		t.Fatalf("calls failed by their budget reached the server %d times", n)
	}
}

// The chat a call is about comes from every peer-bearing field, the same
// key whichever input form names the chat; slow mode holds only writes.
func TestPeerKeys(t *testing.T) {
	for _, c := range []struct {
		req    bin.Encoder
		key    string
		writes bool
	}{
		{&tg.MessagesSendMessageRequest{Peer: &tg.InputPeerChannel{ChannelID: 7}}, "channel:7", true},
		{&tg.MessagesForwardMessagesRequest{FromPeer: &tg.InputPeerUser{UserID: 1}, ToPeer: &tg.InputPeerChat{ChatID: 9}}, "chat:9", true},
		{&tg.ChannelsGetMessagesRequest{Channel: &tg.InputChannel{ChannelID: 7}}, "channel:7", false},
		{&tg.MessagesGetHistoryRequest{Peer: &tg.InputPeerUserFromMessage{UserID: 5}}, "user:5", false},
		{&tg.ChannelsJoinChannelRequest{Channel: &tg.InputChannelFromMessage{ChannelID: 8}}, "channel:8", false},
		{&tg.UsersGetUsersRequest{}, "", false},
	} {
		if got := tl.RequestPeer(c.req); got != c.key {
			t.Errorf("%T: key %q, want %q", c.req, got, c.key)
		}
		def, _ := tl.ByID(c.req.(interface{ TypeID() uint32 }).TypeID())
		if got := tl.WritesToChat(def); got != c.writes {
			t.Errorf("%T: writes %v, want %v", c.req, got, c.writes)
		}
	}
}

// A long chain (each call After the previous one) keeps only what it
// needs: a finished predecessor is not reachable from its dependent.
func TestChainDoesNotRetainFinishedCalls(t *testing.T) {
	w := newWorld()
	_, cfg := startWorld(t, w)
	c := startClient(t, cfg)
	ctx := testCtx(t)
	const n = 100
	var (
		f    *Future
		refs []weak.Pointer[pending]
	)
	for i := int64(1); i <= n; i++ {
		var opts []Option
		if f != nil {
			opts = append(opts, After(f))
		}
		var err error
		if f, err = c.Go(context.Background(), send(i), opts...); err != nil {
			t.Fatal(err)
		}
		refs = append(refs, weak.Make(f.p))
		if _, err := f.Wait(ctx); err != nil {
			t.Fatal(err)
		}
	}
	runtime.GC()
	runtime.GC()
	alive := 0
	for _, r := range refs[:n-1] {
		if r.Value() != nil {
			alive++
		}
	}
	if alive > n/10 {
		t.Fatalf("%d of %d finished calls still reachable from the last future", alive, n-1)
	}
	runtime.KeepAlive(f)
}
