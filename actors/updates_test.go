package actors

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/gotd/td/bin"
	"github.com/gotd/td/exchange"
	"github.com/gotd/td/tg"
	"github.com/gotd/td/tgtest"

	"github.com/tlsched/tlsched/scheduler"
	"github.com/tlsched/tlsched/tgsim"
)

// handlerFunc is an UpdateHandler from a function (gotd's
// telegram.UpdateHandlerFunc has the same shape).
type handlerFunc func(ctx context.Context, u tg.UpdatesClass) error

func (f handlerFunc) Handle(ctx context.Context, u tg.UpdatesClass) error { return f(ctx, u) }

func encodeUpdates(t testing.TB, u bin.Encoder) []byte {
	t.Helper()
	var b bin.Buffer
	if err := u.Encode(&b); err != nil {
		t.Fatal(err)
	}
	return b.Buf
}

// TestUpdateQueueOrderAndOverflow: updates reach the handler in the order
// offered, anything but an Updates object is ignored, and a handler that
// does not keep up makes the queue drop (and count) instead of blocking
// offer, which the actors call.
func TestUpdateQueueOrderAndOverflow(t *testing.T) {
	entered := make(chan struct{})
	release := make(chan struct{})
	var mu sync.Mutex
	var got []int
	h := handlerFunc(func(ctx context.Context, u tg.UpdatesClass) error {
		s := u.(*tg.UpdateShortSentMessage)
		mu.Lock()
		got = append(got, s.ID)
		mu.Unlock()
		if s.ID == 1 {
			close(entered)
			<-release
		}
		return nil
	})
	q := newUpdateQueue(h, 2, slog.New(slog.NewTextHandler(io.Discard, nil)))
	defer q.close()
	q.offer(encodeUpdates(t, &tg.UpdateShortSentMessage{ID: 1}))
	<-entered
	q.offer(encodeUpdates(t, &tg.UpdatesState{Pts: 9})) // not an Updates: ignored
	done := make(chan struct{})
	go func() {
		for id := 2; id <= 5; id++ {
			q.offer(encodeUpdates(t, &tg.UpdateShortSentMessage{ID: id}))
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("offer blocked behind a slow handler")
	}
	if d := q.dropped.Load(); d != 2 {
		t.Errorf("dropped %d updates, want 2", d)
	}
	close(release)
	deadline := time.Now().Add(5 * time.Second)
	for {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n == 3 || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 3 || got[0] != 1 || got[1] != 2 || got[2] != 3 {
		t.Errorf("handled %v, want [1 2 3]", got)
	}
}

// pushWorld is the test world that also remembers the session of the
// last request, so the test can push updates to it.
type pushWorld struct {
	*world
	mu   sync.Mutex
	sess *tgtest.Session
}

func (w *pushWorld) OnMessage(srv *tgtest.Server, req *tgtest.Request) error {
	w.mu.Lock()
	s := req.Session
	w.sess = &s
	w.mu.Unlock()
	return w.world.OnMessage(srv, req)
}

// TestUpdateHandlerGetsPushedUpdatesAndResults: with an UpdateHandler,
// updates the server pushes reach it decoded, and so does a call's result
// that is an Updates object (sendMessage's updateShortSentMessage); the
// caller still gets its result.
func TestUpdateHandlerGetsPushedUpdatesAndResults(t *testing.T) {
	w := &pushWorld{world: newWorld()}
	srv := tgtest.NewServer(tgtest.NewPrivateKey(serverKey()), w, tgtest.ServerOptions{DC: 2})
	_, cfg := serveWorld(t, srv)
	got := make(chan tg.UpdatesClass, 16)
	cfg.UpdateHandler = handlerFunc(func(ctx context.Context, u tg.UpdatesClass) error {
		got <- u
		return nil
	})
	c := startClient(t, cfg)
	ctx := testCtx(t)
	v, err := c.Call(ctx, send(1))
	if err != nil {
		t.Fatal(err)
	}
	id := sentID(t, v)
	next := func() tg.UpdatesClass {
		select {
		case u := <-got:
			return u
		case <-ctx.Done():
			t.Fatal("no update")
			return nil
		}
	}
	if u, ok := next().(*tg.UpdateShortSentMessage); !ok || u.ID != id {
		t.Fatalf("first update %v, want the result updateShortSentMessage id %d", u, id)
	}
	w.mu.Lock()
	sess := *w.sess
	w.mu.Unlock()
	push := &tg.UpdateNewMessage{Message: &tg.Message{ID: 77, PeerID: &tg.PeerUser{UserID: 5}, Message: "pushed"}, Pts: 3, PtsCount: 1}
	if err := srv.SendUpdates(ctx, sess, push); err != nil {
		t.Fatal(err)
	}
	u, ok := next().(*tg.Updates)
	if !ok || len(u.Updates) != 1 {
		t.Fatalf("pushed update arrived as %#v", u)
	}
	if m := u.Updates[0].(*tg.UpdateNewMessage).Message.(*tg.Message); m.ID != 77 || m.Message != "pushed" {
		t.Errorf("pushed message %+v", m)
	}
	if d := c.DroppedUpdates(); d != 0 {
		t.Errorf("DroppedUpdates %d", d)
	}
}

// TestNoUpdateHandlerDropsUpdates: off by default, pushed updates are
// dropped as before and calls are unaffected.
func TestNoUpdateHandlerDropsUpdates(t *testing.T) {
	w := &pushWorld{world: newWorld()}
	srv := tgtest.NewServer(tgtest.NewPrivateKey(serverKey()), w, tgtest.ServerOptions{DC: 2})
	_, cfg := serveWorld(t, srv)
	c := startClient(t, cfg)
	ctx := testCtx(t)
	if _, err := c.Call(ctx, send(1)); err != nil {
		t.Fatal(err)
	}
	w.mu.Lock()
	sess := *w.sess
	w.mu.Unlock()
	if err := srv.SendUpdates(ctx, sess, &tg.UpdateNewMessage{Message: &tg.Message{ID: 1, PeerID: &tg.PeerUser{UserID: 5}}, Pts: 2, PtsCount: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Call(ctx, send(2)); err != nil {
		t.Fatal(err)
	}
	if c.updates != nil || c.DroppedUpdates() != 0 {
		t.Error("an update queue without a handler")
	}
}

// TestUpdateHandlerOnTgsim: over real sockets, through a migration to the
// bot's home DC, a message another user sends the bot reaches the handler
// with the pts that follows updates.getState's.
func TestUpdateHandlerOnTgsim(t *testing.T) {
	got := make(chan tg.UpdatesClass, 16)
	srv, err := tgsim.Start(tgsim.Config{Key: serverKey(), World: tgsim.WorldConfig{Users: 1}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	dcs := srv.DCAddrs()
	c := startClient(t, Config{
		DCs: dcs, PublicKeys: []exchange.PublicKey{srv.PublicKey()}, Store: NewMemoryStore(),
		Scheduler: scheduler.Config{HomeDC: 1}, // the bot lives on 2: USER_MIGRATE_2 first
		UpdateHandler: handlerFunc(func(ctx context.Context, u tg.UpdatesClass) error {
			got <- u
			return nil
		}),
	})
	ctx := testCtx(t)
	st, err := Do[*tg.UpdatesState](ctx, c, &tg.UpdatesGetStateRequest{})
	if err != nil {
		t.Fatal(err)
	}
	user := srv.Users()[0]
	if _, err := srv.SendAs(user.ID, srv.Bot().ID, "hi bot"); err != nil {
		t.Fatal(err)
	}
	select {
	case u := <-got:
		nm := u.(*tg.Updates).Updates[0].(*tg.UpdateNewMessage)
		if nm.Pts != st.Pts+1 || nm.Message.(*tg.Message).Message != "hi bot" {
			t.Fatalf("update %+v after state pts %d", nm, st.Pts)
		}
	case <-ctx.Done():
		t.Fatal("no update")
	}
}
