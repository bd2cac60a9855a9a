package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gotd/td/tg"

	"github.com/tlsched/tlsched/internal/faultproxy"
	"github.com/tlsched/tlsched/tgsim"
)

// The chain promise, end to end: tlworker send runs 20,000 jobs, 200 of them
// one "after" chain to one peer, through a proxy that cuts the connection
// ten times; the server must have executed every chain message exactly once
// and in chain order, and every job must have its line, ok. CI runs a few
// repetitions, each with a fresh tgsim and its own fault-proxy seed;
//
//	go test -race -run TestSendChainThroughCuts ./cmd/tlworker -chain.reps 20
//
// runs more, and -chain.reps 1 -chain.seed S replays the seed a failure
// names (the cut offsets and the kinds of cut; the timing is the
// machine's). A repetition waits mostly on tlworker's redials after ten
// cuts in a row (connections that live under actors.Config.HealthyAfter do
// not reset the backoff, --redial-max caps it at 1 s here, and the dial
// limits allow 3 dials per 8 s), so repetitions run -chain.parallel at a
// time, and the two tests in parallel.
var (
	chainReps     = flag.Int("chain.reps", 3, "repetitions of TestSendChainThroughCuts, each with a fresh tgsim and fault-proxy seed")
	chainSlowReps = flag.Int("chain.slowreps", 1, "repetitions of TestSendChainSlowHeadsThroughCuts")
	chainSeed     = flag.Uint64("chain.seed", 0, "fault-proxy seed of the first repetition of the chain end-to-end tests; the next ones add 1 (0: 1)")
	chainParallel = flag.Int("chain.parallel", 3, "repetitions of one chain end-to-end test run at once (each waits mostly on reconnect pacing)")
)

// chainPlan is one chain run's shape.
type chainPlan struct {
	jobs, chain int // jobs in all; of them, chain jobs ("c0" ... "c<chain-1>")
	cuts        int // connection cuts, spread over the messages stored
	// slowEvery, when positive, makes every slowEvery-th chain job (not the
	// first) a messages.getHistory of the chain's peer, which tgsim runs
	// slower than its WaitTimeout: the chain job after it is answered
	// MSG_WAIT_TIMEOUT while it runs (MTProto, "Calling methods: sequential
	// requests") and must still run after it.
	slowEvery int
}

// chainSlowHead is the latency of the slow chain heads, above tgsim's
// default WaitTimeout (500 ms) and well below MaxChainRepairs of them.
const chainSlowHead = 1200 * time.Millisecond

// Every chain job is a messages.sendMessage to @user1; the other jobs send
// to @user2…@user51. A chain job sits on every jobs/chain-th line, so a
// few are in flight at any time, and at every cut.
func TestSendChainThroughCuts(t *testing.T) {
	t.Parallel()
	runChainReps(t, *chainReps, chainPlan{jobs: 20_000, chain: 200, cuts: 10})
}

// The same with slow heads in the chain: every 20th chain job is a
// messages.getHistory that runs longer than tgsim's WaitTimeout, so its
// dependent meets MSG_WAIT_TIMEOUT and must wait for the head's result.
func TestSendChainSlowHeadsThroughCuts(t *testing.T) {
	t.Parallel()
	runChainReps(t, *chainSlowReps, chainPlan{jobs: 20_000, chain: 200, cuts: 10, slowEvery: 20})
}

// runChainReps runs reps repetitions of plan, -chain.parallel at once
// (t.Run from several goroutines; not t.Parallel, so -parallel does not
// cap them), each a subtest named by its seed.
func runChainReps(t *testing.T, reps int, plan chainPlan) {
	buildBinary(t) // once, before the repetitions race for it
	first := *chainSeed
	if first == 0 {
		first = 1
	}
	sem := make(chan struct{}, max(*chainParallel, 1))
	var wg sync.WaitGroup
	for rep := range max(reps, 1) {
		seed := first + uint64(rep)
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) { runChain(t, plan, seed) })
		}()
	}
	wg.Wait()
}

// runChain is one repetition: a fresh tgsim behind a fault proxy seeded
// with seed, the jobs of plan, tlworker send, cuts spread over the run, and
// the checks.
func runChain(t *testing.T, plan chainPlan, seed uint64) {
	replay := fmt.Sprintf("seed %d (replay: -run '%s' -chain.reps 1 -chain.seed %d)", seed, strings.Split(t.Name(), "/")[0], seed)
	began := time.Now()
	cfg := tgsim.Config{Flood: tgsim.FloodConfig{Off: true}}
	if plan.slowEvery > 0 {
		cfg.MethodLatency = map[string]tgsim.Latency{"messages.getHistory": {Base: chainSlowHead}}
	}
	r := &faultRun{bin: buildBinary(t), n: plan.jobs}
	var simConn []string
	r.srv, simConn = simFor(t, cfg)
	p, err := faultproxy.Start(r.srv.Addr(2), faultproxy.Config{Seed: seed})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	r.p = p
	r.conn = []string{"--dc", "2=" + p.Addr(), "--server-key", simConn[len(simConn)-1]}
	r.out = filepath.Join(t.TempDir(), "out.jsonl")

	lines, sends := chainJobs(plan)
	r.jobs = writeJobs(t, lines)
	pr := r.start(t, "--concurrency", "500")

	// Cut k waits for k+1 of cuts+2 equal parts of the messages stored, so
	// the last cut still has jobs after it. Even cuts close the connection
	// at once; odd ones at a random byte offset (mid-frame included) within
	// its next 20 kB, drawn from the proxy's seeded generator.
	for k := range plan.cuts {
		r.waitStored(t, pr, int64(sends*(k+1)/(plan.cuts+2)))
		cuts := p.Stats().Cuts
		if k%2 == 0 {
			p.Cut()
		} else {
			p.CutAfter(faultproxy.CutRule{Min: 1, Max: 20_000})
		}
		r.waitProxy(t, pr, fmt.Sprintf("cut %d", k+1), func(s faultproxy.Stats) bool { return s.Cuts > cuts })
		p.StopCuts()
	}
	code, out := pr.wait(t)
	t.Logf("%s: exit %d in %v; proxy %+v", replay, code, time.Since(began).Round(time.Millisecond), p.Stats())

	// Every job has exactly one line, ok.
	got := readOut(t, r.out)
	var bad []string
	for i := range plan.jobs {
		id := chainJobID(plan, i)
		if l := got[id]; len(l) != 1 || !l[0].OK {
			bad = append(bad, fmt.Sprintf("%s: %s", id, describeLines(l)))
		}
	}
	if len(bad) > 0 || len(got) != plan.jobs {
		t.Errorf("%s: %d of %d jobs lack exactly one ok line (%d ids in the results), e.g.\n  %s\nexit %d, output:\n%s",
			replay, len(bad), plan.jobs, len(got), strings.Join(bad[:min(len(bad), 10)], "\n  "), code, out)
	} else if code != 0 {
		t.Errorf("%s: exit %d with every job ok; output:\n%s", replay, code, out)
	}

	// The server executed the chain's messages exactly once, in order.
	users := r.srv.Users()
	hist := r.srv.HistoryTexts(r.srv.Bot().ID, &tg.PeerUser{UserID: users[0].ID})
	if problem := checkChainOrder(plan, hist); problem != "" {
		t.Errorf("%s: the chain's peer @user1 holds %d messages in server order: %s", replay, len(hist), problem)
	}
	if plan.slowEvery > 0 {
		if problem := checkSlowHeads(plan, got); problem != "" {
			t.Errorf("%s: %s", replay, problem)
		}
	}
	c := r.srv.Counters()
	t.Logf("seed %d: tgsim stored %d, duplicates absorbed %d, connections %d, new sessions %d, ordering waits %d, errors %v",
		seed, c.MessagesStored, c.Duplicates, c.Connections, c.NewSessions, c.OrderingWaits, c.Errors)
	if c.MessagesStored != int64(sends) {
		t.Errorf("%s: tgsim stored %d messages for %d sendMessage jobs", replay, c.MessagesStored, sends)
	}
	if plan.slowEvery > 0 && c.Errors["MSG_WAIT_TIMEOUT"] == 0 {
		t.Errorf("%s: no MSG_WAIT_TIMEOUT: the slow heads were not exercised", replay)
	}
}

// chainJobs writes plan's job lines and counts the sendMessage jobs among
// them. Chain job k is on line k·jobs/chain, id "c<k>", after "c<k-1>".
func chainJobs(plan chainPlan) (lines []string, sends int) {
	lines = make([]string, plan.jobs)
	for i := range lines {
		id := chainJobID(plan, i)
		k, chained := chainIndex(plan, i)
		switch {
		case !chained:
			lines[i] = fmt.Sprintf(`{"id":%q,"method":"messages.sendMessage","params":{"peer":"@user%d","message":"m %d"}}`, id, i%50+2, i)
			sends++
			continue
		case plan.slowEvery > 0 && k > 0 && k%plan.slowEvery == 0:
			lines[i] = fmt.Sprintf(`{"id":%q,"method":"messages.getHistory","params":{"peer":"@user1","offset_id":0,"offset_date":0,"add_offset":0,"limit":1,"max_id":0,"min_id":0,"hash":0}`, id)
		default:
			lines[i] = fmt.Sprintf(`{"id":%q,"method":"messages.sendMessage","params":{"peer":"@user1","message":"chain %d"}`, id, k)
			sends++
		}
		if k > 0 {
			lines[i] += fmt.Sprintf(`,"after":"c%d"`, k-1)
		}
		lines[i] += "}"
	}
	return lines, sends
}

// chainIndex says whether line i holds a chain job, and which.
func chainIndex(plan chainPlan, i int) (int, bool) {
	step := plan.jobs / plan.chain
	if i%step != 0 || i/step >= plan.chain {
		return 0, false
	}
	return i / step, true
}

func chainJobID(plan chainPlan, i int) string {
	if k, ok := chainIndex(plan, i); ok {
		return fmt.Sprintf("c%d", k)
	}
	return fmt.Sprintf("m%d", i)
}

// chainTexts are the texts the chain's sendMessage jobs store, in chain
// order.
func chainTexts(plan chainPlan) []string {
	var want []string
	for k := range plan.chain {
		if plan.slowEvery > 0 && k > 0 && k%plan.slowEvery == 0 {
			continue
		}
		want = append(want, fmt.Sprintf("chain %d", k))
	}
	return want
}

// checkChainOrder compares the chain peer's history with the chain, and
// says what is wrong: messages missing, duplicated, or executed out of
// order (the first place, with its neighbours). "" if it matches.
func checkChainOrder(plan chainPlan, hist []string) string {
	want := chainTexts(plan)
	count := map[string]int{}
	for _, h := range hist {
		count[h]++
	}
	var problems []string
	var missing, dup []string
	for _, w := range want {
		switch n := count[w]; {
		case n == 0:
			missing = append(missing, w)
		case n > 1:
			dup = append(dup, fmt.Sprintf("%q ×%d", w, n))
		}
	}
	if len(missing) > 0 {
		problems = append(problems, fmt.Sprintf("%d missing (%s)", len(missing), strings.Join(missing[:min(len(missing), 5)], ", ")))
	}
	if len(dup) > 0 {
		problems = append(problems, fmt.Sprintf("%d executed more than once (%s)", len(dup), strings.Join(dup[:min(len(dup), 5)], ", ")))
	}
	// Order: the first position where the history departs from the chain.
	for i := range min(len(hist), len(want)) {
		if hist[i] != want[i] {
			lo, hi := max(i-2, 0), min(i+3, len(hist))
			problems = append(problems, fmt.Sprintf("out of chain order at position %d: server order %q, want %q", i, hist[lo:hi], want[lo:min(hi, len(want))]))
			break
		}
	}
	if len(problems) == 0 && len(hist) != len(want) {
		problems = append(problems, fmt.Sprintf("%d messages, want %d", len(hist), len(want)))
	}
	return strings.Join(problems, "; ")
}

// checkSlowHeads checks each slow head (a getHistory of the chain's peer,
// limit 1) saw as newest message the chain message before it: it ran
// after its predecessor and before its dependent.
func checkSlowHeads(plan chainPlan, got map[string][]line) string {
	for k := plan.slowEvery; k < plan.chain; k += plan.slowEvery {
		id := fmt.Sprintf("c%d", k)
		l := got[id]
		if len(l) != 1 || !l[0].OK {
			continue // reported with the lines
		}
		var res struct {
			Messages []struct {
				Message string `json:"message"`
			} `json:"messages"`
		}
		if err := json.Unmarshal(l[0].Result, &res); err != nil {
			return fmt.Sprintf("slow head %s: result %s: %v", id, l[0].Result, err)
		}
		want := fmt.Sprintf("chain %d", k-1)
		if len(res.Messages) != 1 || res.Messages[0].Message != want {
			return fmt.Sprintf("slow head %s (getHistory after %q) saw %s: it did not run right after its predecessor", id, want, l[0].Result)
		}
	}
	return ""
}

// describeLines sums up a job's result lines for a failure message.
func describeLines(ls []line) string {
	if len(ls) == 0 {
		return "no result line"
	}
	var parts []string
	for _, l := range ls {
		switch {
		case l.OK:
			parts = append(parts, "ok")
		case l.Error != nil:
			parts = append(parts, fmt.Sprintf("error %+v", *l.Error))
		default:
			parts = append(parts, "not ok, no error")
		}
	}
	return fmt.Sprintf("%d lines: %s", len(ls), strings.Join(parts, ", "))
}
