package actors

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gotd/td/bin"
	"github.com/gotd/td/tg"
	"github.com/gotd/td/tgerr"

	"github.com/tlsched/tlsched/scheduler"
	"github.com/tlsched/tlsched/tgsim"
	"github.com/tlsched/tlsched/tl"
)

// One Option type: a batch takes OnDC (and the rest) as a single call does,
// and Invoke takes options from its context.
func TestBatchTakesCallOptions(t *testing.T) {
	_, c := startSim(t, tgsim.Config{Key: serverKey(), Flood: tgsim.FloodConfig{Off: true}})
	ctx := testCtx(t)
	res, err := c.InvokeAll(ctx, []bin.Encoder{send(1), send(2)}, OnDC(9), Ordered(), FloodBudget(0))
	var merr *MultiError
	if !errors.As(err, &merr) || len(merr.Errors) != 2 {
		t.Fatalf("batch on an unknown DC: %v", err)
	}
	for i, r := range res {
		// The first fails on the DC; the second with it (Ordered) or on
		// the DC too.
		if r.Err == nil {
			t.Fatalf("#%d succeeded on DC 9", i)
		}
	}
	if !strings.Contains(res[0].Err.Error(), "unknown dc 9") {
		t.Fatalf("#0: %v, want unknown dc 9", res[0].Err)
	}
	// Invoke (tg.Invoker's signature) takes options from its context.
	err = c.Invoke(WithOptions(ctx, OnDC(9)), send(3), &tg.UpdatesBox{})
	if err == nil || !strings.Contains(err.Error(), "unknown dc 9") {
		t.Fatalf("Invoke with OnDC(9) in its context: %v", err)
	}
	if _, err := c.Call(ctx, send(4), OnDC(9)); err == nil || !strings.Contains(err.Error(), "unknown dc 9") {
		t.Fatalf("Call with OnDC(9): %v", err)
	}
	if _, err := c.Call(ctx, send(5)); err != nil {
		t.Fatal(err)
	}

	// After in a batch: every call waits for the predecessor, and none
	// runs when it failed.
	bad := &tg.MessagesSendMessageRequest{Peer: &tg.InputPeerUser{UserID: 1, AccessHash: 1}, Message: "x", RandomID: 6}
	f, err := c.Go(ctx, bad)
	if err != nil {
		t.Fatal(err)
	}
	res, err = c.InvokeAll(ctx, []bin.Encoder{send(7), send(8)}, After(f))
	var broken *scheduler.ChainBrokenError
	if !errors.As(err, &merr) || !errors.As(res[0].Err, &broken) || !errors.As(res[1].Err, &broken) {
		t.Fatalf("a batch After a failed call: %v", err)
	}

	// Options from the context, then the call's own, reach each call.
	p, err := (&Client{}).newPending(send(9), options(WithOptions(ctx, OnDC(3), FloodBudget(time.Second)), []Option{FloodBudget(0)}))
	if err != nil {
		t.Fatal(err)
	}
	if p.dc != 3 || p.budget != -1 {
		t.Fatalf("dc %d budget %v, want 3 and -1 (the call's own option last)", p.dc, p.budget)
	}
}

// InvokeAll answers a failure with a *MultiError for a batch of one as for
// a batch of two, and errors.Is/As reach the calls' own errors.
func TestBatchErrorSameShapeForAnySize(t *testing.T) {
	_, c := startSim(t, tgsim.Config{Key: serverKey(), Flood: tgsim.FloodConfig{Off: true}})
	ctx := testCtx(t)
	bad := &tg.MessagesSendMessageRequest{Peer: &tg.InputPeerUser{UserID: 1, AccessHash: 1}, Message: "x", RandomID: 11}
	for _, reqs := range [][]bin.Encoder{{bad}, {send(12), bad}} {
		res, err := c.InvokeAll(ctx, reqs)
		var merr *MultiError
		if !errors.As(err, &merr) {
			t.Fatalf("batch of %d: %T %v, want *MultiError", len(reqs), err, err)
		}
		last := len(reqs) - 1
		if merr.Total != len(reqs) || len(merr.Errors) != 1 || merr.Errors[last] == nil {
			t.Fatalf("batch of %d: %+v", len(reqs), merr)
		}
		if !tgerr.Is(err, "PEER_ID_INVALID") {
			t.Fatalf("batch of %d: errors.As does not reach the call's error: %v", len(reqs), err)
		}
		if res[last].Err != merr.Errors[last] {
			t.Fatalf("batch of %d: Result.Err %v, MultiError %v", len(reqs), res[last].Err, merr.Errors[last])
		}
	}
}

// InvokeAllAs takes typed requests and gives typed results, with the
// calls' random_ids filled.
func TestInvokeAllAsTyped(t *testing.T) {
	srv, c := startSim(t, tgsim.Config{Key: serverKey(), Flood: tgsim.FloodConfig{Off: true}})
	ctx := testCtx(t)
	peer := resolveUser(t, c, "user1")
	reqs := []*tg.MessagesSendMessageRequest{{Peer: peer, Message: "a"}, {Peer: peer, Message: "b"}, {Peer: peer, Message: "c"}}
	upds, err := InvokeAllAs[tg.UpdatesBox](ctx, c, reqs, Ordered())
	if err != nil {
		t.Fatal(err)
	}
	ids := map[int]bool{}
	for i, u := range upds {
		s, ok := u.Updates.(*tg.UpdateShortSentMessage)
		if !ok {
			t.Fatalf("#%d: %T", i, u.Updates)
		}
		ids[s.ID] = true
	}
	if len(ids) != 3 || srv.Counters().MessagesStored != 3 {
		t.Fatalf("%d distinct messages, server stored %d: want 3 (the zero random_ids must be filled, each its own)", len(ids), srv.Counters().MessagesStored)
	}
	for _, r := range reqs {
		if r.RandomID != 0 {
			t.Fatal("the caller's request was modified")
		}
	}
	// A result that does not decode as T is its call's error.
	_, err = InvokeAllAs[tg.ContactsResolvedPeer](ctx, c, []*tg.MessagesSendMessageRequest{{Peer: peer, Message: "d"}})
	var merr *MultiError
	if !errors.As(err, &merr) || merr.Errors[0] == nil || !strings.Contains(merr.Errors[0].Error(), "decode result #0") {
		t.Fatalf("wrong result type: %v", err)
	}
}

// A zero random_id is filled in a copy (FillRandomID), unless turned off;
// forwardMessages gets one per message id.
func TestFillRandomID(t *testing.T) {
	c := &Client{}
	decode := func(p *pending) *tg.MessagesSendMessageRequest {
		var r tg.MessagesSendMessageRequest
		if err := r.Decode(&bin.Buffer{Buf: p.raw}); err != nil {
			t.Fatal(err)
		}
		return &r
	}
	req := &tg.MessagesSendMessageRequest{Peer: &tg.InputPeerSelf{}, Message: "x"}
	p, err := c.newPending(req, options(context.Background(), nil))
	if err != nil {
		t.Fatal(err)
	}
	if decode(p).RandomID == 0 || req.RandomID != 0 {
		t.Fatalf("sent random_id %d, caller's %d: want filled, untouched", decode(p).RandomID, req.RandomID)
	}
	if !p.resendable {
		t.Fatal("a call with a filled random_id is resendable")
	}
	p, err = c.newPending(req, options(WithOptions(context.Background(), FillRandomID(false)), nil))
	if err != nil {
		t.Fatal(err)
	}
	if decode(p).RandomID != 0 || p.resendable {
		t.Fatalf("FillRandomID(false): sent %d", decode(p).RandomID)
	}
	req.RandomID = 42
	if p, _ = c.newPending(req, callOptions{}); decode(p).RandomID != 42 {
		t.Fatalf("a set random_id was replaced: %d", decode(p).RandomID)
	}
	fwd := withRandomID(&tg.MessagesForwardMessagesRequest{ID: []int{1, 2, 3}}).(*tg.MessagesForwardMessagesRequest)
	if len(fwd.RandomID) != 3 || fwd.RandomID[0] == 0 || fwd.RandomID[0] == fwd.RandomID[1] {
		t.Fatalf("forwardMessages random_ids %v", fwd.RandomID)
	}
	seen := map[int64]bool{}
	for range 1000 {
		id := RandomID()
		if id == 0 || seen[id] {
			t.Fatalf("RandomID gave %d twice or zero", id)
		}
		seen[id] = true
	}
}

// Middlewares run in the order given, around calls made through
// tg.NewClient(c), Invoke and Call; a middleware added after Start applies
// to the next call.
func TestMiddlewareChainOrder(t *testing.T) {
	_, c := startSim(t, tgsim.Config{Key: serverKey(), Flood: tgsim.FloodConfig{Off: true}})
	ctx := testCtx(t)
	var mu sync.Mutex
	var trace []string
	mw := func(name string) Middleware {
		return MiddlewareFunc(func(next tg.Invoker) InvokeFunc {
			return func(ctx context.Context, in bin.Encoder, out bin.Decoder) error {
				mu.Lock()
				trace = append(trace, name+">")
				mu.Unlock()
				err := next.Invoke(ctx, in, out)
				mu.Lock()
				trace = append(trace, "<"+name)
				mu.Unlock()
				return err
			}
		})
	}
	api := tg.NewClient(c)
	if _, err := api.UpdatesGetState(ctx); err != nil {
		t.Fatal(err)
	}
	c.Use(mw("a"), mw("b"))
	c.Use(mw("c"))
	if _, err := api.ContactsResolveUsername(ctx, &tg.ContactsResolveUsernameRequest{Username: "user1"}); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(trace, " "); got != "a> b> c> <c <b <a" {
		t.Fatalf("order %q", got)
	}
	trace = nil
	if _, err := c.Call(ctx, send(1)); err != nil {
		t.Fatal(err)
	}
	if len(trace) != 6 {
		t.Fatalf("Call bypassed the middlewares: %v", trace)
	}
	trace = nil
	if _, err := c.InvokeAll(ctx, []bin.Encoder{send(2)}); err != nil || len(trace) != 0 {
		t.Fatalf("InvokeAll: %v, middlewares saw %v", err, trace)
	}
}

// A result hook added after Start sees results until removed.
func TestOnResultAfterStart(t *testing.T) {
	_, c := startSim(t, tgsim.Config{Key: serverKey(), Flood: tgsim.FloodConfig{Off: true}})
	ctx := testCtx(t)
	if _, err := c.Call(ctx, &tg.UpdatesGetStateRequest{}); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var seen []string
	remove := c.OnResult(func(m *tl.Definition, body []byte) {
		mu.Lock()
		seen = append(seen, m.Name)
		mu.Unlock()
	})
	c.OnResult(func(*tl.Definition, []byte) { panic("a bad hook") }) // logged; the others still run
	if _, err := c.Call(ctx, &tg.ContactsResolveUsernameRequest{Username: "user1"}); err != nil {
		t.Fatal(err)
	}
	remove()
	if _, err := c.Call(ctx, &tg.UpdatesGetStateRequest{}); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 1 || seen[0] != "contacts.resolveUsername" {
		t.Fatalf("hook saw %v", seen)
	}
}

// GoBatch submits calls with their own DC and predecessor in one message:
// a call that cannot be submitted gets its Err and the others go, each
// submitted call's Notify comes once with its very Future (done by then),
// and a closed client submits none.
func TestGoBatch(t *testing.T) {
	_, c := startSim(t, tgsim.Config{Key: serverKey(), Flood: tgsim.FloodConfig{Off: true}})
	ctx := testCtx(t)
	notified := make(chan *Future, 8)
	notify := func(f *Future) {
		select {
		case <-f.Done():
		default:
			t.Error("notified before the outcome was set")
		}
		notified <- f
	}
	bad := &tg.MessagesSendMessageRequest{Peer: &tg.InputPeerUser{UserID: 1, AccessHash: 1}, Message: "x", RandomID: 31}
	calls := []BatchCall{
		{Req: send(32), Notify: notify},
		{Req: send(33), DC: 9, Notify: notify},
		{Req: nil, Notify: notify},
		{Req: bad, Notify: notify},
	}
	if err := c.GoBatch(ctx, calls); err != nil {
		t.Fatal(err)
	}
	if calls[2].Future != nil || calls[2].Err == nil || !strings.Contains(calls[2].Err.Error(), "nil request") {
		t.Fatalf("a nil request: future %v, err %v", calls[2].Future, calls[2].Err)
	}
	got := map[*Future]int{}
	for range 3 {
		got[<-notified]++
	}
	for i, bc := range []BatchCall{calls[0], calls[1], calls[3]} {
		if bc.Err != nil || got[bc.Future] != 1 {
			t.Fatalf("call %d: err %v, notified %d times", i, bc.Err, got[bc.Future])
		}
	}
	if _, err := calls[0].Future.Wait(ctx); err != nil {
		t.Fatalf("home DC call: %v", err)
	}
	if _, err := calls[1].Future.Wait(ctx); err == nil || !strings.Contains(err.Error(), "unknown dc 9") {
		t.Fatalf("DC 9 call: %v, want unknown dc 9", err)
	}

	// After a call of an earlier GoBatch: a failed predecessor fails its
	// dependent, a good one orders it.
	next := []BatchCall{{Req: send(34), After: calls[3].Future}, {Req: send(35), After: calls[0].Future}}
	if err := c.GoBatch(ctx, next); err != nil {
		t.Fatal(err)
	}
	var broken *scheduler.ChainBrokenError
	if _, err := next[0].Future.Wait(ctx); !errors.As(err, &broken) {
		t.Fatalf("after a failed call: %v, want a ChainBrokenError", err)
	}
	if _, err := next[1].Future.Wait(ctx); err != nil {
		t.Fatalf("after a call that succeeded: %v", err)
	}
	select {
	case f := <-notified:
		t.Fatalf("a notify for %d, whose call had none", f.ID())
	default:
	}

	if err := c.Close(ctx); err != nil {
		t.Fatal(err)
	}
	last := []BatchCall{{Req: send(36), Notify: notify}}
	if err := c.GoBatch(ctx, last); err == nil || last[0].Future != nil {
		t.Fatalf("GoBatch on a closed client: %v, future %v", err, last[0].Future)
	}
}
