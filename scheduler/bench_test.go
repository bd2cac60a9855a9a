package scheduler

import (
	"testing"
	"time"
)

// BenchmarkSubmitReadyComplete is the scheduler's hot path for one call:
// Submit, packed by Ready into a batch of up to 1,000, then Complete.
//
//	go test -run XXX -bench SubmitReadyComplete ./scheduler
func BenchmarkSubmitReadyComplete(b *testing.B) {
	s := New(Config{})
	now := time.Unix(1_700_000_000, 0)
	const per = 1000
	b.ReportAllocs()
	id := CallID(0)
	for b.Loop() {
		for range per {
			id++
			if _, err := s.Submit(now, Call{ID: id, Method: "messages.sendMessage", Size: 40}); err != nil {
				b.Fatal(err)
			}
		}
		now = now.Add(10 * time.Millisecond) // past the coalescing window
		batches, _ := s.Ready(now)
		for _, bt := range batches {
			for _, c := range bt.Calls {
				s.Complete(now, c.Call.ID, nil)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*per), "ns/call")
}
