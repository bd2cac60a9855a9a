package membertest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	pacluster "github.com/asynkron/protoactor-go/cluster"
	"github.com/asynkron/protoactor-go/cluster/identitylookup/disthash"
	"github.com/asynkron/protoactor-go/remote"
	"github.com/gotd/td/crypto"
	"github.com/gotd/td/exchange"
	"github.com/gotd/td/tg"

	"github.com/tlsched/tlsched/actors"
	"github.com/tlsched/tlsched/cluster"
	"github.com/tlsched/tlsched/cluster/internal/etcdtest"
	"github.com/tlsched/tlsched/internal/racetest"
	"github.com/tlsched/tlsched/scheduler"
	"github.com/tlsched/tlsched/tgsim"
)

// Environment of a member process (this test binary run again).
const (
	envMember = "TLSCHED_MEMBERTEST_MEMBER"
	envEtcd   = "TLSCHED_MEMBERTEST_ETCD"
	envIP     = "TLSCHED_MEMBERTEST_IP"
	envDCs    = "TLSCHED_MEMBERTEST_DCS"
	envKey    = "TLSCHED_MEMBERTEST_KEY"
	// envEtcdDir makes the process an etcd server with its data there:
	// etcd's gRPC server and protoactor's remote must not share a process
	// (protoactor sets gRPC's global logger as it starts, a data race
	// with a running gRPC server).
	envEtcdDir = "TLSCHED_MEMBERTEST_ETCDDIR"
	// envIsolated: this process runs one test only (isolate).
	envIsolated = "TLSCHED_MEMBERTEST_ISOLATED"
)

// isolate runs the calling test in a process of its own (this test binary
// again), and reports whether the caller is that process and should run
// the test's body. protoactor's remote sets gRPC's global logger each time
// one starts: a data race with the gRPC goroutines an earlier test in the
// same process left (its etcd client, its remote), which -race reports.
func isolate(t *testing.T) bool {
	t.Helper()
	if os.Getenv(envIsolated) == t.Name() {
		return true
	}
	args := []string{"-test.run=^" + t.Name() + "$", "-test.count=1"}
	if testing.Verbose() {
		args = append(args, "-test.v")
	}
	if d, ok := t.Deadline(); ok {
		args = append(args, "-test.timeout="+time.Until(d).String())
	}
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), envIsolated+"="+t.Name())
	out, err := cmd.CombinedOutput()
	if err != nil || testing.Verbose() {
		t.Logf("%s", out)
	}
	if err != nil {
		t.Fatalf("%s in its own process: %v", t.Name(), err)
	}
	return false
}

func TestMain(m *testing.M) {
	if dir := os.Getenv(envEtcdDir); dir != "" {
		if err := runEtcd(dir); err != nil {
			fmt.Fprintln(os.Stderr, "etcd:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	if name := os.Getenv(envMember); name != "" {
		if err := runMember(name); err != nil {
			fmt.Fprintln(os.Stderr, "member:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// runEtcd is an etcd process: it says "ready ENDPOINT" and serves until
// SIGTERM or SIGKILL.
func runEtcd(dir string) error {
	e, stop, err := etcdtest.Serve(dir)
	if err != nil {
		return err
	}
	defer stop()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM)
	fmt.Println("ready", e.Endpoint)
	<-sig
	return nil
}

// startEtcd runs etcd in a process of its own.
func startEtcd(t *testing.T) *etcdtest.Etcd {
	t.Helper()
	p := start(t, "etcd", envEtcdDir+"="+t.TempDir())
	return &etcdtest.Etcd{Endpoint: p.addr}
}

// runMember is a member process: it joins the cluster, says "ready" on
// stdout, and runs account grains until SIGTERM (a graceful leave) or
// SIGKILL.
func runMember(name string) error {
	cli, err := clientv3New(os.Getenv(envEtcd))
	if err != nil {
		return err
	}
	defer cli.Close()
	pem, err := os.ReadFile(os.Getenv(envKey))
	if err != nil {
		return err
	}
	keys, err := crypto.ParseRSAPublicKeys(pem)
	if err != nil {
		return err
	}
	dcs := map[int]string{}
	for _, kv := range strings.Split(os.Getenv(envDCs), ",") {
		id, addr, _ := strings.Cut(kv, "=")
		n, err := strconv.Atoi(id)
		if err != nil {
			return fmt.Errorf("%s: %q: %w", envDCs, kv, err)
		}
		dcs[n] = addr
	}
	ip := os.Getenv(envIP)
	owners, err := cluster.NewOwners(cli, cluster.OwnersConfig{Prefix: prefix + "owners/", Member: name, TTL: ttl})
	if err != nil {
		return err
	}
	defer owners.Close()
	sealer, err := cluster.NewSealer(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		return err
	}
	host, err := cluster.NewHost(cluster.HostConfig{
		Owners: owners, Etcd: cli, Prefix: prefix, Sealer: sealer,
		Notify: func(account string, err error) {
			if err == nil {
				fmt.Println("active", account) // the test's proc.holds
			}
		},
		Client: func(string) actors.Config {
			return actors.Config{
				DCs: dcs, PublicKeys: []exchange.PublicKey{{RSA: keys[0]}},
				Dialer: &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}},
			}
		},
	})
	if err != nil {
		return err
	}
	mem, err := cluster.NewMembership(cluster.MembershipConfig{Etcd: cli, Prefix: prefix, TTL: ttl})
	if err != nil {
		return err
	}
	c := pacluster.New(newSystem(true), pacluster.Configure("membertest", mem, disthash.New(), remote.Configure(ip, 0), pacluster.WithKinds(host.Kind())))
	c.StartMember()
	fmt.Println("ready", c.ActorSystem.Address())
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM)
	select {
	case <-sig:
	case <-mem.Lost():
	}
	c.Shutdown(true)
	return nil
}

// proc is a member process.
type proc struct {
	name  string
	cmd   *exec.Cmd
	addr  string
	proxy *etcdtest.Proxy // its way to etcd, when it has one of its own

	mu     sync.Mutex
	active map[string]bool // accounts it said it started
}

// holds is how many accounts the member has started.
func (p *proc) holds() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.active)
}

// busiest is the member that has started the most accounts; the test
// fails when none has (there is nothing to disrupt).
func busiest(t *testing.T, procs []*proc) *proc {
	t.Helper()
	best := procs[0]
	for _, p := range procs[1:] {
		if p.holds() > best.holds() {
			best = p
		}
	}
	if best.holds() == 0 {
		t.Fatal("no member holds an account a third into the run")
	}
	return best
}

// spawn starts a member process and waits until it has joined.
func spawn(t *testing.T, name, ip, etcd string, srv *tgsim.Server, keyFile string) *proc {
	t.Helper()
	var dcs []string
	for id, addr := range srv.DCAddrs() {
		dcs = append(dcs, fmt.Sprintf("%d=%s", id, addr))
	}
	return start(t, name, envMember+"="+name, envEtcd+"="+etcd, envIP+"="+ip, envDCs+"="+strings.Join(dcs, ","), envKey+"="+keyFile)
}

// start runs this test binary again with env added, and waits for its
// "ready ADDRESS" line.
func start(t *testing.T, name string, env ...string) *proc {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{name: name, cmd: cmd, active: map[string]bool{}}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if races := racetest.Unknown(stderr.String()); len(races) > 0 {
			t.Errorf("%s: %d data races, the first:\n%s", name, len(races), races[0])
		} else if t.Failed() && stderr.Len() > 0 {
			tail := stderr.String()
			if len(tail) > 4000 {
				tail = tail[len(tail)-4000:]
			}
			t.Logf("%s's stderr (tail):\n%s", name, tail)
		}
	})
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if addr, ok := strings.CutPrefix(sc.Text(), "ready "); ok {
				ready <- addr
			}
			if acct, ok := strings.CutPrefix(sc.Text(), "active "); ok {
				p.mu.Lock()
				p.active[acct] = true
				p.mu.Unlock()
			}
		}
	}()
	select {
	case p.addr = <-ready:
	case <-time.After(patience):
		t.Fatalf("%s did not start within %v", name, patience)
	}
	return p
}

// One member of three is killed (SIGKILL) in the middle of a run and a
// fourth joins: every message is sent once and answered ok (a call its
// grain's death left without an answer goes again with the same
// random_id, which Telegram and tgsim deduplicate), the dead member's
// accounts carry on elsewhere, and tgsim never sees a key used from two
// IPs at once.
func TestMemberKilledMidRun(t *testing.T) {
	if !isolate(t) {
		return
	}
	broadcast(t, false, func(t *testing.T, w *world) {
		if err := busiest(t, w.procs).cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		w.procs = append(w.procs, w.spawn(t, "m4", "127.0.0.5", w.etcd.Endpoint))
	})
}

// One member of three is cut off from etcd in the middle of a run (its
// process and its connections to Telegram and to the other members stay
// up): its ownership leases lapse, so it closes its accounts' connections
// before any other member may take them, and its accounts carry on
// elsewhere; tgsim never sees a key used from two IPs at once, and every
// message is sent once.
func TestMemberPartitionedMidRun(t *testing.T) {
	if !isolate(t) {
		return
	}
	broadcast(t, true, func(t *testing.T, w *world) {
		// The member holding the most accounts is cut off. The rest of
		// the messages go once the cluster has seen it leave (its member
		// key expired): its accounts are elsewhere by then.
		victim := busiest(t, w.procs)
		left := make(chan struct{})
		var once sync.Once
		sub := w.c.ActorSystem.EventStream.Subscribe(func(evt any) {
			if tp, ok := evt.(*pacluster.ClusterTopology); ok {
				for _, m := range tp.Left {
					if m.Address() == victim.addr {
						once.Do(func() { close(left) })
					}
				}
			}
		})
		defer w.c.ActorSystem.EventStream.Unsubscribe(sub)
		victim.proxy.Partition()
		select {
		case <-left:
		case <-time.After(patience):
			t.Fatalf("%s still a member %v after its etcd was cut off", victim.name, patience)
		}
	})
}

// world is a broadcast's cluster: etcd, tgsim and member processes.
type world struct {
	c       *pacluster.Cluster // this process's cluster client
	etcd    *etcdtest.Etcd
	srv     *tgsim.Server
	keyFile string
	procs   []*proc
}

func (w *world) spawn(t *testing.T, name, ip, etcd string) *proc {
	return spawn(t, name, ip, etcd, w.srv, w.keyFile)
}

// broadcast sends messages from 10 accounts through three member
// processes, calls disrupt once a third of them are answered, and checks
// that every message was stored once and no key was used from two IPs at
// once. With proxies, each member reaches etcd through a proxy of its own
// (proc.proxy), which disrupt may cut.
func broadcast(t *testing.T, proxies bool, disrupt func(*testing.T, *world)) {
	const (
		accounts = 10
		messages = 2000
	)
	e := startEtcd(t)
	cli := e.Client(t)
	srv, err := tgsim.Start(tgsim.Config{Flood: tgsim.FloodConfig{Off: true}, World: tgsim.WorldConfig{Bots: accounts}})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	w := &world{etcd: e, srv: srv, keyFile: filepath.Join(t.TempDir(), "key.pem")}
	if err := os.WriteFile(w.keyFile, srv.PublicKeyPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	for i, ip := range []string{"127.0.0.2", "127.0.0.3", "127.0.0.4"} {
		ep := e.Endpoint
		var proxy *etcdtest.Proxy
		if proxies {
			proxy = e.NewProxy(t)
			ep = proxy.Endpoint
		}
		p := w.spawn(t, fmt.Sprintf("m%d", i+1), ip, ep)
		p.proxy = proxy
		w.procs = append(w.procs, p)
	}

	// This process is a cluster client: it sends, it hosts no account.
	mem, err := cluster.NewMembership(cluster.MembershipConfig{Etcd: cli, Prefix: prefix, TTL: ttl})
	if err != nil {
		t.Fatal(err)
	}
	c := pacluster.New(newSystem(testing.Verbose()), pacluster.Configure("membertest", mem, disthash.New(), remote.Configure("127.0.0.1", 0)))
	c.StartClient()
	w.c = c
	sub := cluster.NewSubmitter(c)
	defer func() {
		sub.Close()
		// Cluster.Shutdown assumes a member (it sets gossip state a
		// client never started): a client stops its parts itself.
		_ = mem.Shutdown(true)
		c.ActorSystem.Shutdown()
		c.Remote.Shutdown(true)
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 6*patience)
	defer cancel()

	bots := srv.Bots()
	name := func(i int) string { return fmt.Sprintf("bot%d", i) }
	for i, b := range bots {
		sendUntilOK(t, ctx, sub, name(i), encode(t, &tg.AuthImportBotAuthorizationRequest{APIID: 1, APIHash: "h", BotAuthToken: b.Token}, ""))
	}

	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		retries = map[string]int{}
		done    int
	)
	third := make(chan struct{})
	for i := 0; i < messages; i++ {
		acct := name(i % accounts)
		req := encode(t, &tg.MessagesSendMessageRequest{Peer: &tg.InputPeerSelf{}, Message: fmt.Sprint(i), RandomID: int64(i + 1)}, "me")
		wg.Add(1)
		go func() {
			defer wg.Done()
			n := sendUntilOK(t, ctx, sub, acct, req)
			mu.Lock()
			defer mu.Unlock()
			retries[acct] += n
			done++
			if done == messages/3 {
				close(third)
			}
		}()
		if i == messages/2 {
			<-third
			disrupt(t, w)
		}
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	stored := 0
	for _, b := range bots {
		stored += len(srv.HistoryTexts(b.ID, &tg.PeerUser{UserID: b.ID}))
	}
	if stored != messages {
		t.Errorf("tgsim stored %d messages, want %d", stored, messages)
	}
	if n := srv.Counters().DuplicatedKeys; n != 0 {
		t.Errorf("tgsim revoked %d keys used from two IPs at once", n)
	}
	var names []string
	for a, n := range retries {
		names = append(names, fmt.Sprintf("%s:%d", a, n))
	}
	sort.Strings(names)
	t.Logf("sent again after the disruption (per account): %s", strings.Join(names, " "))
}

// sendUntilOK sends req to account until it is answered ok, again while
// its outcome is lost with a grain that died; it returns how many times it
// sent again. Telegram's errors fail the test.
func sendUntilOK(t *testing.T, ctx context.Context, sub *cluster.Submitter, account string, req *tlRequest) int {
	for again := 0; ; again++ {
		calls, err := sub.Send(ctx, account, []cluster.RemoteSpec{{Req: req}})
		if err == nil {
			_, err = calls[0].Wait(ctx)
			if err == nil {
				return again
			}
		}
		var re *cluster.RemoteError
		switch {
		case ctx.Err() != nil:
			t.Errorf("%s: no answer in time: %v", account, err)
			return again
		case errors.As(err, &re) && re.Sent == 0:
			t.Errorf("%s: %v", account, err)
			return again
		case errors.Is(err, scheduler.ErrMayHaveRun), errors.Is(err, scheduler.ErrNotSent), err != nil:
			// Lost with its grain, or its grain could not be reached:
			// the same call again (the same random_id).
			time.Sleep(50 * time.Millisecond) // a pause between attempts, not a synchronisation
		}
	}
}
