package actors

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/gotd/td/exchange"
	"github.com/gotd/td/tg"

	"github.com/tlsched/tlsched/internal/faultproxy"
	"github.com/tlsched/tlsched/mtproto"
	"github.com/tlsched/tlsched/scheduler"
	"github.com/tlsched/tlsched/tgsim"
)

// Connections that never hang, over real sockets: a client talks to tgsim's
// DC 2 (the bot's home) through the fault proxy. Liveness timings are
// shortened so the tests run quickly; the tests assert outcomes only.

// fastLiveness detects a silent connection within about a second.
var fastLiveness = mtproto.Config{BusyPingAfter: 100 * time.Millisecond, DeadAfter: 600 * time.Millisecond}

func startProxied(t testing.TB, simCfg tgsim.Config, cfg Config) (*tgsim.Server, *faultproxy.Proxy, *Client) {
	t.Helper()
	srv, err := tgsim.Start(simCfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	p, err := faultproxy.Start(srv.Addr(2), faultproxy.Config{Seed: 15})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	cfg.DCs = map[int]string{2: p.Addr()}
	cfg.PublicKeys = []exchange.PublicKey{srv.PublicKey()}
	cfg.Scheduler.HomeDC = 2
	cfg.Store = NewMemoryStore()
	// Connection pacing has tests of its own (reconnect_test.go); here it
	// would only slow the many reconnects down.
	if cfg.DialLimits == nil {
		cfg.DialLimits = []DialLimit{}
	}
	if cfg.RedialBackoffMax == 0 {
		cfg.RedialBackoffMax = 50 * time.Millisecond
	}
	if cfg.Session.DeadAfter == 0 {
		cfg.Session.BusyPingAfter, cfg.Session.DeadAfter = fastLiveness.BusyPingAfter, fastLiveness.DeadAfter
	}
	return srv, p, startClient(t, cfg)
}

// sendAll sends n messages with random_ids from..from+n-1 from n/each
// callers and checks every call got its own message id.
func sendAll(ctx context.Context, c *Client, from, n, callers int) error {
	var (
		mu   sync.Mutex
		seen = map[int]int64{}
		wg   sync.WaitGroup
	)
	errs := make(chan error, callers)
	for g := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := g; i < n; i += callers {
				random := int64(from + i)
				v, err := c.Call(ctx, &tg.MessagesSendMessageRequest{Peer: &tg.InputPeerSelf{}, Message: "hi", RandomID: random})
				if err != nil {
					errs <- fmt.Errorf("call %d: %w", random, err)
					return
				}
				id := v.(*tg.UpdateShortSentMessage).ID
				mu.Lock()
				prev, dup := seen[id]
				seen[id] = random
				mu.Unlock()
				if dup {
					errs <- fmt.Errorf("message %d answered to calls %d and %d", id, prev, random)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

func TestSilentConnectionDetectedAndRecovered(t *testing.T) {
	srv, p, c := startProxied(t, tgsim.Config{Key: serverKey(), Flood: tgsim.FloodConfig{Off: true}}, Config{})
	ctx := testCtx(t)
	if err := sendAll(ctx, c, 1, 50, 5); err != nil {
		t.Fatal(err)
	}
	// The link goes silent both ways with calls in flight; it comes back
	// only once the client has given up on it and dialled again.
	p.Silence(faultproxy.Both)
	done := make(chan error, 1)
	go func() { done <- sendAll(ctx, c, 1000, 200, 20) }()
	if err := p.WaitFor(ctx, func(s faultproxy.Stats) bool { return s.Accepted >= 2 }); err != nil {
		t.Fatalf("the client never noticed the silence: %v", err)
	}
	p.Silence(0)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := srv.Counters().MessagesStored; got != 250 {
		t.Fatalf("server stored %d messages, want 250 (each once)", got)
	}
}

func TestCutsAndDuplicatedFramesExactlyOnce(t *testing.T) {
	srv, p, c := startProxied(t, tgsim.Config{Key: serverKey(), Flood: tgsim.FloodConfig{Off: true}}, Config{})
	ctx := testCtx(t)
	p.SetFrameFaults(faultproxy.ServerToClient, faultproxy.FrameFaults{Duplicate: 0.1, Replay: 0.05, ReplayBack: 3})
	p.CutAfter(faultproxy.CutRule{Min: 2_000, Max: 60_000})
	const n = 2000
	if err := sendAll(ctx, c, 1, n, 100); err != nil {
		t.Fatal(err)
	}
	st := p.Stats()
	if st.Cuts < 3 || st.ToClient.Duplicated == 0 || st.ToClient.Replayed == 0 {
		t.Fatalf("faults not exercised: %+v", st)
	}
	if got := srv.Counters().MessagesStored; got != n {
		t.Fatalf("server stored %d messages, want %d (each once)", got, n)
	}
}

// The time offset and the server's salts are kept with the key: a client
// that starts again on the same store sends its first frame with the right
// msg_id at once, where the first client paid a bad_msg_notification.
func TestTimeOffsetAndSaltsKeptWithTheKey(t *testing.T) {
	srv, err := tgsim.Start(tgsim.Config{Key: serverKey(), Flood: tgsim.FloodConfig{Off: true}, Faults: tgsim.Faults{ClockSkew: 400 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	store := NewMemoryStore()
	cfg := Config{
		DCs:        map[int]string{2: srv.Addr(2)},
		PublicKeys: []exchange.PublicKey{srv.PublicKey()},
		Scheduler:  scheduler.Config{HomeDC: 2},
		Store:      store,
	}
	ctx := testCtx(t)
	first, err := Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := sendAll(ctx, first, 1, 10, 1); err != nil {
		t.Fatal(err)
	}
	if err := first.Close(ctx); err != nil {
		t.Fatal(err)
	}
	paid := srv.Counters().Errors["bad_msg_16"]
	if paid == 0 {
		t.Fatal("the first client met no bad_msg 16: the test does not exercise the offset")
	}
	name := storeName(2, serverID([]exchange.PublicKey{srv.PublicKey()}))
	key, _, _, _ := store.Load(name)
	st, ok, _ := store.LoadSession(name, key.ID)
	if !ok || st.TimeOffset < 390*time.Second || len(st.FutureSalts) == 0 {
		t.Fatalf("session state not kept with the key: %+v", st)
	}
	second := startClient(t, cfg)
	if err := sendAll(ctx, second, 100, 10, 1); err != nil {
		t.Fatal(err)
	}
	if got := srv.Counters().Errors["bad_msg_16"]; got != paid {
		t.Fatalf("the second client paid %d more bad_msg 16", got-paid)
	}
}

// The server's own msgs_state_req (about answers the client has not
// acknowledged yet) is answered from the client's replay window, and
// nothing is lost or run twice.
func TestServerStateRequestsAnswered(t *testing.T) {
	srv, _, c := startProxied(t, tgsim.Config{Key: serverKey(), Flood: tgsim.FloodConfig{Off: true},
		Faults: tgsim.Faults{StateReqs: 0.5, DetailedInfo: 0.05, PongInResult: true}}, Config{})
	if err := sendAll(testCtx(t), c, 1, 2000, 100); err != nil {
		t.Fatal(err)
	}
	got := srv.Counters()
	if got.StateReqsOut == 0 || got.StateInfosIn == 0 || got.DetailedInfos == 0 {
		t.Fatalf("faults not exercised: %+v", got)
	}
	if got.MessagesStored != 2000 {
		t.Fatalf("server stored %d messages, want 2000", got.MessagesStored)
	}
}

// A call the server cannot deduplicate (random_id 0) whose answer is lost
// for good is not sent again: its future resolves with ErrMayHaveRun, and
// the server ran it once.
func TestLostAnswerWithoutRandomIDMayHaveRun(t *testing.T) {
	srv, _, c := startProxied(t, tgsim.Config{Key: serverKey(), Flood: tgsim.FloodConfig{Off: true}}, Config{
		Session: mtproto.Config{BusyPingAfter: 100 * time.Millisecond, DeadAfter: 600 * time.Millisecond, StateReqAfter: 200 * time.Millisecond},
	})
	ctx := testCtx(t)
	if _, err := c.Call(ctx, &tg.UpdatesGetStateRequest{}); err != nil {
		t.Fatal(err)
	}
	srv.SetFaults(tgsim.Faults{DropResults: 1})
	_, err := c.Call(ctx, &tg.MessagesSendMessageRequest{Peer: &tg.InputPeerSelf{}, Message: "once", RandomID: 0}, FillRandomID(false))
	if !errors.Is(err, scheduler.ErrMayHaveRun) {
		t.Fatalf("err %v, want ErrMayHaveRun", err)
	}
	if got := srv.Counters().MessagesStored; got != 1 {
		t.Fatalf("server stored %d messages, want 1", got)
	}
}
