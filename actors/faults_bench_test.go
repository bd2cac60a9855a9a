package actors

import (
	"context"
	"testing"
	"time"

	"github.com/gotd/td/exchange"
	"github.com/gotd/td/tg"

	"github.com/tlsched/tlsched/internal/faultproxy"
	"github.com/tlsched/tlsched/scheduler"
	"github.com/tlsched/tlsched/tgsim"
)

// Timings of the liveness and reconnect rules with their defaults, as a
// user gets them: tgsim's DC 2 behind the fault proxy.
//
//	go test -run XXX -bench 'SilenceDetection|ReconnectWhileRefused' -benchtime 1x ./actors

// benchProxied starts tgsim (sendMessage takes 1 s, so calls are in flight
// when the link fails) behind the proxy, and a client with the default
// Config for it.
func benchProxied(b *testing.B) (*faultproxy.Proxy, *Client) {
	srv, err := tgsim.Start(tgsim.Config{Key: serverKey(), Flood: tgsim.FloodConfig{Off: true},
		MethodLatency: map[string]tgsim.Latency{"messages.sendMessage": {Base: time.Second}}})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { srv.Close() })
	p, err := faultproxy.Start(srv.Addr(2), faultproxy.Config{Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { p.Close() })
	c := startClient(b, Config{
		DCs:        map[int]string{2: p.Addr()},
		PublicKeys: []exchange.PublicKey{srv.PublicKey()},
		Scheduler:  scheduler.Config{HomeDC: 2},
		Store:      NewMemoryStore(),
	})
	return p, c
}

// BenchmarkSilenceDetection: the link goes silent both ways (a NAT entry
// expired) with 20 calls in flight. detect_s is the time from the silence
// to the client closing the connection (the target is within 15 s;
// mtproto.Config.DeadAfter is 12 s), reconnect_s
// to its next connection (with TDLib's connection rate limits), and
// recover_s until every call in flight has its answer.
func BenchmarkSilenceDetection(b *testing.B) {
	var detect, reconnect, recover time.Duration
	for range b.N {
		p, c := benchProxied(b)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		if _, err := c.Call(ctx, &tg.UpdatesGetStateRequest{}); err != nil {
			b.Fatal(err)
		}
		done := make(chan error, 20)
		for i := range 20 {
			go func() {
				_, err := c.Call(ctx, &tg.MessagesSendMessageRequest{Peer: &tg.InputPeerSelf{}, Message: "x", RandomID: int64(i + 1)})
				done <- err
			}()
		}
		sent := p.Stats().ToServer.Frames
		if err := p.WaitFor(ctx, func(s faultproxy.Stats) bool { return s.ToServer.Frames > sent }); err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		p.Silence(faultproxy.Both)
		if err := p.WaitFor(ctx, func(s faultproxy.Stats) bool { return s.Open == 0 }); err != nil {
			b.Fatal(err)
		}
		detect += time.Since(start)
		p.Silence(0)
		if err := p.WaitFor(ctx, func(s faultproxy.Stats) bool { return s.Accepted >= 2 }); err != nil {
			b.Fatal(err)
		}
		reconnect += time.Since(start)
		for range 20 {
			if err := <-done; err != nil {
				b.Fatal(err)
			}
		}
		recover += time.Since(start)
		cancel()
	}
	b.ReportMetric(detect.Seconds()/float64(b.N), "detect_s")
	b.ReportMetric(reconnect.Seconds()/float64(b.N), "reconnect_s")
	b.ReportMetric(recover.Seconds()/float64(b.N), "recover_s")
}

// BenchmarkReconnectWhileRefused: the server refuses connections for 10 s
// (accepts and closes them, as a server that is down behind a balancer
// does). dials/10s is how often the client tried meanwhile, with the
// default backoff and TDLib's connection rate limits (a reconnect every
// 100 ms would be 100).
func BenchmarkReconnectWhileRefused(b *testing.B) {
	var dials int
	for range b.N {
		p, c := benchProxied(b)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		if _, err := c.Call(ctx, &tg.UpdatesGetStateRequest{}); err != nil {
			b.Fatal(err)
		}
		before := p.Stats().Accepted
		p.Refuse(true)
		timer := time.NewTimer(10 * time.Second)
		<-timer.C
		dials += p.Stats().Accepted - before
		p.Refuse(false)
		if _, err := c.Call(ctx, &tg.UpdatesGetStateRequest{}); err != nil {
			b.Fatal(err)
		}
		cancel()
	}
	b.ReportMetric(float64(dials)/float64(b.N), "dials/10s")
}
