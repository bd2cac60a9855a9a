package actors

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gotd/td/exchange"
	"github.com/gotd/td/tg"
	"github.com/gotd/td/tgtest"
	"github.com/gotd/td/transport"
	"go.uber.org/goleak"

	"github.com/tlsched/tlsched/internal/faultproxy"
	"github.com/tlsched/tlsched/mtproto"
	"github.com/tlsched/tlsched/tgsim"
)

// The soak tests of issue 15, "connections that never hang": many callers
// send messages through the fault proxy while a driver cuts the connection,
// silences it, rotates the server's salts and jumps its clock, each at a
// point of progress (calls completed), never after a sleep. Every call
// must get exactly one answer, its own, and every message must be stored
// once.
//
//	go test -race -count=1 -run TestSoak ./actors                    # CI size
//	go test -count=1 -run TestSoak -timeout 20m ./actors -soak.full  # full size
//	go test -count=1 -run TestSoak ./actors -soak.seed 42            # replay a seed
//
// The test binary's flags go after the package: go test stops reading
// packages at a flag it does not know.
var (
	soakFull = flag.Bool("soak.full", false, "run TestSoak at full size: 100,000 calls, 20 cuts, a silence, a salt rotation and a clock jump")
	soakSeed = flag.Uint64("soak.seed", 0, "seed of the soak tests' random_ids, cut offsets and frame faults (0: from the clock, logged)")
)

// historyCap is tgsim's limit of messages kept per dialog (world.go): a
// dialog holding more no longer counts them in MessagesStored.
const historyCap = 10_000

// soakLiveness detects a silent connection within about a second and asks
// about a call left unanswered (a dropped result) after half a second.
var soakLiveness = mtproto.Config{BusyPingAfter: 200 * time.Millisecond, DeadAfter: time.Second, StateReqAfter: 500 * time.Millisecond}

func soakSeedFor(t *testing.T) uint64 {
	seed := *soakSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d (replay with -soak.seed %d)", seed, seed)
	return seed
}

// soakPlan is one soak run: calls from callers, call i to peers[i mod
// len(peers)], and events fired in order, spread evenly over the calls
// completed.
type soakPlan struct {
	calls, callers int
	peers          []tg.InputPeerClass
	events         []soakEvent
}

// soakEvent is a fault the driver injects; do returns once the fault has
// taken effect (a cut happened, the client reconnected).
type soakEvent struct {
	name string
	do   func(ctx context.Context) error
}

// soakResult is what a run saw.
type soakResult struct {
	took  time.Duration
	fired []string
}

// milestones closes one channel per event when the number of completed calls
// reaches the event's point.
type milestones struct {
	done atomic.Int64
	at   map[int64]int // calls completed -> event index
	ch   []chan struct{}
}

func newMilestones(calls, events int) *milestones {
	m := &milestones{at: map[int64]int{}, ch: make([]chan struct{}, events)}
	for k := range events {
		// Events at k+1 of events+2 equal parts: the last one still has
		// many calls after it to act on.
		m.at[int64(calls*(k+1)/(events+2))+1] = k
		m.ch[k] = make(chan struct{})
	}
	return m
}

func (m *milestones) complete() {
	if k, ok := m.at[m.done.Add(1)]; ok {
		close(m.ch[k])
	}
}

// runSoak makes plan.calls sendMessage calls with the distinct random_ids
// ids, from plan.callers goroutines, half through Call and half through Go
// and the future, while a driver fires plan.events. check gets each call's
// result. It fails t on any error, a result given twice, an unresolved
// future or an event that did not take effect.
func runSoak(t *testing.T, ctx context.Context, c *Client, plan soakPlan, ids []int64, check func(random int64, u *tg.UpdateShortSentMessage) error) soakResult {
	t.Helper()
	ms := newMilestones(plan.calls, len(plan.events))
	answers := make([]atomic.Int32, plan.calls)
	var (
		next   atomic.Int64
		nerrs  atomic.Int64
		errMu  sync.Mutex
		first  []error
		wg     sync.WaitGroup
		report = func(err error) {
			if nerrs.Add(1) <= 10 {
				errMu.Lock()
				first = append(first, err)
				errMu.Unlock()
			}
		}
	)
	start := time.Now()
	for g := range plan.callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= plan.calls {
					return
				}
				random := ids[i]
				req := &tg.MessagesSendMessageRequest{Peer: plan.peers[i%len(plan.peers)], Message: "soak", RandomID: random}
				var (
					v   any
					err error
				)
				if g%2 == 0 {
					v, err = c.Call(ctx, req)
				} else {
					var f *Future
					if f, err = c.Go(ctx, req); err == nil {
						v, err = f.Result(ctx)
						select {
						case <-f.Done():
						default:
							report(fmt.Errorf("call %d (random_id %d): Result returned, future not done", i, random))
						}
					}
				}
				if answers[i].Add(1) != 1 {
					report(fmt.Errorf("call %d (random_id %d) answered twice", i, random))
				}
				ms.complete()
				if err != nil {
					report(fmt.Errorf("call %d (random_id %d): %w", i, random, err))
					continue
				}
				u, ok := v.(*tg.UpdateShortSentMessage)
				if !ok {
					report(fmt.Errorf("call %d (random_id %d): result %T", i, random, v))
					continue
				}
				if err := check(random, u); err != nil {
					report(fmt.Errorf("call %d (random_id %d): %w", i, random, err))
				}
			}
		}()
	}

	var res soakResult
	driverErr := make(chan error, 1)
	go func() {
		for k, ev := range plan.events {
			select {
			case <-ms.ch[k]:
			case <-ctx.Done():
				driverErr <- fmt.Errorf("event %d (%s): waiting for %d calls: %w", k, ev.name, ms.done.Load(), ctx.Err())
				return
			}
			if err := ev.do(ctx); err != nil {
				driverErr <- fmt.Errorf("event %d (%s) at %d calls: %w", k, ev.name, ms.done.Load(), err)
				return
			}
			res.fired = append(res.fired, ev.name)
		}
		driverErr <- nil
	}()
	wg.Wait()
	res.took = time.Since(start)
	if err := <-driverErr; err != nil {
		t.Error(err)
	}
	for i := range answers {
		if n := answers[i].Load(); n != 1 {
			t.Errorf("call %d (random_id %d) answered %d times", i, ids[i], n)
			break
		}
	}
	if n := nerrs.Load(); n > 0 {
		t.Errorf("%d of %d calls failed; the first: %v", n, plan.calls, errors.Join(first...))
	}
	return res
}

// distinctIDs returns n distinct random random_ids in [1, max].
func distinctIDs(rng *rand.Rand, n int, max int64) []int64 {
	seen := make(map[int64]bool, n)
	ids := make([]int64, 0, n)
	for len(ids) < n {
		id := rng.Int64N(max) + 1
		if seen[id] {
			continue
		}
		seen[id] = true
		ids = append(ids, id)
	}
	return ids
}

// cutEvents returns n cuts on p: odd ones cut at once (Cut), even ones at a
// random byte offset, mid-frame included (CutAfter), counting from now.
func cutEvents(p *faultproxy.Proxy, n int) []soakEvent {
	evs := make([]soakEvent, n)
	for i := range evs {
		if i%2 == 0 {
			evs[i] = soakEvent{name: "cut", do: func(ctx context.Context) error { return cutNow(ctx, p) }}
		} else {
			evs[i] = soakEvent{name: "cut-after", do: func(ctx context.Context) error { return cutAfter(ctx, p) }}
		}
	}
	return evs
}

// cutNow cuts the open connection, waiting for one if the client is
// between connections.
func cutNow(ctx context.Context, p *faultproxy.Proxy) error {
	for {
		if p.Cut() > 0 {
			return nil
		}
		if err := p.WaitFor(ctx, func(s faultproxy.Stats) bool { return s.Open > 0 }); err != nil {
			return err
		}
	}
}

// cutAfter cuts a connection after a random 1 to 16 KiB written either way
// (the proxy draws the offset), then disarms the rule.
func cutAfter(ctx context.Context, p *faultproxy.Proxy) error {
	before := p.Stats().Cuts
	p.CutAfter(faultproxy.CutRule{Min: 1, Max: 16 << 10})
	defer p.StopCuts()
	return p.WaitFor(ctx, func(s faultproxy.Stats) bool { return s.Cuts > before })
}

// silenceEvent silences both directions until the client has given up on
// its connection and dialled again.
func silenceEvent(p *faultproxy.Proxy) soakEvent {
	return soakEvent{name: "silence", do: func(ctx context.Context) error {
		before := p.Stats().Accepted
		p.Silence(faultproxy.Both)
		defer p.Silence(0)
		return p.WaitFor(ctx, func(s faultproxy.Stats) bool { return s.Accepted > before })
	}}
}

// insertEvent puts ev at fraction f of evs.
func insertEvent(evs []soakEvent, f float64, ev soakEvent) []soakEvent {
	i := int(f * float64(len(evs)))
	return append(evs[:i], append([]soakEvent{ev}, evs[i:]...)...)
}

func soakContext(t *testing.T, d time.Duration) context.Context {
	if dl, ok := t.Deadline(); ok && time.Until(dl) < d+10*time.Second {
		d = time.Until(dl) - 10*time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// closeAll closes the client, then the proxy, then the server, and checks
// that no goroutine started since ignore was taken is left.
func closeAll(t *testing.T, ignore goleak.Option, c *Client, p *faultproxy.Proxy, stopServer func()) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.Close(ctx); err != nil {
		t.Errorf("close client: %v", err)
	}
	if err := p.Close(); err != nil {
		t.Errorf("close proxy: %v", err)
	}
	stopServer()
	goleak.VerifyNone(t, ignore)
}

// TestSoak: sendMessage calls from 1,000 callers to tgsim's DC 2 through
// the fault proxy, with cuts at random points (mid-frame included),
// duplicated and replayed frames from the proxy and from tgsim, and with -soak.full a silence, a salt rotation and a clock jump:
// every call gets exactly one answer, its own, every message is stored
// once, and Close leaves no goroutine.
func TestSoak(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	seed := soakSeedFor(t)
	rng := rand.New(rand.NewPCG(seed, 15))
	calls, callers, cuts := 10_000, 1_000, 5
	limit := 2 * time.Minute
	if *soakFull {
		calls, cuts, limit = 100_000, 20, 15*time.Minute
	}

	// Duplicated and replayed frames all along; SetFaults replaces the
	// whole struct, so the clock jump below keeps them. Not DropResults:
	// an answer tgsim lost for good is never recovered (TestLostAnswerRecovered).
	faults := tgsim.Faults{DuplicateFrames: 0.02, ReplayFrames: 0.02}
	srv, err := tgsim.Start(tgsim.Config{Key: serverKey(), Flood: tgsim.FloodConfig{Off: true}, Faults: faults})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	p, err := faultproxy.Start(srv.Addr(2), faultproxy.Config{Seed: seed})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	p.SetFrameFaults(faultproxy.ServerToClient, faultproxy.FrameFaults{Duplicate: 0.03, Replay: 0.03, ReplayBack: 3})
	c := startClient(t, Config{
		DCs:              map[int]string{2: p.Addr()},
		PublicKeys:       []exchange.PublicKey{srv.PublicKey()},
		Store:            NewMemoryStore(),
		Session:          soakLiveness,
		DialLimits:       []DialLimit{},
		RedialBackoffMax: 50 * time.Millisecond,
	})

	events := cutEvents(p, cuts)
	if *soakFull {
		events = insertEvent(events, 0.25, soakEvent{name: "rotate-salts", do: func(context.Context) error {
			srv.RotateSalts()
			return nil
		}})
		events = insertEvent(events, 0.5, silenceEvent(p))
		events = insertEvent(events, 0.75, soakEvent{name: "clock-jump", do: func(context.Context) error {
			f := faults
			f.ClockSkew = 45 * time.Second
			srv.SetFaults(f)
			return nil
		}})
	}

	// tgsim keeps 10,000 messages per dialog: the calls go to as many
	// dialogs as it takes, the bot's own and users'.
	ctx := soakContext(t, limit)
	bot := srv.Bot().ID
	peers := []tg.InputPeerClass{&tg.InputPeerSelf{}}
	dialogs := []int64{bot}
	for i := 1; len(peers) < (calls+historyCap-1)/historyCap; i++ {
		u := resolveUser(t, c, fmt.Sprintf("user%d", i))
		peers = append(peers, u)
		dialogs = append(dialogs, u.UserID)
	}

	var (
		mu   sync.Mutex
		seen = make(map[int]int64, calls)
	)
	ids := distinctIDs(rng, calls, math.MaxInt64-1)
	res := runSoak(t, ctx, c, soakPlan{calls: calls, callers: callers, peers: peers, events: events}, ids,
		func(random int64, u *tg.UpdateShortSentMessage) error {
			mu.Lock()
			defer mu.Unlock()
			if prev, dup := seen[u.ID]; dup {
				return fmt.Errorf("message %d was already the answer to random_id %d", u.ID, prev)
			}
			seen[u.ID] = random
			return nil
		})

	st, cnt := p.Stats(), srv.Counters()
	history := 0
	for k, id := range dialogs {
		n := srv.HistoryLen(bot, &tg.PeerUser{UserID: id})
		history += n
		if want := (calls - k + len(dialogs) - 1) / len(dialogs); n != want {
			t.Errorf("dialog %d (user %d) holds %d messages, want %d", k, id, n, want)
		}
	}
	t.Logf("%d calls from %d callers to %d dialogs in %v; events %v", calls, callers, len(dialogs), res.took.Round(time.Millisecond), res.fired)
	t.Logf("proxy: %d cuts, %d connections (%d reconnects), server frames duplicated %d, replayed %d, dropped by silence %d",
		st.Cuts, st.Accepted, st.Accepted-1, st.ToClient.Duplicated, st.ToClient.Replayed, st.ToClient.Dropped+st.ToServer.Dropped)
	t.Logf("tgsim: %d stored, history %d, %d duplicate sends absorbed, %d busy random_ids, %d results dropped, %d frames duplicated, %d replayed, %d resent, %d new sessions, errors %v",
		cnt.MessagesStored, history, cnt.Duplicates, cnt.RandomIDBusy, cnt.DroppedResults, cnt.DuplicatedFrames, cnt.ReplayedFrames, cnt.Resent, cnt.NewSessions, cnt.Errors)

	if cnt.MessagesStored != int64(calls) || history != calls {
		t.Errorf("tgsim stored %d messages (history %d), want %d: each call once", cnt.MessagesStored, history, calls)
	}
	if len(seen) != calls && !t.Failed() {
		t.Errorf("%d distinct message ids for %d calls", len(seen), calls)
	}
	if st.Cuts < cuts {
		t.Errorf("%d cuts, want at least %d", st.Cuts, cuts)
	}
	// Results travel in containers, so a loaded machine sends few frames
	// (under 200 for the CI size): check the four sources together.
	if st.ToClient.Duplicated+st.ToClient.Replayed+int(cnt.DuplicatedFrames+cnt.ReplayedFrames) == 0 {
		t.Errorf("duplicated frames not exercised: proxy %+v, tgsim duplicated %d, replayed %d", st.ToClient, cnt.DuplicatedFrames, cnt.ReplayedFrames)
	}
	closeAll(t, ignore, c, p, func() { srv.Close() })
}

// TestSoakTgtest is TestSoak against gotd's tgtest server, the anchor: a
// server we did not write. The world answers each sendMessage with its
// random_id as the message id and counts executions per random_id; a
// resend after a cut reaches it again and is answered from memory, as
// Telegram deduplicates random_id.
func TestSoakTgtest(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	seed := soakSeedFor(t)
	rng := rand.New(rand.NewPCG(seed, 2))
	calls, callers, cuts := 5_000, 500, 5
	if *soakFull {
		calls, callers, cuts = 20_000, 1_000, 10
	}

	w := newWorld()
	srv := tgtest.NewServer(tgtest.NewPrivateKey(serverKey()), w, tgtest.ServerOptions{DC: 2})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sctx, stop := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(sctx, transport.Listen(l)) }()
	var stopOnce sync.Once
	stopServer := func() {
		stopOnce.Do(func() {
			stop()
			<-served
		})
	}
	t.Cleanup(stopServer)
	p, err := faultproxy.Start(l.Addr().String(), faultproxy.Config{Seed: seed})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	p.SetFrameFaults(faultproxy.ServerToClient, faultproxy.FrameFaults{Duplicate: 0.03, Replay: 0.03, ReplayBack: 3})
	c := startClient(t, Config{
		DCs:              map[int]string{2: p.Addr()},
		PublicKeys:       []exchange.PublicKey{srv.Key()},
		Store:            NewMemoryStore(),
		Session:          soakLiveness,
		DialLimits:       []DialLimit{},
		RedialBackoffMax: 50 * time.Millisecond,
	})

	events := insertEvent(cutEvents(p, cuts), 0.5, silenceEvent(p))
	// The world answers with the random_id as the message id, an int32.
	ids := distinctIDs(rng, calls, math.MaxInt32)
	res := runSoak(t, soakContext(t, 2*time.Minute), c, soakPlan{calls: calls, callers: callers, peers: []tg.InputPeerClass{&tg.InputPeerSelf{}}, events: events}, ids,
		func(random int64, u *tg.UpdateShortSentMessage) error {
			if int64(u.ID) != random {
				return fmt.Errorf("got the answer of random_id %d", u.ID)
			}
			return nil
		})

	st := p.Stats()
	w.mu.Lock()
	executed, redelivered := len(w.executed), w.redeliveriesLocked()
	var missing int64
	for _, id := range ids {
		if w.executed[id] == 0 {
			missing = id
		}
	}
	w.mu.Unlock()
	t.Logf("%d calls from %d callers in %v; events %v", calls, callers, res.took.Round(time.Millisecond), res.fired)
	t.Logf("proxy: %d cuts, %d connections (%d reconnects), server frames duplicated %d, replayed %d, dropped by silence %d",
		st.Cuts, st.Accepted, st.Accepted-1, st.ToClient.Duplicated, st.ToClient.Replayed, st.ToClient.Dropped+st.ToServer.Dropped)
	t.Logf("tgtest world: %d random_ids executed, %d redeliveries answered from memory", executed, redelivered)

	if executed != calls || missing != 0 {
		t.Errorf("the world executed %d random_ids, want %d (one never ran: %d)", executed, calls, missing)
	}
	if st.Cuts < cuts {
		t.Errorf("%d cuts, want at least %d", st.Cuts, cuts)
	}
	closeAll(t, ignore, c, p, stopServer)
}

// TestLostAnswerRecovered: a call whose answer the server generated but
// lost (tgsim's Faults.DropResults: the message is stored, the rpc_result
// never sent nor kept) must still resolve, with the original's result: the
// server's msgs_state_info says "received, answered" (108), the client asks
// msg_resend_ans_req, which brings nothing, and must then send the call
// again (same bytes, same random_id: the server answers from its random_id
// memory, as TestDropResults in tgsim shows).
//
// It failed before the session gave up waiting for an answer it was told
// exists (handle_state_info.go, maxAnswerAsks).
func TestLostAnswerRecovered(t *testing.T) {
	srv, _, c := startProxied(t, tgsim.Config{Key: serverKey(), Flood: tgsim.FloodConfig{Off: true}}, Config{Session: soakLiveness})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := c.Call(ctx, send(1)); err != nil {
		t.Fatal(err)
	}
	srv.SetFaults(tgsim.Faults{DropResults: 1})
	f, err := c.Go(ctx, send(2))
	if err != nil {
		t.Fatal(err)
	}
	for srv.Counters().DroppedResults == 0 {
		select {
		case <-ctx.Done():
			t.Fatal("no result dropped")
		case <-time.After(10 * time.Millisecond):
		}
	}
	srv.SetFaults(tgsim.Faults{})
	v, err := f.Result(ctx)
	if err != nil {
		t.Fatalf("the call whose answer was lost: %v (tgsim: %d stored, %d resent)", err, srv.Counters().MessagesStored, srv.Counters().Resent)
	}
	if got := srv.Counters().MessagesStored; got != 2 {
		t.Fatalf("stored %d messages, want 2", got)
	}
	_ = sentID(t, v)
}

// TestResumeAfterSilenceKeepsAsking: a connection that went silent while a
// msgs_state_req was in flight (here one about calls unanswered for
// StateReqAfter, shortened as in the soak) must not turn msgs_state_req
// off for the session: on the next cut, calls the server holds are asked
// about, not resent with fresh msg_ids. The control case, a cut without a
// silence before it, resends nothing (tgsim counts no duplicate send and
// no RANDOM_ID_DUPLICATE).
//
// It failed after the silence while Session.Resume took "a msgs_state_req
// in flight and nothing received since" for a server that does not know
// msgs_state_req and turned it off for good.
func TestResumeAfterSilenceKeepsAsking(t *testing.T) {
	for _, silence := range []bool{false, true} {
		t.Run(fmt.Sprintf("silence=%v", silence), func(t *testing.T) {
			srv, p, c := startProxied(t, tgsim.Config{
				Key:           serverKey(),
				Flood:         tgsim.FloodConfig{Off: true},
				MethodLatency: map[string]tgsim.Latency{"messages.sendMessage": {Base: 300 * time.Millisecond}},
			}, Config{Session: soakLiveness})
			ctx := testCtx(t)
			if err := sendAll(ctx, c, 1, 20, 20); err != nil {
				t.Fatal(err)
			}
			if silence {
				// Calls go out into the silence; StateReqAfter asks about
				// them, into the silence too, before DeadAfter.
				p.Silence(faultproxy.Both)
				done := make(chan error, 1)
				go func() { done <- sendAll(ctx, c, 100, 20, 20) }()
				if err := p.WaitFor(ctx, func(s faultproxy.Stats) bool { return s.Accepted >= 2 }); err != nil {
					t.Fatal(err)
				}
				p.Silence(0)
				if err := <-done; err != nil {
					t.Fatal(err)
				}
			}
			// 100 calls the server has read and runs for 300 ms, then a cut.
			before := srv.Counters()
			done := make(chan error, 1)
			go func() { done <- sendAll(ctx, c, 1000, 100, 100) }()
			for srv.Counters().MessagesIn < before.MessagesIn+100 {
				select {
				case <-ctx.Done():
					t.Fatal("the calls never reached the server")
				case <-time.After(time.Millisecond):
				}
			}
			p.Cut()
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			after := srv.Counters()
			t.Logf("duplicate sends %d, busy random_ids %d, stored %d", after.Duplicates-before.Duplicates, after.RandomIDBusy-before.RandomIDBusy, after.MessagesStored)
			if d := after.Duplicates - before.Duplicates + after.RandomIDBusy - before.RandomIDBusy; d != 0 {
				t.Fatalf("%d calls the server held were sent again after the cut", d)
			}
		})
	}
}
