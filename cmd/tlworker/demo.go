package main

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gotd/td/bin"
	"github.com/gotd/td/exchange"
	"github.com/gotd/td/tg"

	"github.com/tlsched/tlsched/actors"
	"github.com/tlsched/tlsched/cmd/tlworker/internal/accountpool"
	"github.com/tlsched/tlsched/cmd/tlworker/internal/cli"
	"github.com/tlsched/tlsched/entitycache"
	"github.com/tlsched/tlsched/scheduler"
	"github.com/tlsched/tlsched/telemetry"
	"github.com/tlsched/tlsched/tgsim"
)

// maxDemoAccounts bounds demo --accounts: tgsim's bots, each logging in.
const maxDemoAccounts = 100

// floodChain is how many ordered messages the demo drives into one group,
// past Telegram's 20 per minute.
const floodChain = 21

type demoFlags struct {
	n, callers int
	accounts   int
	realistic  bool
	progress   string
	trace      traceFlags
}

// demo is "tlworker demo", in steps: start the simulator and the actor
// system (startDemo), resolve peers (resolvePeers), plan the bulk (plan),
// send it with the flood-gate scene a quarter of the way in (sendAll,
// floodScene), check the chain arrived in order (chainInOrder), print the
// summary (summarize).
func demo(args []string, _ io.Reader, stdout, stderr io.Writer) error {
	var f demoFlags
	fs := cli.NewFlags("demo", stderr)
	fs.IntVar(&f.n, "n", 20000, "messages to send")
	fs.IntVar(&f.callers, "callers", 500, "concurrent callers")
	fs.IntVar(&f.accounts, "accounts", 0, "send the bulk through this many tgsim bots in one Fleet, each chat to the bot with the most room (0: the one bot)")
	fs.BoolVar(&f.realistic, "realistic", false, "Telegram's published bot limits for every chat (30 messages/s: 20,000 take 11 minutes)")
	fs.StringVar(&f.progress, "progress", "auto", "progress display: auto, plain or none")
	f.trace.register(fs)
	if err := cli.ParseFlags(fs, args); err != nil {
		return err
	}
	tel, err := f.trace.setup(context.Background(), stdout, stderr)
	if err != nil {
		return err
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = tel.Shutdown(ctx)
	}()
	if f.n < floodChain || f.callers < 1 {
		return cli.Usagef("-n must be at least %d and -callers at least 1", floodChain)
	}
	if f.accounts < 0 || f.accounts > maxDemoAccounts {
		return cli.Usagef("--accounts is 0 to %d", maxDemoAccounts)
	}
	// One server key for both simulators (the bulk's and the pacing
	// scene's): making one costs a noticeable part of a second.
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return err
	}
	d, err := startDemo(stdout, f.realistic, f.accounts, tel, key)
	if err != nil {
		return err
	}
	defer d.close()
	ctx, root := tel.TracerProvider().Tracer("tlworker").Start(context.Background(), "tlworker demo")
	defer func() {
		root.End()
		if sc := root.SpanContext(); sc.IsSampled() {
			fmt.Fprintf(stdout, "trace id %s\n", sc.TraceID())
		}
	}()

	if err := d.resolvePeers(ctx, stdout); err != nil {
		return err
	}
	targets := d.plan(f.n - floodChain)
	if d.pool != nil {
		fmt.Fprintf(stdout, "through %d bots in one Fleet: each chat goes to the bot with the most room, and stays with it\n", len(d.accounts))
	}
	fmt.Fprintf(stdout, "sending %d messages with %d callers; %d of them an ordered chain into %s, past its 20/min limit\n", f.n, f.callers, floodChain, d.floodChat)
	pacingSceneLine(stdout)
	sceneDone := make(chan pacingScene, 1)
	go func() {
		sctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		sceneDone <- runPacingScene(sctx, key)
	}()
	rec := &recorder{p: newProgress(f.progress, stderr, f.n), lat: make([]time.Duration, 0, f.n)}
	start := time.Now()
	chainErr := d.sendAll(ctx, targets, f.callers, rec)
	elapsed := time.Since(start)
	rec.p.finish()
	scene := <-sceneDone
	d.summarize(ctx, stdout, summary{
		n: f.n, failed: int(rec.failed.Load()), elapsed: elapsed, lat: rec.lat,
		floodChat: d.floodChat, inOrder: d.chainInOrder(ctx), chainErr: chainErr, firstErr: rec.firstErr.Load(),
		pacing: &scene,
	})
	if n := rec.failed.Load(); n > 0 {
		return fmt.Errorf("%d of %d calls failed (first: %v)", n, f.n, rec.firstErr.Load())
	}
	if scene.err != nil || scene.failed > 0 {
		return fmt.Errorf("pacing scene: %d of %d calls failed (first: %v; %v)", scene.failed, scene.sent, scene.firstErr, scene.err)
	}
	return nil
}

// demoRun is the demo's world: the simulator, the actor system talking to
// it, the entity cache, and the peers it resolved.
type demoRun struct {
	srv    *tgsim.Server
	client *actors.Client // with --accounts, the first bot's
	// With --accounts (demoaccounts.go): the Fleet, its bots by name, the
	// pool that routes the bulk, and the bots' caches.
	fleet     *actors.Fleet
	accounts  map[string]*demoAccount
	pool      *accountpool.Pool
	caches    []*entitycache.Cache
	cache     *entitycache.Cache
	users     []string // "@username"
	groups    []string // basic groups by id, supergroups by "@username"
	floodChat string   // the group the ordered chain is driven into
	peers     map[string]tg.InputPeerClass
}

// startDemo starts tgsim (3 DCs on 127.0.0.1) and the actor system on it.
// Without realistic, the bulk is bound by CPU, not by the flood model;
// groups keep Telegram's 20 per minute so one chat can be driven past it.
// With accounts > 0, tgsim has that many bots and a Fleet runs them
// (startDemoFleet).
func startDemo(stdout io.Writer, realistic bool, accounts int, tel *telemetry.Telemetry, key *rsa.PrivateKey) (*demoRun, error) {
	flood := tgsim.FloodConfig{}
	if !realistic {
		flood = tgsim.FloodConfig{
			Messages:      tgsim.Rate{N: 1_000_000, Per: time.Second},
			PrivateChat:   tgsim.Rate{N: 1000, Per: time.Second},
			DefaultMethod: tgsim.Rate{N: 100_000, Per: time.Second},
		}
	}
	fmt.Fprintln(stdout, "starting tgsim (3 DCs on 127.0.0.1) and the actor system…")
	srv, err := tgsim.Start(demoSim(tgsim.Config{Flood: flood, Key: key}, accounts))
	if err != nil {
		return nil, err
	}
	if accounts > 0 {
		d := &demoRun{srv: srv}
		if err := startDemoFleet(d, accounts, tel); err != nil {
			d.close()
			return nil, err
		}
		return d, nil
	}
	dcs := srv.DCAddrs()
	client, err := actors.Start(context.Background(), actors.Config{
		DCs: dcs, PublicKeys: []exchange.PublicKey{srv.PublicKey()}, Store: actors.NewMemoryStore(),
		// Start on DC 1: the bot lives on DC 2, so the first calls meet
		// USER_MIGRATE_2 as a real client does.
		Scheduler: scheduler.Config{HomeDC: 1},
		Telemetry: tel,
	})
	if err != nil {
		srv.Close()
		return nil, err
	}
	// Attached before the first call, so it learns from every result.
	cache, err := entitycache.Open(entitycache.Config{})
	if err == nil {
		if err = cache.Attach(client); err != nil {
			cache.Close()
		}
	}
	if err != nil {
		closeClient(client, 10*time.Second)
		srv.Close()
		return nil, err
	}
	return &demoRun{srv: srv, client: client, cache: cache}, nil
}

func (d *demoRun) close() {
	if d.fleet != nil {
		d.closeFleet()
		d.srv.Close()
		return
	}
	d.cache.Close()
	closeClient(d.client, 10*time.Second)
	d.srv.Close()
}

// resolvePeers turns every user and group of the simulator's world into an
// input peer through the entity cache, by shorthand ("@name", -id), 64 at
// a time. The last group is kept for the flood-gate scene.
func (d *demoRun) resolvePeers(ctx context.Context, stdout io.Writer) error {
	for _, u := range d.srv.Users() {
		d.users = append(d.users, "@"+u.Username)
	}
	for _, ch := range d.srv.Chats() {
		switch ch.Kind {
		case "group":
			d.groups = append(d.groups, fmt.Sprint(-ch.ID))
		case "supergroup":
			d.groups = append(d.groups, "@"+ch.Username)
		}
	}
	d.floodChat, d.groups = d.groups[len(d.groups)-1], d.groups[:len(d.groups)-1]
	resolveStart := time.Now()
	names := make([]string, 0, len(d.users)+len(d.groups)+1)
	names = append(append(append(names, d.users...), d.groups...), d.floodChat)
	d.peers = make(map[string]tg.InputPeerClass, len(names))
	var pmu sync.Mutex
	var rerr error
	parallel(64, len(names), func(i int) {
		p, err := d.cache.InputPeer(ctx, names[i])
		pmu.Lock()
		defer pmu.Unlock()
		if err != nil && rerr == nil {
			rerr = err
		}
		d.peers[names[i]] = p
	})
	if rerr != nil {
		return fmt.Errorf("resolve peers: %w", rerr)
	}
	fmt.Fprintf(stdout, "resolved %d peers (users, groups, supergroups) through the entity cache in %v\n", len(names), time.Since(resolveStart).Round(time.Millisecond))
	return nil
}

// plan picks the bulk's targets: up to 15 messages per group (under its
// 20 per minute), the rest to users, shuffled with a fixed seed.
func (d *demoRun) plan(bulk int) []string {
	targets := make([]string, 0, bulk)
	perGroup := min(15, bulk/20/max(len(d.groups), 1))
	for _, g := range d.groups {
		for range perGroup {
			targets = append(targets, g)
		}
	}
	for i := 0; len(targets) < bulk; i++ {
		targets = append(targets, d.users[i%len(d.users)])
	}
	rand := newShuffler()
	rand.shuffle(targets)
	return targets
}

// recorder collects every call's latency and outcome, and feeds the
// progress display. Safe for concurrent use.
type recorder struct {
	p        progress
	mu       sync.Mutex
	lat      []time.Duration
	failed   atomic.Int64
	firstErr atomic.Value
}

func (r *recorder) record(d time.Duration, err error) {
	if err != nil {
		r.failed.Add(1)
		r.firstErr.CompareAndSwap(nil, err.Error())
	}
	r.mu.Lock()
	r.lat = append(r.lat, d)
	r.mu.Unlock()
	r.p.add(err == nil)
}

// sendAll sends one messages.sendMessage per target from callers
// goroutines, and starts the flood-gate scene a quarter of the way in; it
// returns when everything has an outcome, with the chain's error.
func (d *demoRun) sendAll(ctx context.Context, targets []string, callers int, rec *recorder) error {
	bulk := len(targets)
	work := make(chan int)
	var wg sync.WaitGroup
	for range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				t0 := time.Now()
				var err error
				if d.pool != nil {
					err = d.sendPooled(ctx, i, targets[i])
				} else {
					var res tg.UpdatesBox
					err = d.client.Invoke(ctx, &tg.MessagesSendMessageRequest{
						Peer: d.peers[targets[i]], Message: fmt.Sprintf("demo message %d", i), RandomID: int64(i + 1),
					}, &res)
				}
				rec.record(time.Since(t0), err)
			}
		}()
	}
	feed := func(from, to int) {
		for i := from; i < to; i++ {
			work <- i
		}
	}
	feed(0, bulk/4)
	chainDone := d.floodScene(ctx, bulk, rec)
	feed(bulk/4, bulk)
	close(work)
	wg.Wait()
	return <-chainDone
}

// floodScene sends floodChain ordered messages into the flood chat as one
// InvokeAll: past its 20 per minute, so the flood gate closes and reopens
// and the chain must still arrive whole and in order. Their random_ids
// follow the bulk's.
func (d *demoRun) floodScene(ctx context.Context, bulk int, rec *recorder) <-chan error {
	chainDone := make(chan error, 1)
	go func() {
		reqs := make([]bin.Encoder, floodChain)
		for i := range reqs {
			reqs[i] = &tg.MessagesSendMessageRequest{Peer: d.peers[d.floodChat], Message: fmt.Sprintf("ordered %d", i+1), RandomID: int64(bulk + i + 1)}
		}
		t0 := time.Now()
		res, err := d.client.InvokeAll(ctx, reqs, actors.Ordered())
		for _, r := range res {
			rec.record(time.Since(t0), r.Err)
		}
		chainDone <- err
	}()
	return chainDone
}

// chainInOrder reads the flood chat's history: did the chain arrive whole,
// once each, in order?
func (d *demoRun) chainInOrder(ctx context.Context) string {
	hist, err := d.client.Call(ctx, &tg.MessagesGetHistoryRequest{Peer: d.peers[d.floodChat], Limit: 100})
	if err != nil {
		return "no"
	}
	var texts []string
	for _, m := range historyMessages(hist) {
		if msg, ok := m.(*tg.Message); ok && strings.HasPrefix(msg.Message, "ordered ") {
			texts = append(texts, msg.Message)
		}
	}
	slices.Reverse(texts)
	want := make([]string, floodChain)
	for i := range want {
		want[i] = fmt.Sprintf("ordered %d", i+1)
	}
	if slices.Equal(texts, want) {
		return fmt.Sprintf("yes, %d of %d, each once", len(texts), floodChain)
	}
	return fmt.Sprintf("NO: %d messages %v", len(texts), texts)
}

// summarize adds what the scheduler, the simulator and the cache counted
// to s and prints it.
func (d *demoRun) summarize(ctx context.Context, stdout io.Writer, s summary) {
	s.st, _ = d.client.Stats(ctx)
	if d.fleet != nil {
		s.st = d.fleetStats(ctx)
	}
	s.sv = d.srv.Counters()
	s.cache = d.cache.Stats()
	for _, c := range d.caches[min(1, len(d.caches)):] { // the other bots'
		st := c.Stats()
		s.cache.NetworkCalls += st.NetworkCalls
		s.cache.Hits += st.Hits
	}
	printSummary(stdout, s)
	if d.pool != nil {
		d.printDemoAccounts(stdout)
	}
}

func historyMessages(v any) []tg.MessageClass {
	switch h := v.(type) {
	case *tg.MessagesMessages:
		return h.Messages
	case *tg.MessagesMessagesSlice:
		return h.Messages
	case *tg.MessagesChannelMessages:
		return h.Messages
	}
	return nil
}

// parallel runs f(0..n-1) on k goroutines.
func parallel(k, n int, f func(int)) {
	var wg sync.WaitGroup
	next := atomic.Int64{}
	for range k {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				f(i)
			}
		}()
	}
	wg.Wait()
}
