package actors

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gotd/td/tg"
	"github.com/gotd/td/tgtest"

	"github.com/tlsched/tlsched/scheduler"
	"github.com/tlsched/tlsched/tl"
)

// lockedBuffer collects log output written from several goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func shortCtx(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// A panicking OnResult hook is logged; the caller still gets its result and
// the scheduler actor is not restarted (its counters go on).
func TestPanickingOnResultStillResolves(t *testing.T) {
	w := newWorld()
	_, cfg := startWorld(t, w)
	var logs lockedBuffer
	cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	cfg.OnResult = func(*tl.Definition, []byte) { panic("hook bug") }
	c := startClient(t, cfg)
	ctx := shortCtx(t, 10*time.Second)
	for i := 1; i <= 3; i++ {
		v, err := c.Call(ctx, send(int64(i)))
		if err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
		if got := sentID(t, v); got != i {
			t.Fatalf("call %d got %d", i, got)
		}
	}
	st, err := c.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Succeeded != 3 {
		t.Fatalf("scheduler counted %d successes, want 3 (restarted?)", st.Succeeded)
	}
	if !strings.Contains(logs.String(), "OnResult hook panicked") {
		t.Fatalf("panic not logged: %s", logs.String())
	}
}

// A call that makes the scheduler actor panic in the middle of a message
// (here: a call with no method, as a bug might leave it) does not strand
// the calls after it: all of the message's calls fail with
// ErrSchedulerRestarted, and the restarted actor serves the next call.
func TestPanicMidSubmitFailsWholeMessage(t *testing.T) {
	w := newWorld()
	_, cfg := startWorld(t, w)
	c := startClient(t, cfg)
	ctx := shortCtx(t, 10*time.Second)
	var ps []*pending
	for i := 1; i <= 3; i++ {
		p, err := c.newPending(send(int64(i)), callOptions{})
		if err != nil {
			t.Fatal(err)
		}
		ps = append(ps, p)
	}
	ps[1].method = nil // Receive panics on it
	if err := c.submit(ctx, ps); err != nil {
		t.Fatal(err)
	}
	for i, p := range ps {
		if _, err := (&Future{p: p}).Wait(ctx); !errors.Is(err, ErrSchedulerRestarted) {
			t.Fatalf("call %d: %v", i+1, err)
		}
	}
	if _, err := c.Call(ctx, send(4)); err != nil {
		t.Fatal(err)
	}
}

// Calls submitted while Close runs are either processed or refused with
// ErrClosed: every future that Go returned resolves. First a submission
// held between its closed check and its Send while Close runs, then many
// goroutines submitting while Close runs.
func TestSubmitRacingCloseNeverHangs(t *testing.T) {
	w := newWorld()
	_, cfg := startWorld(t, w)
	c, err := Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := shortCtx(t, 10*time.Second)
	if _, err := c.Call(ctx, send(1)); err != nil {
		t.Fatal(err)
	}
	inWindow, closed := make(chan struct{}), make(chan error, 1)
	testHookSubmit = func() {
		close(inWindow)
		// Held until Close returns, or for a while if Close waits for
		// this submission.
		select {
		case err := <-closed:
			closed <- err
		case <-time.After(300 * time.Millisecond):
		}
	}
	t.Cleanup(func() { testHookSubmit = nil })
	submitted := make(chan *Future, 1)
	go func() {
		f, err := c.Go(ctx, send(2))
		if err != nil && !errors.Is(err, ErrClosed) {
			t.Errorf("go: %v", err)
		}
		submitted <- f
	}()
	<-inWindow
	testHookSubmit = nil // set before the held submission, read by no other
	go func() { closed <- c.Close(ctx) }()
	if f := <-submitted; f != nil {
		if _, err := f.Wait(ctx); err != nil && !errors.Is(err, ErrClosed) {
			t.Fatalf("held submission: %v", err)
		}
	}
	if err := <-closed; err != nil {
		t.Fatalf("close: %v", err)
	}
	manySubmitsRacingClose(t, cfg)
}

func manySubmitsRacingClose(t *testing.T, cfg Config) {
	for round := range 10 {
		c, err := Start(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		ctx := shortCtx(t, 10*time.Second)
		if _, err := c.Call(ctx, send(1)); err != nil { // connected
			t.Fatal(err)
		}
		var mu sync.Mutex
		var futures []*Future
		var wg sync.WaitGroup
		start := make(chan struct{})
		for g := range 64 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				for i := 0; ; i++ {
					f, err := c.Go(ctx, send(int64(g*1_000_000+i+2)))
					if errors.Is(err, ErrClosed) {
						return
					}
					if err != nil {
						t.Errorf("go: %v", err)
						return
					}
					mu.Lock()
					futures = append(futures, f)
					mu.Unlock()
				}
			}()
		}
		close(start)
		time.Sleep(time.Duration(round%5) * time.Millisecond)
		if err := c.Close(ctx); err != nil {
			t.Fatalf("round %d: close: %v", round, err)
		}
		wg.Wait()
		for i, f := range futures {
			select {
			case <-f.Done():
			case <-ctx.Done():
				t.Fatalf("round %d: future %d of %d never resolved", round, i, len(futures))
			}
			if _, err := f.Wait(ctx); err != nil && !errors.Is(err, ErrClosed) {
				t.Fatalf("round %d: %v", round, err)
			}
		}
	}
}

// A scheduler actor that keeps failing is given up on: the call it held
// fails with ErrSchedulerStopped (may have run), later calls are refused
// at once (not sent), and Close returns.
func TestSchedulerFailingForGoodFailsEveryCall(t *testing.T) {
	w := newWorld()
	var sent atomic.Bool
	w.hook = func(_ *tgtest.Server, _ *tgtest.Request, id int64) error {
		if id == 2 {
			sent.Store(true)
			return errDrop // pending when the actor fails for good
		}
		return nil
	}
	_, cfg := startWorld(t, w)
	c, err := Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := shortCtx(t, 20*time.Second)
	for range schedulerMaxRestarts {
		c.system.Root.Send(c.sched, &panicMsg{})
	}
	if _, err := c.Call(ctx, send(1)); err != nil {
		t.Fatalf("after %d restarts: %v", schedulerMaxRestarts, err)
	}
	f, err := c.Go(ctx, send(2))
	if err != nil {
		t.Fatal(err)
	}
	for !sent.Load() {
		if _, err := c.Call(ctx, &tg.UsersGetUsersRequest{ID: []tg.InputUserClass{&tg.InputUserSelf{}}}); err != nil {
			t.Fatal(err)
		}
	}
	c.system.Root.Send(c.sched, &panicMsg{})
	if _, err := f.Wait(ctx); !errors.Is(err, ErrSchedulerStopped) || !errors.Is(err, scheduler.ErrMayHaveRun) {
		t.Fatalf("pending call: %v", err)
	}
	if _, err := c.Go(ctx, send(3)); !errors.Is(err, ErrSchedulerStopped) || !errors.Is(err, scheduler.ErrNotSent) {
		t.Fatalf("later call: %v", err)
	}
	if _, err := c.Stats(ctx); !errors.Is(err, ErrSchedulerStopped) {
		t.Fatalf("stats: %v", err)
	}
	if err := c.Close(ctx); err != nil {
		t.Fatalf("close: %v", err)
	}
}

// Should the scheduler actor stop other than by Close, a call sent to it
// after resolves (from the dead letter) and Close returns.
func TestSchedulerStoppedUnexpectedlyResolvesCalls(t *testing.T) {
	w := newWorld()
	_, cfg := startWorld(t, w)
	c, err := Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := shortCtx(t, 20*time.Second)
	if _, err := c.Call(ctx, send(1)); err != nil {
		t.Fatal(err)
	}
	testHookSubmit = func() {
		// Between the checks and the Send: the actor stops meanwhile.
		testHookSubmit = nil
		if err := c.system.Root.StopFuture(c.sched).Wait(); err != nil {
			t.Error(err)
		}
	}
	t.Cleanup(func() { testHookSubmit = nil })
	f, err := c.Go(ctx, send(2))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Wait(ctx); !errors.Is(err, ErrSchedulerStopped) || !errors.Is(err, scheduler.ErrNotSent) {
		t.Fatalf("call sent to the stopped actor: %v", err)
	}
	if _, err := c.Go(ctx, send(3)); !errors.Is(err, ErrSchedulerStopped) {
		t.Fatalf("later call: %v", err)
	}
	if err := c.Close(ctx); err != nil {
		t.Fatalf("close: %v", err)
	}
}
