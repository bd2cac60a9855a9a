package main

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tlsched/tlsched/cmd/tlworker/internal/jobs"
	"github.com/tlsched/tlsched/internal/faultproxy"
	"github.com/tlsched/tlsched/tgsim"
)

// These tests run tlworker send against tgsim's DC 2 (the bot's home)
// through internal/faultproxy, and inject the faults of a real network
// mid-run: cuts, a silent link, an outage that ends and one that does not.
// Faults are synchronised on progress (messages tgsim stored, the proxy's
// counters), never on sleeps; the tests assert outcomes: one result line
// per job, each message stored once.

// faultRun is a tgsim behind a fault proxy, and the jobs of a run.
type faultRun struct {
	bin  string
	srv  *tgsim.Server
	p    *faultproxy.Proxy
	conn []string // --dc 2=PROXY --server-key FILE
	jobs string
	out  string
	n    int
}

// newFaultRun starts tgsim (no flood limits), a proxy in front of its DC 2
// and writes n sendMessage jobs, each with its own random_id (derived from
// its id), to users @user1…@user50.
func newFaultRun(t *testing.T, n int) *faultRun {
	t.Helper()
	r := &faultRun{bin: buildBinary(t), n: n}
	var simConn []string
	r.srv, simConn = simFor(t, tgsim.Config{Flood: tgsim.FloodConfig{Off: true}})
	seed := uint64(time.Now().UnixNano())
	t.Logf("faultproxy seed %d", seed)
	p, err := faultproxy.Start(r.srv.Addr(2), faultproxy.Config{Seed: seed})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	r.p = p
	r.conn = []string{"--dc", "2=" + p.Addr(), "--server-key", simConn[len(simConn)-1]}
	lines := make([]string, n)
	for i := range lines {
		lines[i] = fmt.Sprintf(`{"id":"m%d","method":"messages.sendMessage","params":{"peer":"@user%d","message":"m %d"}}`, i, i%50+1, i)
	}
	r.jobs = writeJobs(t, lines)
	r.out = filepath.Join(t.TempDir(), "out.jsonl")
	return r
}

// proc is a tlworker process being run.
type proc struct {
	cmd    *exec.Cmd
	output bytes.Buffer // stdout and stderr
	done   chan struct{}
}

// start runs tlworker send on the jobs with the liveness checks shortened
// (a silent link is dropped after 3 s instead of 15), redials at least
// every second (not up to every 10 s: ten cuts in a row would otherwise
// spend about 40 s in backoff) and extra flags. The
// process is killed if the test ends first.
func (r *faultRun) start(t *testing.T, extra ...string) *proc {
	t.Helper()
	args := append([]string{"send", "--jobs", r.jobs, "--out", r.out, "--progress", "none",
		"--ping-after", "1s", "--dead-after", "3s", "--redial-max", "1s"}, r.conn...)
	pr := &proc{cmd: exec.Command(r.bin, append(args, extra...)...), done: make(chan struct{})}
	pr.cmd.Stdout, pr.cmd.Stderr = &pr.output, &pr.output
	if err := pr.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { pr.cmd.Wait(); close(pr.done) }()
	t.Cleanup(func() {
		select {
		case <-pr.done:
		default:
			pr.cmd.Process.Kill()
			<-pr.done
		}
	})
	return pr
}

// wait waits for the process to end and returns its exit code and output.
func (pr *proc) wait(t *testing.T) (int, string) {
	t.Helper()
	select {
	case <-pr.done:
	case <-time.After(90 * time.Second):
		t.Fatalf("tlworker send still running after 90 s; output so far:\n%s", pr.output.String())
	}
	return pr.cmd.ProcessState.ExitCode(), pr.output.String()
}

// waitStored waits until tgsim has stored at least n messages; the run
// must not end first (a fault injected after it would test nothing).
func (r *faultRun) waitStored(t *testing.T, pr *proc, n int64) {
	t.Helper()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	deadline := time.After(60 * time.Second)
	for r.srv.Counters().MessagesStored < n {
		select {
		case <-pr.done:
			t.Fatalf("the run ended before %d messages were stored (%d): exit %d\n%s",
				n, r.srv.Counters().MessagesStored, pr.cmd.ProcessState.ExitCode(), pr.output.String())
		case <-deadline:
			t.Fatalf("%d messages stored after 60 s, waiting for %d; proxy %+v", r.srv.Counters().MessagesStored, n, r.p.Stats())
		case <-tick.C:
		}
	}
}

// waitProxy waits until the proxy's counters satisfy cond, or the run
// ends (a failure: the fault was meant to hit it).
func (r *faultRun) waitProxy(t *testing.T, pr *proc, what string, cond func(faultproxy.Stats) bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	go func() {
		select {
		case <-pr.done:
			cancel()
		case <-ctx.Done():
		}
	}()
	if err := r.p.WaitFor(ctx, cond); err != nil {
		t.Fatalf("waiting for %s: %v; tlworker output:\n%s", what, err, pr.output.String())
	}
}

// checkAllOK checks every job has exactly one result line, ok, and that
// tgsim stored exactly one message per job.
func (r *faultRun) checkAllOK(t *testing.T) {
	t.Helper()
	got := readOut(t, r.out)
	for i := range r.n {
		id := fmt.Sprintf("m%d", i)
		if l := got[id]; len(l) != 1 || !l[0].OK {
			t.Fatalf("job %s: %d result lines %+v, want one, ok", id, len(l), l)
		}
	}
	if len(got) != r.n {
		t.Fatalf("%d jobs in the results, want %d", len(got), r.n)
	}
	c := r.srv.Counters()
	t.Logf("tgsim: stored %d, duplicates absorbed %d, connections %d, new sessions %d", c.MessagesStored, c.Duplicates, c.Connections, c.NewSessions)
	if c.MessagesStored != int64(r.n) {
		t.Fatalf("tgsim stored %d messages for %d jobs (duplicates absorbed: %d)", c.MessagesStored, r.n, c.Duplicates)
	}
}

// The connection is cut three times, at once and at random byte offsets
// (mid-frame included), and goes silent both ways once, with calls in
// flight (five connections: with tlworker's reconnect pacing, TDLib's
// limits of 1 dial a second, 2 in 4 s and 3 in 8 s, the run takes about
// 10 s): the run finishes with exit 0, every job has one ok line, and
// tgsim stored each message exactly once.
func TestSendThroughCutsAndSilence(t *testing.T) {
	t.Parallel() // it waits on reconnects and signals more than it computes
	r := newFaultRun(t, 3000)
	pr := r.start(t, "--rate", "2000", "--concurrency", "200")

	r.waitStored(t, pr, 300)
	// Cut now, and cut the connection that replaces it somewhere in its
	// first 30 kB.
	r.p.CutAfter(faultproxy.CutRule{Min: 200, Max: 30_000, NextOnly: true})
	r.p.Cut()
	r.waitProxy(t, pr, "the second cut", func(s faultproxy.Stats) bool { return s.Cuts >= 2 })

	r.waitStored(t, pr, 900)
	// Cut the open connection at a random offset from now.
	cuts := r.p.Stats().Cuts
	r.p.CutAfter(faultproxy.CutRule{Min: 1, Max: 20_000})
	r.waitProxy(t, pr, "a cut at a random offset", func(s faultproxy.Stats) bool { return s.Cuts > cuts })
	r.p.StopCuts()

	r.waitStored(t, pr, 1500)
	// Silent both ways, sockets open: the client must notice by itself and
	// dial again.
	accepted := r.p.Stats().Accepted
	r.p.Silence(faultproxy.Both)
	r.waitProxy(t, pr, "a new connection after the silence", func(s faultproxy.Stats) bool { return s.Accepted > accepted })
	r.p.Silence(0)

	code, out := pr.wait(t)
	if code != 0 {
		t.Fatalf("exit %d, want 0:\n%s", code, out)
	}
	st := r.p.Stats()
	t.Logf("proxy: %+v", st)
	if st.Cuts < 3 || st.ToServer.Dropped+st.ToClient.Dropped == 0 {
		t.Fatalf("faults not exercised: %+v", st)
	}
	r.checkAllOK(t)
}

// The server goes away mid-run (connections refused, the open one cut) and
// comes back after several refused attempts, within --outage-timeout:
// every job succeeds and each message is stored once.
func TestSendServerAwayAndBack(t *testing.T) {
	t.Parallel() // it waits on reconnects and signals more than it computes
	r := newFaultRun(t, 3000)
	pr := r.start(t, "--rate", "2000", "--concurrency", "200")

	r.waitStored(t, pr, 1000)
	refused := r.p.Stats().Refused
	r.p.Refuse(true)
	r.waitProxy(t, pr, "refused reconnects", func(s faultproxy.Stats) bool { return s.Refused >= refused+3 })
	r.p.Refuse(false)

	code, out := pr.wait(t)
	if code != 0 {
		t.Fatalf("exit %d, want 0:\n%s", code, out)
	}
	t.Logf("proxy: %+v", r.p.Stats())
	r.checkAllOK(t)
}

// The server goes away mid-run and comes back, with jobs that carry no
// usable random_id (0, which the server cannot deduplicate, like a method
// without an idempotency key). A connection that the server end accepts
// and closes at once (an outage behind a proxy or a load balancer) looks
// like a server that does not resume sessions, so the connection that
// finally works may start a fresh session: the calls in flight there may
// have run and cannot be resent safely. So none runs twice: every job has
// one line, ok or may_have_run, and tgsim stored at most one message per
// job (at least one per ok job).
func TestSendServerAwayAndBackWithoutRandomID(t *testing.T) {
	t.Parallel() // it waits on reconnects and signals more than it computes
	r := newFaultRun(t, 3000)
	lines := make([]string, r.n)
	for i := range lines {
		lines[i] = fmt.Sprintf(`{"id":"m%d","method":"messages.sendMessage","params":{"peer":"@user%d","message":"m %d","random_id":0}}`, i, i%50+1, i)
	}
	r.jobs = writeJobs(t, lines)
	pr := r.start(t, "--rate", "2000", "--concurrency", "200")

	r.waitStored(t, pr, 1000)
	refused := r.p.Stats().Refused
	r.p.Refuse(true)
	r.waitProxy(t, pr, "refused reconnects", func(s faultproxy.Stats) bool { return s.Refused >= refused+3 })
	r.p.Refuse(false)

	code, out := pr.wait(t)
	got := readOut(t, r.out)
	count := map[string]int{}
	for i := range r.n {
		id := fmt.Sprintf("m%d", i)
		l := got[id]
		if len(l) != 1 {
			t.Fatalf("job %s: %d result lines, want one", id, len(l))
		}
		switch {
		case l[0].OK:
			count["ok"]++
		case l[0].Error != nil && l[0].Error.Kind == jobs.KindMayHaveRun:
			count[jobs.KindMayHaveRun]++
		default:
			t.Fatalf("job %s: %+v, want ok or may_have_run", id, l[0])
		}
	}
	stored := r.srv.Counters().MessagesStored
	t.Logf("exit %d; %v; tgsim stored %d; stderr: %s", code, count, stored, out)
	if stored < int64(count["ok"]) || stored > int64(count["ok"]+count[jobs.KindMayHaveRun]) {
		t.Fatalf("tgsim stored %d messages for %d ok jobs and %d that may have run: a job ran twice", stored, count["ok"], count[jobs.KindMayHaveRun])
	}
}

// The server goes away mid-run, calls in flight, and stays away past
// --outage-timeout: tlworker exits 1 with a one-line reason, every job has
// one line, and the failed ones say whether they were sent (may_have_run)
// or not (not_sent). Once the server is back, --resume --retry-not-sent
// runs exactly the not-sent jobs, and no message is stored twice.
func TestSendServerGoneThenRetryNotSent(t *testing.T) {
	t.Parallel() // it waits on reconnects and signals more than it computes
	r := newFaultRun(t, 3000)
	pr := r.start(t, "--rate", "2000", "--concurrency", "200", "--outage-timeout", "3s")

	r.waitStored(t, pr, 1000)
	r.p.Refuse(true)
	code, out := pr.wait(t)
	if code != 1 || !strings.Contains(out, "server stayed unreachable") || strings.Count(strings.TrimSpace(out), "\n") != 0 {
		t.Fatalf("exit %d, output %q; want 1 and one line saying the server stayed unreachable", code, out)
	}
	first := readOut(t, r.out)
	kinds := map[string]string{} // job id: "ok", not_sent or may_have_run
	count := map[string]int{}
	for i := range r.n {
		id := fmt.Sprintf("m%d", i)
		l := first[id]
		if len(l) != 1 {
			t.Fatalf("job %s: %d result lines %+v, want one", id, len(l), l)
		}
		k := "ok"
		if !l[0].OK {
			if l[0].Error == nil || (l[0].Error.Kind != jobs.KindNotSent && l[0].Error.Kind != jobs.KindMayHaveRun) {
				t.Fatalf("job %s failed without saying whether it was sent: %+v", id, l[0].Error)
			}
			k = l[0].Error.Kind
		}
		kinds[id] = k
		count[k]++
	}
	t.Logf("first run: %v; stderr: %s", count, out)
	if want := fmt.Sprintf("(%d not sent, which --resume --retry-not-sent runs again; %d may have run)", count[jobs.KindNotSent], count[jobs.KindMayHaveRun]); !strings.Contains(out, want) {
		t.Errorf("stderr %q does not count the failed jobs as the result lines do: want %q", out, want)
	}
	if count[jobs.KindNotSent] == 0 {
		t.Fatalf("no job failed as not sent: %v", count)
	}
	c := r.srv.Counters()
	if c.MessagesStored < int64(count["ok"]) || c.MessagesStored > int64(count["ok"]+count[jobs.KindMayHaveRun]) {
		t.Fatalf("tgsim stored %d messages; %d jobs ok and %d may have run", c.MessagesStored, count["ok"], count[jobs.KindMayHaveRun])
	}
	storedFirst := c.MessagesStored

	r.p.Refuse(false)
	code, out = r.start(t, "--resume", "--retry-not-sent").wait(t)
	if code != 0 {
		t.Fatalf("rerun: exit %d, want 0:\n%s", code, out)
	}
	got := readOut(t, r.out)
	for id, k := range kinds {
		l := got[id]
		switch k {
		case jobs.KindNotSent:
			if len(l) != 2 || !l[1].OK {
				t.Fatalf("not-sent job %s: %+v, want a second line, ok", id, l)
			}
		default:
			if len(l) != 1 {
				t.Fatalf("%s job %s ran again: %+v", k, id, l)
			}
		}
	}
	c = r.srv.Counters()
	t.Logf("tgsim: stored %d (first run %d), duplicates absorbed %d", c.MessagesStored, storedFirst, c.Duplicates)
	if c.MessagesStored != storedFirst+int64(count[jobs.KindNotSent]) || c.Duplicates != 0 {
		t.Fatalf("tgsim stored %d messages (first run %d) with %d duplicates absorbed; the rerun of %d not-sent jobs should add exactly that many, none a duplicate",
			c.MessagesStored, storedFirst, c.Duplicates, count[jobs.KindNotSent])
	}
}
