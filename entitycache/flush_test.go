package entitycache

import (
	"errors"
	"sync"
	"testing"
	"time"
)

// gateStore is a MemoryStore whose writes can be held and failed.
type gateStore struct {
	*MemoryStore
	mu      sync.Mutex
	hold    chan struct{} // the next write waits for it to close
	entered chan struct{} // closed when a held write has begun
	fail    int           // writes still to fail
	order   []int         // size of each committed batch, in commit order
}

func (g *gateStore) Write(b Batch) error {
	g.mu.Lock()
	hold, entered := g.hold, g.entered
	g.hold, g.entered = nil, nil
	fail := g.fail > 0
	if fail {
		g.fail--
	}
	g.mu.Unlock()
	if hold != nil {
		close(entered)
		<-hold
	}
	if fail {
		return errors.New("disk full")
	}
	g.mu.Lock()
	g.order = append(g.order, len(b.Put))
	g.mu.Unlock()
	return g.MemoryStore.Write(b)
}

// TestConcurrentFlushLosesNothing: a Flush while another Flush is writing
// (and fails) loses no entity. Before flushes were serialised, the second
// flush overwrote the first one's batch, and the failed batch was never put
// back: user 1 never reached the store.
func TestConcurrentFlushLosesNothing(t *testing.T) {
	g := &gateStore{MemoryStore: NewMemoryStore(), hold: make(chan struct{}), entered: make(chan struct{}), fail: 1}
	c, err := Open(Config{Store: g, FlushInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Learn(user(1, 100, "first_one"))
	hold, entered := g.hold, g.entered
	first := make(chan error, 1)
	go func() { first <- c.Flush() }()
	<-entered
	c.Learn(user(2, 200, "second_one"))
	second := make(chan error, 1)
	go func() { second <- c.Flush() }()
	time.Sleep(50 * time.Millisecond) // let the second flush run, if it can
	close(hold)
	if err := <-first; err == nil {
		t.Fatal("the failing write reported no error")
	}
	<-second
	if err := c.Flush(); err != nil {
		t.Errorf("final flush: %v", err)
	}
	for _, id := range []int64{1, 2} {
		if _, ok, _ := g.Get(Key{User, id}); !ok {
			t.Errorf("user %d never reached the store (commits: %v)", id, g.order)
		}
	}
	if k, ok, _ := g.Username("first_one"); !ok || k.ID != 1 {
		t.Errorf("@first_one maps to %v %v", k, ok)
	}
}

// TestFlushUnderFailuresKeepsOrder: learners and flushers race while every
// other write fails; in the end everything learned is stored, each entity
// as last learned.
func TestFlushUnderFailuresKeepsOrder(t *testing.T) {
	g := &gateStore{MemoryStore: NewMemoryStore()}
	c, err := Open(Config{Store: g, FlushInterval: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for i := range 200 {
				// Each user is learned twice, the second hash wins.
				id := int64(w*1000 + i + 1)
				c.Learn(user(id, 1, ""))
				c.Learn(user(id, 2, ""))
			}
		}()
		go func() {
			defer wg.Done()
			for range 50 {
				g.mu.Lock()
				g.fail = 1
				g.mu.Unlock()
				_ = c.Flush()
			}
		}()
	}
	wg.Wait()
	g.mu.Lock()
	g.fail = 0
	g.mu.Unlock()
	if err := c.Flush(); err != nil {
		t.Errorf("final flush: %v", err)
	}
	if n, _ := g.Len(); n != 800 {
		t.Fatalf("store holds %d entities, want 800", n)
	}
	for w := range 4 {
		for i := range 200 {
			if e, _, _ := g.Get(Key{User, int64(w*1000 + i + 1)}); e.AccessHash != 2 {
				t.Fatalf("user %d stored with hash %d, want the last learned (2)", e.ID, e.AccessHash)
			}
		}
	}
}
