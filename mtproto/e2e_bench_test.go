package mtproto_test

import (
	"testing"

	"github.com/gotd/td/tgtest"

	"github.com/tlsched/tlsched/mtproto"
)

// BenchmarkTgtestSendMessage drives sendMessage calls through one session
// over loopback TCP to gotd's tgtest server in the same process, keeping
// up to 1000 calls in flight and packing up to 100 per Pack:
//
//	go test -run XXX -bench TgtestSendMessage -benchtime 50000x ./mtproto
//
// The server answers every call with its own encrypted frame, so most of the
// CPU goes to the server side; calls/s is the figure to compare.
func BenchmarkTgtestSendMessage(b *testing.B) {
	a := &app{noRecord: true}
	srv, addr := startServer(b, a, tgtest.ServerOptions{})
	c := dial(b, srv, addr, nil)
	d := newDriver(b, newSession(b, c, mtproto.Config{}))
	d.attach(c)

	const window, batch = 1000, 100
	b.ReportAllocs()
	b.ResetTimer()
	next := 1
	for next <= b.N {
		sent := next - 1
		d.waitFor("window", func() bool { return sent-len(d.results) < window })
		n := min(batch, b.N-sent)
		d.send(sendCalls(next, n))
		next += n
	}
	d.waitFor("all results", func() bool { return len(d.results) == b.N })
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "calls/s")
	d.mu.Lock()
	defer d.mu.Unlock()
	b.ReportMetric(float64(b.N)/float64(len(d.frames)), "calls/frame")
	if d.dups != 0 {
		b.Fatalf("%d duplicate results", d.dups)
	}
}
