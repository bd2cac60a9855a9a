package actors

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/gotd/td/bin"
	"github.com/gotd/td/exchange"
	"github.com/gotd/td/tg"

	"github.com/tlsched/tlsched/scheduler"
	"github.com/tlsched/tlsched/tgsim"
)

// startSim runs tgsim and a client for it that starts on DC 1, while the
// bot lives on DC 2: the first calls meet USER_MIGRATE_2.
func startSim(t testing.TB, cfg tgsim.Config) (*tgsim.Server, *Client) {
	t.Helper()
	srv, err := tgsim.Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	dcs := srv.DCAddrs()
	c := startClient(t, Config{
		DCs:        dcs,
		PublicKeys: []exchange.PublicKey{srv.PublicKey()},
		Scheduler:  scheduler.Config{HomeDC: 1},
		Store:      NewMemoryStore(),
		// Tests that drop connections every few frames would otherwise
		// wait on TDLib's connection rate limits (reconnect_test.go has
		// those).
		DialLimits:       []DialLimit{},
		RedialBackoffMax: 50 * time.Millisecond,
	})
	return srv, c
}

func resolveUser(t testing.TB, c *Client, name string) *tg.InputPeerUser {
	t.Helper()
	r, err := Do[*tg.ContactsResolvedPeer](testCtx(t), c, &tg.ContactsResolveUsernameRequest{Username: name})
	if err != nil {
		t.Fatal(err)
	}
	u := r.Users[len(r.Users)-1].(*tg.User)
	return &tg.InputPeerUser{UserID: u.ID, AccessHash: u.AccessHash}
}

func TestTgsimManyCallers(t *testing.T) {
	srv, c := startSim(t, tgsim.Config{Key: serverKey(), Flood: tgsim.FloodConfig{Off: true}})
	ctx := testCtx(t)
	const callers, each = 1000, 10
	var mu sync.Mutex
	ids := map[int]int64{}
	var wg sync.WaitGroup
	errs := make(chan error, callers)
	for g := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				random := int64(g*each + i + 1)
				v, err := c.Call(ctx, &tg.MessagesSendMessageRequest{Peer: &tg.InputPeerSelf{}, Message: "hi", RandomID: random})
				if err != nil {
					errs <- fmt.Errorf("call %d: %w", random, err)
					return
				}
				id := v.(*tg.UpdateShortSentMessage).ID
				mu.Lock()
				if prev, dup := ids[id]; dup {
					mu.Unlock()
					errs <- fmt.Errorf("message id %d returned to calls %d and %d", id, prev, random)
					return
				}
				ids[id] = random
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	got := srv.Counters()
	if len(ids) != callers*each || got.MessagesStored != callers*each {
		t.Fatalf("%d distinct results, %d messages stored; want %d", len(ids), got.MessagesStored, callers*each)
	}
	if got.Migrations == 0 || got.ContainersIn == 0 || got.ContainersOut == 0 {
		t.Fatalf("server saw migrations %d, containers in %d, out %d", got.Migrations, got.ContainersIn, got.ContainersOut)
	}
	t.Logf("server: %d frames in (%d containers, %d messages), %d frames out (%d containers), %d bad_msg/salt errors: %v",
		got.FramesIn, got.ContainersIn, got.MessagesIn, got.FramesOut, got.ContainersOut, len(got.Errors), got.Errors)
}

// An ordered chain into one chat whose budget runs out half way: the server
// floods the 11th message, fails the dependents with MSG_WAIT_FAILED, and
// the scheduler repairs the chain after the wait; the chat shows every
// message once, in order.
func TestTgsimOrderedChainThroughFloodWait(t *testing.T) {
	srv, c := startSim(t, tgsim.Config{Key: serverKey(), Flood: tgsim.FloodConfig{PrivateChat: tgsim.Rate{N: 10, Per: time.Second}}})
	ctx := testCtx(t)
	peer := resolveUser(t, c, "user1")
	const n = 25
	reqs := make([]bin.Encoder, n)
	for i := range reqs {
		reqs[i] = &tg.MessagesSendMessageRequest{Peer: peer, Message: fmt.Sprint(i), RandomID: int64(i + 1)}
	}
	res, err := c.InvokeAll(ctx, reqs, Ordered())
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != n {
		t.Fatalf("%d results", len(res))
	}
	h, err := Do[tg.MessagesMessagesClass](ctx, c, &tg.MessagesGetHistoryRequest{Peer: peer, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	msgs := h.(*tg.MessagesMessagesSlice).Messages
	if len(msgs) != n {
		t.Fatalf("the chat has %d messages, want %d", len(msgs), n)
	}
	for i, m := range msgs { // newest first
		if want := fmt.Sprint(n - 1 - i); m.(*tg.Message).Message != want {
			t.Fatalf("message %d of the history is %q, want %q", i, m.(*tg.Message).Message, want)
		}
	}
	got := srv.Counters()
	if got.FloodWaits["messages.sendMessage"] == 0 || got.OrderingWaits == 0 {
		t.Fatalf("flood waits %v, ordering waits %d: the test did not exercise the flood gate", got.FloodWaits, got.OrderingWaits)
	}
	t.Logf("flood waits %v (ignored %d), MSG_WAIT_FAILED %d, duplicates %d", got.FloodWaits, got.IgnoredWaits, got.Errors["MSG_WAIT_FAILED"], got.Duplicates)
	if got.IgnoredWaits != 0 {
		t.Fatalf("the client called inside a flood wait %d times", got.IgnoredWaits)
	}
}

// Connections dropped at random: every call answered once, every message
// stored once.
func TestTgsimDroppedConnections(t *testing.T) {
	srv, c := startSim(t, tgsim.Config{Key: serverKey(), Flood: tgsim.FloodConfig{Off: true}})
	ctx := testCtx(t)
	if _, err := c.Call(ctx, &tg.UpdatesGetStateRequest{}); err != nil { // settle the migration first
		t.Fatal(err)
	}
	// Every connection is closed after its 10th frame; 50 waves of 20
	// calls take many connections.
	srv.SetFaults(tgsim.Faults{DropAfterFrames: 10})
	const n, wave = 1000, 20
	seen := map[int]bool{}
	for w := 0; w < n; w += wave {
		var futures []*Future
		for i := w; i < w+wave; i++ {
			f, err := c.Go(ctx, &tg.MessagesSendMessageRequest{Peer: &tg.InputPeerSelf{}, Message: "x", RandomID: int64(i + 1)})
			if err != nil {
				t.Fatal(err)
			}
			futures = append(futures, f)
		}
		for i, f := range futures {
			v, err := f.Result(ctx)
			if err != nil {
				st, _ := c.Stats(context.Background())
				t.Fatalf("call %d: %v\nserver: %+v\nclient: %+v", w+i, err, srv.Counters(), st)
			}
			id := v.(*tg.UpdateShortSentMessage).ID
			if seen[id] {
				t.Fatalf("message id %d twice", id)
			}
			seen[id] = true
		}
	}
	got := srv.Counters()
	if got.Drops == 0 || got.MessagesStored != n {
		t.Fatalf("drops %d, messages stored %d (want > 0 and %d)", got.Drops, got.MessagesStored, n)
	}
	t.Logf("%d drops, %d duplicates absorbed by random_id", got.Drops, got.Duplicates)
}
