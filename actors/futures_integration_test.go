package actors

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

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
