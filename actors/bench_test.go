//go:build gotdbench

package actors

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gotd/td/telegram"
	"github.com/gotd/td/telegram/dcs"
	"github.com/gotd/td/tg"
	"github.com/gotd/td/tgtest"
)

// BenchmarkSendMessage runs the same sendMessage workload through tlsched
// and through gotd's telegram.Client (one goroutine per caller), each against
// a fresh tgtest server in the same process:
//
//	go test -tags gotdbench -run XXX -bench SendMessage -benchtime 20000x ./actors
//
// Figures: calls/s, and p50/p99 latency in µs; for tlsched also calls per
// container.
func BenchmarkSendMessage(b *testing.B) {
	for _, callers := range []int{1, 100, 1000} {
		b.Run(fmt.Sprintf("tlsched/callers=%d", callers), func(b *testing.B) {
			w := newWorld()
			w.hook = nil
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
		b.Run(fmt.Sprintf("gotd/callers=%d", callers), func(b *testing.B) {
			w := newWorld()
			srv, cfg := startWorld(b, w)
			api, stop := gotdClient(b, srv, cfg.DCs[2])
			defer stop()
			ctx := context.Background()
			lat := run(b, callers, func(id int64) error {
				_, err := api.MessagesSendMessage(ctx, send(id))
				return err
			})
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

// gotdClient runs gotd's own client against the tgtest server; world
// answers the help.getConfig it starts with.
func gotdClient(b *testing.B, srv *tgtest.Server, addr string) (*tg.Client, func()) {
	host, portStr, _ := net.SplitHostPort(addr)
	port, _ := strconv.Atoi(portStr)
	client := telegram.NewClient(1, "hash", telegram.Options{
		PublicKeys: []telegram.PublicKey{srv.Key()},
		DC:         2,
		DCList:     dcs.List{Options: []tg.DCOption{{ID: 2, IPAddress: host, Port: port}}},
		Resolver:   dcs.Plain(dcs.PlainOptions{}),
		NoUpdates:  true,
	})
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- client.Run(ctx, func(ctx context.Context) error {
			close(ready)
			<-ctx.Done()
			return ctx.Err()
		})
	}()
	select {
	case <-ready:
	case err := <-done:
		b.Fatalf("gotd client: %v", err)
	}
	return client.API(), func() {
		cancel()
		<-done
	}
}
