package jobs

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"runtime/debug"
	"syscall"
	"testing"
	"time"

	"github.com/gotd/td/bin"
	"github.com/gotd/td/tg"

	"github.com/tlsched/tlsched/entitycache"
)

// The engine's own cost per job, as tlworker send runs it (a
// messages.sendMessage line to "me" in, its result line out), with a
// Sender that answers at once: what the process spends beside the library
// and the server. Compare a change against a baseline with
//
//	go test -run '^$' -bench Run -benchmem -count 5 ./cmd/tlworker/internal/jobs > /tmp/new.txt
//	benchstat /tmp/old.txt /tmp/new.txt
func BenchmarkRunSendMessage(b *testing.B) {
	// As tlworker send runs (its sendGCPercent).
	defer debug.SetGCPercent(debug.SetGCPercent(400))
	for _, workers := range []int{1, DefaultConcurrency} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			var in bytes.Buffer
			for i := range b.N {
				fmt.Fprintf(&in, `{"id":"m%d","method":"messages.sendMessage","params":{"peer":"me","message":"hi"}}`+"\n", i)
			}
			var res bin.Buffer
			if err := (&tg.UpdateShortSentMessage{Out: true, ID: 48213, Pts: 190233, PtsCount: 1, Date: 1764590000}).Encode(&res); err != nil {
				b.Fatal(err)
			}
			peers, err := entitycache.Open(entitycache.Config{})
			if err != nil {
				b.Fatal(err)
			}
			defer peers.Close()
			out := &countingWriter{}
			b.ReportAllocs()
			b.ResetTimer()
			cpu0 := cpuTime()
			err = Run(context.Background(), Config{
				Sender: instantSender{body: res.Buf}, Peers: peers, Jobs: &in, Results: out, Concurrency: workers, Expect: b.N,
			})
			b.StopTimer()
			// CPU per job, all threads: the figure that matters on a busy
			// machine, where ns/op also counts waiting for a core.
			b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op")
			if err != nil {
				b.Fatal(err)
			}
			if out.lines != b.N {
				b.Fatalf("%d result lines for %d jobs", out.lines, b.N)
			}
		})
	}
}

// cpuTime is the process's user and system CPU so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// instantSender answers every call at once with the same body.
type instantSender struct{ body []byte }

func (s instantSender) Send(_ context.Context, subs []Submit, notify func(Call)) error {
	for i := range subs {
		c := &instantCall{body: s.body}
		subs[i].Call = c
		notify(c)
	}
	return nil
}

type instantCall struct{ body []byte }

func (c *instantCall) Wait(context.Context) ([]byte, error) { return c.body, nil }

// countingWriter counts the lines written to it.
type countingWriter struct{ lines int }

func (w *countingWriter) Write(p []byte) (int, error) {
	w.lines += bytes.Count(p, []byte{'\n'})
	return len(p), nil
}

var _ io.Writer = (*countingWriter)(nil)
