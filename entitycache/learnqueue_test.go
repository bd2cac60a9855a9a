package entitycache

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/gotd/td/bin"
	"github.com/gotd/td/tg"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/tlsched/tlsched/telemetry"
	"github.com/tlsched/tlsched/tl"
)

// stuckStore is a MemoryStore whose reads wait until release is closed: a
// slow or hung disk under the learner.
type stuckStore struct {
	*MemoryStore
	release chan struct{}
	once    sync.Once
	reading chan struct{} // closed when the first read has begun
}

func (s *stuckStore) Get(k Key) (Entity, bool, error) {
	s.once.Do(func() { close(s.reading) })
	<-s.release
	return s.MemoryStore.Get(k)
}

func resolvedBody(t testing.TB, id int64) []byte {
	var b bin.Buffer
	if err := (&tg.ContactsResolvedPeer{Peer: &tg.PeerUser{UserID: id}, Users: []tg.UserClass{user(id, id, "")}}).Encode(&b); err != nil {
		t.Fatal(err)
	}
	return b.Buf
}

// TestLearnResultNeverBlocks: with the learner stuck on the store,
// LearnResult (the scheduler actor's OnResult hook) returns at once however
// many results arrive. Before, a full queue made LearnResult learn inline,
// and it waited for the stuck learner's lock: this test timed out.
func TestLearnResultNeverBlocks(t *testing.T) {
	st := &stuckStore{MemoryStore: NewMemoryStore(), release: make(chan struct{}), reading: make(chan struct{})}
	c, err := Open(Config{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	defer close(st.release)
	m, err := tl.Method("contacts.resolveUsername")
	if err != nil {
		t.Fatal(err)
	}
	c.LearnResult(m, resolvedBody(t, 1))
	<-st.reading // the learner holds the cache's lock, reading the store
	body := resolvedBody(t, 2)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 40_000 {
			c.LearnResult(m, body)
		}
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("LearnResult blocked while the learner was stuck")
	}
}

// TestLearnQueueBoundedInBytes: the queue holds at most LearnQueueBytes of
// results; the rest are dropped and counted.
func TestLearnQueueBoundedInBytes(t *testing.T) {
	st := &stuckStore{MemoryStore: NewMemoryStore(), release: make(chan struct{}), reading: make(chan struct{})}
	c, err := Open(Config{Store: st, LearnQueueBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	defer close(st.release)
	m, _ := tl.Method("contacts.resolveUsername")
	c.LearnResult(m, resolvedBody(t, 1))
	<-st.reading
	big := make([]byte, 100<<10) // 100 KiB, a users vector's id is enough
	copy(big, resolvedBody(t, 2))
	for range 30 {
		c.LearnResult(m, big)
	}
	s := c.Stats()
	if s.LearnQueueDrops != 20 || s.LearnDroppedBytes != 20*int64(len(big)) {
		t.Fatalf("drops %d (%d bytes), want 20 of 30 results of 100 KiB over a 1 MiB queue", s.LearnQueueDrops, s.LearnDroppedBytes)
	}
}

// TestUnwrittenBoundedWhileStoreFails: while every write fails, at most
// MaxUnwritten entities wait to be written; the rest are served from memory
// and counted.
func TestUnwrittenBoundedWhileStoreFails(t *testing.T) {
	g := &gateStore{MemoryStore: NewMemoryStore(), fail: 1 << 30}
	c, err := Open(Config{Store: g, MaxUnwritten: 100, FlushInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Learn(user(1, 1, ""))
	if c.Flush() == nil {
		t.Fatal("want a write error")
	}
	for i := range 1000 {
		c.Learn(user(int64(i+2), 1, ""))
	}
	c.mu.Lock()
	n := len(c.dirty)
	c.mu.Unlock()
	if n > 100 || c.Stats().UnwrittenDrops != 1001-100 {
		t.Fatalf("%d unwritten, %d dropped; want at most 100 and 901", n, c.Stats().UnwrittenDrops)
	}
	if _, err := c.InputPeer(t.Context(), "900"); err != nil {
		t.Fatalf("a dropped entity is still served from memory: %v", err)
	}
	g.mu.Lock()
	g.fail = 0
	g.mu.Unlock()
}

// TestDropsInTelemetry: the drop counters reach telemetry as
// tlsched.entitycache.dropped.
func TestDropsInTelemetry(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	tel, err := telemetry.Setup(context.Background(), telemetry.Config{Exporter: "none", MetricReader: reader})
	if err != nil {
		t.Fatal(err)
	}
	defer tel.Shutdown(context.Background())
	st := &stuckStore{MemoryStore: NewMemoryStore(), release: make(chan struct{}), reading: make(chan struct{})}
	c, err := Open(Config{Store: st, LearnQueueBytes: 1 << 10, Telemetry: tel})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	defer close(st.release)
	m, _ := tl.Method("contacts.resolveUsername")
	c.LearnResult(m, resolvedBody(t, 1))
	<-st.reading
	big := make([]byte, 4<<10)
	copy(big, resolvedBody(t, 2))
	c.LearnResult(m, big)
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for _, sm := range rm.ScopeMetrics {
		for _, mt := range sm.Metrics {
			if mt.Name != telemetry.MetricEntityDropped {
				continue
			}
			for _, dp := range mt.Data.(metricdata.Sum[int64]).DataPoints {
				what, _ := dp.Attributes.Value("what")
				got[what.AsString()] = dp.Value
			}
		}
	}
	if got["results"] != 1 || got["result_bytes"] != 4<<10 {
		t.Fatalf("%s: %v, want one result of 4 KiB", telemetry.MetricEntityDropped, got)
	}
}
