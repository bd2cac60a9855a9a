//go:build gotdbench

package main

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gotd/td/exchange"
	"github.com/gotd/td/telegram"
	"github.com/gotd/td/telegram/dcs"
	"github.com/gotd/td/tg"

	benchcmd "github.com/tlsched/tlsched/cmd/tlworker/internal/bench"
)

// BenchmarkSendVsGotd runs 20,000 messages.sendMessage jobs through the
// tlworker binary and the same 20,000 calls through gotd's telegram.Client
// (1,000 goroutines), against tgsim (one DC, flood model off, default 2–5 ms
// latency) and against gotd's tgtest, alternating, a fresh server each
// round. Both are timed end to end: from start (process start, key
// exchange) to the last result.
//
//	go test -tags gotdbench -run XXX -bench SendVsGotd -benchtime 1x -count 2 ./cmd/tlworker
func BenchmarkSendVsGotd(b *testing.B) {
	const n = 20000
	bin := buildBinary(b)
	jobs := make([]string, n)
	for i := range jobs {
		jobs[i] = fmt.Sprintf(`{"id":"m%d","method":"messages.sendMessage","params":{"peer":"me","message":"hi"}}`, i)
	}
	dir := b.TempDir()
	jobsFile := filepath.Join(dir, "jobs.jsonl")
	os.WriteFile(jobsFile, []byte(strings.Join(jobs, "\n")+"\n"), 0o600)
	oneFile := filepath.Join(dir, "one.jsonl")
	os.WriteFile(oneFile, []byte(jobs[0]+"\n"), 0o600)
	keyOnce.Do(func() { simKey, _ = generateKey() })

	for _, server := range []string{"tgsim", "tgtest"} {
		b.Run(server, func(b *testing.B) {
			for b.Loop() {
				// tlworker send
				addrs, key, frames, stop := startServer(b, server)
				runOurs := func(jobs string) time.Duration {
					start := time.Now()
					args := []string{"send", "--jobs", jobs, "--out", filepath.Join(dir, "out.jsonl"), "--progress", "none", "--server-key", key}
					for id, a := range addrs {
						args = append(args, "--dc", fmt.Sprintf("%d=%s", id, a))
					}
					if out, err := exec.Command(bin, args...).CombinedOutput(); err != nil {
						b.Fatalf("tlworker: %v\n%s", err, out)
					}
					return time.Since(start)
				}
				ourStart := runOurs(oneFile) // process start, key exchange, one job
				f0 := frames()
				ours := runOurs(jobsFile)
				ourFrames := frames() - f0
				stop()

				// gotd's client, 1,000 goroutines
				addrs, _, frames, stop = startServer(b, server)
				gotd, gotdStart := gotdRun(b, addrs, n)
				gotdFrames := frames()
				stop()

				b.ReportMetric(n/ours.Seconds(), "tlworker-jobs/s")
				b.ReportMetric(n/gotd.Seconds(), "gotd-calls/s")
				b.ReportMetric(gotd.Seconds()/ours.Seconds(), "ratio")
				// Steady state: the start-up (key exchange) taken out.
				b.ReportMetric(n/(ours-ourStart).Seconds(), "tlworker-steady-jobs/s")
				b.ReportMetric(n/(gotd-gotdStart).Seconds(), "gotd-steady-calls/s")
				if ourFrames > 0 {
					b.ReportMetric(float64(n)/float64(ourFrames), "tlworker-calls/frame")
					b.ReportMetric(float64(n)/float64(gotdFrames), "gotd-calls/frame")
				}
			}
		})
	}
}

// startServer starts a bench server (tgsim: one DC, flood off, no latency;
// or tgtest) and writes its key as PEM for tlworker.
func startServer(b *testing.B, kind string) (map[int]string, string, func() int64, func()) {
	keyFile := filepath.Join(b.TempDir(), "key.pem")
	der := x509.MarshalPKCS1PublicKey(&simKey.PublicKey)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: der}), 0o600)
	s, err := benchcmd.StartServer(kind, simKey)
	if err != nil {
		b.Fatal(err)
	}
	frames := s.Frames
	if frames == nil {
		frames = func() int64 { return 0 }
	}
	return map[int]string{2: s.Addr}, keyFile, frames, s.Stop
}

// gotdRun sends n messages.sendMessage through gotd's client from 1,000
// goroutines and returns how long it took.
func gotdRun(b *testing.B, addrs map[int]string, n int) (took, startup time.Duration) {
	host, portStr, _ := net.SplitHostPort(addrs[2])
	port, _ := strconv.Atoi(portStr)
	client := telegram.NewClient(1, "hash", telegram.Options{
		PublicKeys: []telegram.PublicKey{exchange.PublicKey{RSA: &simKey.PublicKey}},
		DC:         2,
		DCList:     dcs.List{Options: []tg.DCOption{{ID: 2, IPAddress: host, Port: port}}},
		Resolver:   dcs.Plain(dcs.PlainOptions{}),
		NoUpdates:  true,
	})
	// End to end, as tlworker is measured: from starting the client (its
	// key exchange included) to the last result.
	start := time.Now()
	err := client.Run(context.Background(), func(ctx context.Context) error {
		// Run calls this once connected (help.getConfig answered).
		startup = time.Since(start)
		api := client.API()
		var next atomic.Int64
		var wg sync.WaitGroup
		for range 1000 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					i := next.Add(1)
					if i > int64(n) {
						return
					}
					if _, err := api.MessagesSendMessage(ctx, &tg.MessagesSendMessageRequest{Peer: &tg.InputPeerSelf{}, Message: "hi", RandomID: i}); err != nil {
						b.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
		took = time.Since(start)
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	return took, startup
}

func generateKey() (*rsa.PrivateKey, error) { return rsa.GenerateKey(rand.Reader, 2048) }
