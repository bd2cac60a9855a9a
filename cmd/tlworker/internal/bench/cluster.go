package bench

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/tlsched/tlsched/cmd/tlworker/internal/cli"
	"github.com/tlsched/tlsched/tgsim"
)

// clusterFlags are bench --cluster's.
type clusterFlags struct {
	accounts, jobs, nodes int
	ttl                   time.Duration
	readme                string
}

// RunCluster is "tlworker bench --cluster": tlworker nodes (processes,
// each on its own loopback address) with tlworker etcd, and tlworker send
// --cluster sending a job file through them to tgsim's bots, twice: a
// steady run (throughput, in all and per member) and a run in which the
// node holding the most accounts is killed (SIGKILL) a third of the way
// through and another joins (the time until its accounts are active
// elsewhere). Both runs check every job has one ok line, tgsim stored each
// message once and no key was used from two IPs.
func RunCluster(args []string, stdout, stderr io.Writer) error {
	var f clusterFlags
	fs := cli.NewFlags("bench --cluster", stderr)
	fs.IntVar(&f.accounts, "accounts", 100, "bots sending")
	fs.IntVar(&f.jobs, "jobs", 50000, "messages.sendMessage jobs per run, to 1,000 users' chats")
	fs.IntVar(&f.nodes, "nodes", 3, "tlworker nodes at the start")
	fs.DurationVar(&f.ttl, "ttl", 5*time.Second, "the nodes' --member-ttl and --owner-ttl")
	fs.StringVar(&f.readme, "readme", "", "replace the table between <!-- bench-cluster:start --> and <!-- bench-cluster:end --> in this file")
	if err := cli.ParseFlags(fs, args); err != nil {
		return err
	}
	if f.accounts < 1 || f.jobs < 3 || f.nodes < 2 || f.ttl < 2*time.Second {
		return cli.Usagef("--accounts at least 1, --jobs at least 3, --nodes at least 2, --ttl at least 2s")
	}
	bin, err := os.Executable()
	if err != nil {
		return err
	}
	logf := func(format string, a ...any) { fmt.Fprintf(stderr, format+"\n", a...) }
	w, err := startClusterWorld(bin, f, logf)
	defer w.close()
	if err != nil {
		return err
	}
	steady, err := w.run("steady", f.jobs, nil)
	if err != nil {
		return err
	}
	var killed time.Time
	var victim *benchProc
	failover, err := w.run("failover", f.jobs, func() error {
		victim = w.nodes[0]
		for _, n := range w.nodes {
			if len(n.active(time.Time{})) > len(victim.active(time.Time{})) {
				victim = n
			}
		}
		killed = time.Now()
		if err := victim.cmd.Process.Kill(); err != nil {
			return err
		}
		logf("killed %s (it held %d accounts); starting another node", victim.name, len(victim.active(time.Time{})))
		return w.startNode(len(w.nodes) + 1)
	})
	if err != nil {
		return err
	}
	// Failover: from the kill until each of the dead node's accounts is
	// active on another node.
	var over []time.Duration
	for acct := range victim.active(time.Time{}) {
		var at time.Time
		for _, n := range w.nodes {
			if n == victim {
				continue
			}
			if a, ok := n.active(killed)[acct]; ok && (at.IsZero() || a.Before(at)) {
				at = a
			}
		}
		if at.IsZero() {
			return fmt.Errorf("account %s of the killed node never became active elsewhere", acct)
		}
		over = append(over, at.Sub(killed))
	}
	slices.Sort(over)
	c := w.srv.Counters()
	if c.MessagesStored != int64(2*f.jobs) || c.DuplicatedKeys != 0 {
		return fmt.Errorf("tgsim stored %d messages (want %d) and revoked %d keys used from two IPs (want 0)", c.MessagesStored, 2*f.jobs, c.DuplicatedKeys)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Measured %s on %s: %d bots, %d messages.sendMessage jobs per run to 1,000 users' chats, %d tlworker nodes (processes, 127.0.0.2, …) and tlworker etcd, member and owner TTL %v, tgsim's flood model off:\n", time.Now().UTC().Format("2006-01-02"), machine(), f.accounts, f.jobs, f.nodes, f.ttl)
	fmt.Fprintf(&b, "`go run -tags bench ./cmd/tlworker bench --cluster %s`\n\n", strings.Join(args, " "))
	b.WriteString("| run | jobs/s end to end | jobs/s per node (each node's accounts' jobs over the run) | failed | stored at tgsim once | keys used from two IPs | failover: accounts active elsewhere after the kill, first / last |\n")
	b.WriteString("| --- | ---               | ---                                                          | ---    | ---                  | ---                    | ---                                                              |\n")
	for _, r := range []clusterRun{steady, failover} {
		fo := "–"
		if r.name == "failover" {
			fo = fmt.Sprintf("%d accounts: %.2f s / %.2f s", len(over), over[0].Seconds(), over[len(over)-1].Seconds())
		}
		fmt.Fprintf(&b, "| %s | %.0f | %s | %d | yes | 0 | %s |\n", r.name, r.rate, r.perNode, r.failed, fo)
	}
	fmt.Fprint(stdout, b.String())
	if f.readme != "" {
		return replaceNamedBlock(f.readme, "bench-cluster", b.String())
	}
	return nil
}

// clusterWorld is the processes of a cluster bench and its tgsim.
type clusterWorld struct {
	bin, dir, etcd string
	f              clusterFlags
	srv            *tgsim.Server
	conn           []string // --dc … --server-key …
	accountsFile   string
	procs, nodes   []*benchProc
	logf           func(string, ...any)
}

func startClusterWorld(bin string, f clusterFlags, logf func(string, ...any)) (*clusterWorld, error) {
	dir, err := os.MkdirTemp("", "tlsched-bench-cluster")
	if err != nil {
		return nil, err
	}
	w := &clusterWorld{bin: bin, dir: dir, f: f, logf: logf}
	w.srv, err = tgsim.Start(tgsim.Config{Flood: tgsim.FloodConfig{Off: true}, RequireLogin: true, World: tgsim.WorldConfig{Users: 1000, Bots: f.accounts}})
	if err != nil {
		return w, err
	}
	keyFile := filepath.Join(dir, "key.pem")
	if err := os.WriteFile(keyFile, w.srv.PublicKeyPEM(), 0o600); err != nil {
		return w, err
	}
	for id, addr := range w.srv.DCAddrs() {
		w.conn = append(w.conn, "--dc", fmt.Sprintf("%d=%s", id, addr))
	}
	w.conn = append(w.conn, "--server-key", keyFile)
	var lines strings.Builder
	for i, b := range w.srv.Bots() {
		fmt.Fprintf(&lines, "bot%d %s\n", i+1, b.Token)
	}
	w.accountsFile = filepath.Join(dir, "accounts.txt")
	if err := os.WriteFile(w.accountsFile, []byte(lines.String()), 0o600); err != nil {
		return w, err
	}
	client, peer, err := freePorts()
	if err != nil {
		return w, err
	}
	w.etcd = client
	p, err := startBenchProc("etcd", bin, "etcd is serving", "etcd", "--dir", filepath.Join(dir, "etcd"), "--listen", client, "--peer", peer)
	if p != nil {
		w.procs = append(w.procs, p)
	}
	if err != nil {
		return w, err
	}
	for i := 1; i <= f.nodes; i++ {
		if err := w.startNode(i); err != nil {
			return w, err
		}
	}
	return w, nil
}

func (w *clusterWorld) startNode(i int) error {
	args := append([]string{"node", "--cluster", "bench", "--etcd", w.etcd, "--bind", fmt.Sprintf("127.0.0.%d", i+1),
		"--member-ttl", w.f.ttl.String(), "--owner-ttl", w.f.ttl.String()}, w.conn...)
	p, err := startBenchProc(fmt.Sprintf("node%d", i), w.bin, "is ready", args...)
	if p != nil {
		w.procs = append(w.procs, p)
		w.nodes = append(w.nodes, p)
	}
	return err
}

func (w *clusterWorld) close() {
	for _, p := range w.procs {
		_ = p.cmd.Process.Kill()
		_ = p.cmd.Wait()
	}
	if w.srv != nil {
		_ = w.srv.Close()
	}
	_ = os.RemoveAll(w.dir)
}

// clusterRun is one send --cluster run's figures.
type clusterRun struct {
	name    string
	rate    float64 // jobs per second, end to end
	perNode string
	failed  int
}

// run sends n jobs through the cluster; disrupt, if set, is called once a
// third of them have their lines.
func (w *clusterWorld) run(name string, n int, disrupt func() error) (clusterRun, error) {
	jobsFile := filepath.Join(w.dir, name+".jsonl")
	var jb bytes.Buffer
	for i := range n {
		fmt.Fprintf(&jb, `{"id":"%s-%d","method":"messages.sendMessage","params":{"peer":"@user%d","message":"%s %d"}}`+"\n", name, i, i%1000+1, name, i)
	}
	if err := os.WriteFile(jobsFile, jb.Bytes(), 0o600); err != nil {
		return clusterRun{}, err
	}
	args := append([]string{"send", "--cluster", "bench", "--etcd", w.etcd, "--accounts", w.accountsFile, "--jobs", jobsFile, "--out", "-", "--progress", "none"}, w.conn...)
	cmd := exec.Command(w.bin, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return clusterRun{}, err
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return clusterRun{}, err
	}
	byAccount := map[string]int{}
	lines, failed := 0, 0
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var l struct {
			Account string `json:"account"`
			OK      bool   `json:"ok"`
		}
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			return clusterRun{}, fmt.Errorf("a result line: %v: %s", err, sc.Text())
		}
		lines++
		if !l.OK {
			failed++
			if failed <= 3 {
				w.logf("%s: %s", name, sc.Text())
			}
		}
		byAccount[l.Account]++
		if disrupt != nil && lines == n/3 {
			if err := disrupt(); err != nil {
				return clusterRun{}, err
			}
			disrupt = nil
		}
	}
	if err := cmd.Wait(); err != nil {
		return clusterRun{}, fmt.Errorf("tlworker send --cluster: %v: %s", err, strings.TrimSpace(stderr.String()))
	}
	took := time.Since(start)
	if lines != n || failed > 0 {
		return clusterRun{}, fmt.Errorf("%s: %d result lines for %d jobs, %d failed", name, lines, n, failed)
	}
	// Each node's share: the jobs of the accounts it ran last.
	perNode := map[string]int{}
	for acct, k := range byAccount {
		owner, at := "?", time.Time{}
		for _, p := range w.nodes {
			if a, ok := p.active(time.Time{})[acct]; ok && a.After(at) {
				owner, at = p.name, a
			}
		}
		perNode[owner] += k
	}
	var parts []string
	for node, k := range perNode {
		parts = append(parts, fmt.Sprintf("%s %.0f", node, float64(k)/took.Seconds()))
	}
	sort.Strings(parts)
	w.logf("%s: %d jobs in %v", name, n, took.Round(time.Millisecond))
	return clusterRun{name: name, rate: float64(n) / took.Seconds(), perNode: strings.Join(parts, ", "), failed: failed}, nil
}

// benchProc is a tlworker process of the cluster bench.
type benchProc struct {
	name  string
	cmd   *exec.Cmd
	mu    sync.Mutex
	lines []benchLine
}

type benchLine struct {
	at   time.Time
	text string
}

// startBenchProc starts bin with args and waits for a stdout line holding
// ready; the process's stderr goes to ours.
func startBenchProc(name, bin, ready string, args ...string) (*benchProc, error) {
	p := &benchProc{name: name, cmd: exec.Command(bin, args...)}
	p.cmd.Env = append(os.Environ(), "TLSCHED_SEAL_KEY="+strings.Repeat("cd", 32))
	p.cmd.Stderr = os.Stderr
	out, err := p.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := p.cmd.Start(); err != nil {
		return nil, err
	}
	isReady := make(chan struct{})
	var once sync.Once
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			p.mu.Lock()
			p.lines = append(p.lines, benchLine{time.Now(), sc.Text()})
			p.mu.Unlock()
			if strings.Contains(sc.Text(), ready) {
				once.Do(func() { close(isReady) })
			}
		}
	}()
	select {
	case <-isReady:
		return p, nil
	case <-time.After(time.Minute):
		return p, fmt.Errorf("%s: no %q within a minute", name, ready)
	}
}

// active is the accounts the node said became active at or after since,
// with when (the first time).
func (p *benchProc) active(since time.Time) map[string]time.Time {
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

// freePorts returns two free loopback addresses.
func freePorts() (string, string, error) {
	var addrs []string
	for range 2 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return "", "", err
		}
		addrs = append(addrs, ln.Addr().String())
		defer ln.Close()
	}
	return addrs[0], addrs[1], nil
}
