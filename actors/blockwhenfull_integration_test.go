package actors

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gotd/td/bin"
	"github.com/gotd/td/tgtest"

	"github.com/tlsched/tlsched/scheduler"
)

// Two 600-call batches with room for 1,000 waiting together for a full
// queue: each is admitted whole, one after the other, and both complete (a
// slot-by-slot admission shared the freed slots between them, 500 and 500,
// and neither could go on).
func TestBlockWhenFullReservesBatchesWhole(t *testing.T) {
	w := newWorld()
	release := make(chan struct{})
	w.hook = func(_ *tgtest.Server, _ *tgtest.Request, id int64) error {
		if id <= 1000 {
			<-release
		}
		return nil
	}
	_, cfg := startWorld(t, w)
	cfg.Scheduler.MaxQueued = 1000
	cfg.BlockWhenFull = true
	c := startClient(t, cfg)
	ctx := shortCtx(t, 30*time.Second)
	var held []*Future
	for i := 1; i <= 1000; i++ {
		f, err := c.Go(ctx, send(int64(i)))
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, f)
	}
	batch := func(first int64) []bin.Encoder {
		reqs := make([]bin.Encoder, 600)
		for i := range reqs {
			reqs[i] = send(first + int64(i))
		}
		return reqs
	}
	done := make(chan error, 2)
	go func() {
		_, err := c.InvokeAll(ctx, batch(10_001))
		done <- err
	}()
	time.Sleep(20 * time.Millisecond)
	go func() {
		_, err := c.InvokeAll(ctx, batch(20_001))
		done <- err
	}()
	time.Sleep(50 * time.Millisecond) // both wait for room
	close(release)
	for range 2 {
		if err := <-done; err != nil {
			t.Fatalf("batch: %v", err)
		}
	}
	for _, f := range held {
		if _, err := f.Wait(ctx); err != nil {
			t.Fatal(err)
		}
	}
}

// A batch larger than MaxQueued can never fit: it is refused at once.
func TestBlockWhenFullRefusesBatchOverMaxQueued(t *testing.T) {
	w := newWorld()
	_, cfg := startWorld(t, w)
	cfg.Scheduler.MaxQueued = 2
	cfg.BlockWhenFull = true
	c := startClient(t, cfg)
	ctx := shortCtx(t, 5*time.Second)
	_, err := c.InvokeAll(ctx, []bin.Encoder{send(1), send(2), send(3)})
	if !errors.Is(err, scheduler.ErrQueueFull) || !strings.Contains(err.Error(), "3 calls") || !strings.Contains(err.Error(), "MaxQueued 2") {
		t.Fatalf("batch of 3, MaxQueued 2: %v", err)
	}
	if _, err := c.InvokeAll(ctx, []bin.Encoder{send(4), send(5)}); err != nil {
		t.Fatalf("batch of 2: %v", err)
	}
}
