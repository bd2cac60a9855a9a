package actors

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkClientSendMessage sends sendMessage calls through the whole path
// (Client, scheduler actor, DC actor, one MTProto session) to gotd's tgtest
// server in the same process:
//
//	go test -run XXX -bench ClientSendMessage -benchtime 20000x ./actors
//
// Figures: calls/s, calls per container, and p50/p99 latency in µs. With
// -tags gotdbench, BenchmarkGotdSendMessage runs gotd's own client on the
// same workload in the same run for comparison.
func BenchmarkClientSendMessage(b *testing.B) {
	for _, callers := range []int{1, 100, 1000} {
		b.Run(fmt.Sprintf("callers=%d", callers), func(b *testing.B) {
			w := newWorld()
			_, cfg := startWorld(b, w)
			c := startClient(b, cfg)
			ctx := context.Background()
			if _, err := c.Call(ctx, send(0)); err != nil { // connect first
				b.Fatal(err)
			}
			before, _ := c.Stats(ctx)
			lat := run(b, callers, func(id int64) error {
				_, err := c.Call(ctx, send(id))
				return err
			})
			st, _ := c.Stats(ctx)
			b.ReportMetric(float64(st.Sent-before.Sent)/float64(st.Batches-before.Batches), "calls/container")
			report(b, lat)
		})
	}
}

// run spreads b.N calls over callers goroutines and returns each call's
// latency.
func run(b *testing.B, callers int, call func(id int64) error) []time.Duration {
	lat := make([]time.Duration, b.N)
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	for g := 0; g < callers; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(b.N) {
					return
				}
				start := time.Now()
				if err := call(i + 1); err != nil {
					b.Error(err)
					return
				}
				lat[i] = time.Since(start)
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	return lat
}

func report(b *testing.B, lat []time.Duration) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "calls/s")
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}
