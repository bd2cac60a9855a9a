package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tlsched/tlsched/cmd/tlworker/internal/cli"
	"github.com/tlsched/tlsched/internal/racetest"
	"github.com/tlsched/tlsched/tgsim"
)

// clusterProc is a tlworker process of a cluster test (etcd or a node).
type clusterProc struct {
	name string
	cmd  *exec.Cmd

	mu     sync.Mutex
	lines  []timedLine // its stdout, as it came
	stderr bytes.Buffer
}

type timedLine struct {
	at   time.Time
	text string
}

// startClusterProc starts bin with args and waits for a stdout line
// containing ready.
func startClusterProc(t *testing.T, name, bin, ready string, args ...string) *clusterProc {
	t.Helper()
	p := &clusterProc{name: name, cmd: exec.Command(bin, args...)}
	p.cmd.Env = append(os.Environ(), "TLSCHED_SEAL_KEY="+strings.Repeat("ab", 32))
	out, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p.cmd.Stderr = &lockedWriter{mu: &p.mu, w: &p.stderr}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	isReady := make(chan struct{})
	var once sync.Once
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			p.mu.Lock()
			p.lines = append(p.lines, timedLine{time.Now(), sc.Text()})
			p.mu.Unlock()
			if strings.Contains(sc.Text(), ready) {
				once.Do(func() { close(isReady) })
			}
		}
	}()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		_ = p.cmd.Wait()
		p.mu.Lock()
		defer p.mu.Unlock()
		if races := racetest.Unknown(p.stderr.String()); len(races) > 0 {
			t.Errorf("%s: %d data races, the first:\n%s", name, len(races), races[0])
		} else if t.Failed() && p.stderr.Len() > 0 {
			tail := p.stderr.String()
			tail = tail[max(0, len(tail)-3000):]
			t.Logf("%s's stderr (tail):\n%s", name, tail)
		}
	})
	select {
	case <-isReady:
	case <-time.After(2 * time.Minute):
		t.Fatalf("%s: no %q within 2 minutes", name, ready)
	}
	return p
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

// active returns the accounts the node said became active here at or
// after since, with when.
func (p *clusterProc) active(since time.Time) map[string]time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := map[string]time.Time{}
	for _, l := range p.lines {
		if acct, ok := cli.NodeActive(l.text); ok && !l.at.Before(since) {
			if _, seen := out[acct]; !seen {
				out[acct] = l.at
			}
		}
	}
	return out
}

// Three tlworker nodes, one etcd (tlworker etcd) and tlworker send
// --cluster with five bots: one node is killed with SIGKILL mid-run and a
// fourth joins. Every job gets one ok line, tgsim stores each message once
// (a call lost with the dead node's grain goes again with the same
// random_id), no key is ever used from two IPs at once, and the dead
// node's accounts become active on other nodes.
func TestClusterSendSurvivesKilledNode(t *testing.T) {
	// TLSCHED_CLUSTER_E2E_FULL=1 runs the size (100 bots, 50,000
	// jobs; minutes under -race); CI runs 5 bots and 1,600 jobs.
	bots, users, rounds, rate := 5, 40, 40, "400"
	if os.Getenv("TLSCHED_CLUSTER_E2E_FULL") == "1" {
		bots, users, rounds, rate = 100, 1000, 50, "0"
	}
	bin := buildBinary(t)
	srv, conn := simFor(t, tgsim.Config{
		Flood: tgsim.FloodConfig{Off: true}, RequireLogin: true,
		World: tgsim.WorldConfig{Users: users, Bots: bots},
	})
	dir := t.TempDir()
	client := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	startClusterProc(t, "etcd", bin, "etcd is serving", "etcd", "--dir", filepath.Join(dir, "etcd"), "--listen", client, "--peer", fmt.Sprintf("127.0.0.1:%d", freePort(t)))
	nodeArgs := func(ip string) []string {
		return append([]string{"node", "--cluster", "e2e", "--etcd", client, "--bind", ip, "--member-ttl", "3s", "--owner-ttl", "3s"}, conn...)
	}
	var nodes []*clusterProc
	for i, ip := range []string{"127.0.0.2", "127.0.0.3", "127.0.0.4"} {
		nodes = append(nodes, startClusterProc(t, fmt.Sprintf("node%d", i+1), bin, "is ready", nodeArgs(ip)...))
	}

	accounts := filepath.Join(dir, "accounts.txt")
	var b strings.Builder
	for i, bot := range srv.Bots() {
		fmt.Fprintf(&b, "bot%d %s\n", i+1, bot.Token)
	}
	if err := os.WriteFile(accounts, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	var js, ids []string
	for r := range rounds {
		for u := 1; u <= users; u++ {
			ids = append(ids, fmt.Sprintf("u%d-%d", u, r))
			js = append(js, fmt.Sprintf(`{"id":"u%d-%d","method":"messages.sendMessage","params":{"peer":"@user%d","message":"u%d m%d"}}`, u, r, u, u, r))
		}
	}
	out := filepath.Join(dir, "out.jsonl")
	send := exec.Command(bin, append([]string{"send", "--cluster", "e2e", "--etcd", client, "--accounts", accounts, "--jobs", writeJobs(t, js), "--out", out, "--progress", "none", "--rate", rate}, conn...)...)
	var sendOut bytes.Buffer
	send.Stdout, send.Stderr = &sendOut, &sendOut
	if err := send.Start(); err != nil {
		t.Fatal(err)
	}
	sent := make(chan error, 1)
	go func() { sent <- send.Wait() }()

	// A third of the jobs done: node1 dies, node4 joins.
	deadline := time.Now().Add(2 * time.Minute)
	for countLines(out) < len(js)/3 {
		select {
		case err := <-sent:
			t.Fatalf("tlworker send ended before a third of the jobs: %v\n%s", err, sendOut.String())
		case <-time.After(20 * time.Millisecond): // polling the results file
		}
		if time.Now().After(deadline) {
			t.Fatalf("a third of the jobs not done in 2 minutes\n%s", sendOut.String())
		}
	}
	// The node to kill is one that holds accounts now.
	victim := 0
	for i, n := range nodes {
		if len(n.active(time.Time{})) > len(nodes[victim].active(time.Time{})) {
			victim = i
		}
	}
	held := nodes[victim].active(time.Time{})
	if len(held) == 0 {
		t.Fatal("no node holds an account a third into the run")
	}
	killed := time.Now()
	if err := nodes[victim].cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	others := append(slices.Clone(nodes[:victim]), nodes[victim+1:]...)
	nodes = append(nodes, startClusterProc(t, "node4", bin, "is ready", nodeArgs("127.0.0.5")...))
	select {
	case err := <-sent:
		if err != nil {
			t.Fatalf("tlworker send: %v\n%s", err, sendOut.String())
		}
	case <-time.After(5 * time.Minute):
		t.Fatalf("tlworker send still running 5 minutes on\n%s", sendOut.String())
	}

	got := readAccountsOut(t, out)
	for _, id := range ids {
		if ls := got[id]; len(ls) != 1 || !ls[0].OK {
			t.Errorf("job %s: lines %+v, want one ok line", id, ls)
		}
	}
	if len(got) != len(js) {
		t.Errorf("%d jobs have lines, want %d", len(got), len(js))
	}
	if c := srv.Counters(); c.MessagesStored != int64(len(js)) || c.DuplicatedKeys != 0 {
		t.Errorf("tgsim stored %d messages (want %d) and revoked %d keys used from two IPs (want 0)", c.MessagesStored, len(js), c.DuplicatedKeys)
	}
	for acct := range held {
		var at time.Time
		for _, n := range append(others, nodes[len(nodes)-1]) {
			if a, ok := n.active(killed)[acct]; ok && (at.IsZero() || a.Before(at)) {
				at = a
			}
		}
		if at.IsZero() {
			t.Errorf("account %s of the killed %s never became active elsewhere", acct, nodes[victim].name)
			continue
		}
		t.Logf("account %s active elsewhere %v after %s was killed (member and owner TTL 3 s)", acct, at.Sub(killed).Round(10*time.Millisecond), nodes[victim].name)
	}
}
