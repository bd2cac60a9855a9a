package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/gotd/td/bin"
	"github.com/gotd/td/exchange"
	"github.com/gotd/td/tg"

	"github.com/tlsched/tlsched/actors"
	"github.com/tlsched/tlsched/entitycache"
	"github.com/tlsched/tlsched/scheduler"
	"github.com/tlsched/tlsched/tgsim"
)

// floodChain is how many ordered messages the demo drives into one group,
// past Telegram's 20 per minute.
const floodChain = 21

func demo(args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := newFlags("demo", stderr)
	n := fs.Int("n", 20000, "messages to send")
	callers := fs.Int("callers", 500, "concurrent callers")
	realistic := fs.Bool("realistic", false, "Telegram's published bot limits for every chat (30 messages/s: 20,000 take 11 minutes)")
	prog := fs.String("progress", "auto", "progress display: auto, plain or none")
	var tf traceFlags
	tf.register(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	tel, err := tf.setup(context.Background(), stdout, stderr)
	if err != nil {
		return err
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = tel.Shutdown(ctx)
	}()
	if *n < floodChain || *callers < 1 {
		return usagef("-n must be at least %d and -callers at least 1", floodChain)
	}
	flood := tgsim.FloodConfig{}
	if !*realistic {
		// The bulk is bound by CPU, not by the flood model; groups keep
		// Telegram's 20 per minute so one chat can be driven past it.
		flood = tgsim.FloodConfig{
			Messages:      tgsim.Rate{N: 1_000_000, Per: time.Second},
			PrivateChat:   tgsim.Rate{N: 1000, Per: time.Second},
			DefaultMethod: tgsim.Rate{N: 100_000, Per: time.Second},
		}
	}
	fmt.Fprintln(stdout, "starting tgsim (3 DCs on 127.0.0.1) and the actor system…")
	srv, err := tgsim.Start(tgsim.Config{Flood: flood})
	if err != nil {
		return err
	}
	defer srv.Close()
	dcs := map[int]string{}
	for _, d := range srv.DCs() {
		dcs[d.ID] = d.Addr
	}
	var cacheRef atomic.Pointer[entitycache.Cache]
	client, err := actors.Start(context.Background(), actors.Config{
		DCs: dcs, PublicKeys: []exchange.PublicKey{srv.PublicKey()}, Store: actors.NewMemoryStore(),
		// Start on DC 1: the bot lives on DC 2, so the first calls meet
		// USER_MIGRATE_2 as a real client does.
		Scheduler: scheduler.Config{HomeDC: 1},
		OnResult:  learnInto(&cacheRef),
		Telemetry: tel,
	})
	if err != nil {
		return err
	}
	defer closeClient(client, 10*time.Second)
	cache, err := entitycache.Open(entitycache.Config{Invoker: client})
	if err != nil {
		return err
	}
	defer cache.Close()
	cacheRef.Store(cache)
	ctx, root := tel.TracerProvider().Tracer("tlworker").Start(context.Background(), "tlworker demo")
	defer func() {
		root.End()
		if sc := root.SpanContext(); sc.IsSampled() {
			fmt.Fprintf(stdout, "trace id %s\n", sc.TraceID())
		}
	}()

	// Peers by shorthand, through the entity cache.
	users := srv.Users()
	var groups []string
	for _, ch := range srv.Chats() {
		switch ch.Kind {
		case "group":
			groups = append(groups, fmt.Sprint(-ch.ID))
		case "supergroup":
			groups = append(groups, "@"+ch.Username)
		}
	}
	floodChat, groups := groups[len(groups)-1], groups[:len(groups)-1]
	resolveStart := time.Now()
	names := make([]string, 0, len(users)+len(groups)+1)
	for _, u := range users {
		names = append(names, "@"+u.Username)
	}
	names = append(append(names, groups...), floodChat)
	peers := make(map[string]tg.InputPeerClass, len(names))
	var pmu sync.Mutex
	var rerr error
	parallel(64, len(names), func(i int) {
		p, err := cache.InputPeer(ctx, names[i])
		pmu.Lock()
		defer pmu.Unlock()
		if err != nil && rerr == nil {
			rerr = err
		}
		peers[names[i]] = p
	})
	if rerr != nil {
		return fmt.Errorf("resolve peers: %w", rerr)
	}
	fmt.Fprintf(stdout, "resolved %d peers (users, groups, supergroups) through the entity cache in %v\n", len(names), time.Since(resolveStart).Round(time.Millisecond))

	// The bulk: most messages to users, up to 15 per group (under its 20
	// per minute), the rest to users again.
	bulk := *n - floodChain
	targets := make([]string, 0, bulk)
	perGroup := min(15, bulk/20/max(len(groups), 1))
	for _, g := range groups {
		for range perGroup {
			targets = append(targets, g)
		}
	}
	for i := 0; len(targets) < bulk; i++ {
		targets = append(targets, "@"+users[i%len(users)].Username)
	}
	rand := newShuffler()
	rand.shuffle(targets)

	fmt.Fprintf(stdout, "sending %d messages with %d callers; %d of them an ordered chain into %s, past its 20/min limit\n", *n, *callers, floodChain, floodChat)
	p := newProgress(*prog, stderr, *n)
	lat := make([]time.Duration, 0, *n)
	var lmu sync.Mutex
	var failed atomic.Int64
	var firstErr atomic.Value
	record := func(d time.Duration, err error) {
		if err != nil {
			failed.Add(1)
			firstErr.CompareAndSwap(nil, err.Error())
		}
		lmu.Lock()
		lat = append(lat, d)
		lmu.Unlock()
		p.add(err == nil)
	}
	start := time.Now()
	work := make(chan int)
	var wg sync.WaitGroup
	for range *callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				t0 := time.Now()
				var res tg.UpdatesBox
				err := client.Invoke(ctx, &tg.MessagesSendMessageRequest{
					Peer: peers[targets[i]], Message: fmt.Sprintf("demo message %d", i), RandomID: int64(i + 1),
				}, &res)
				record(time.Since(t0), err)
			}
		}()
	}
	// The ordered chain starts a quarter of the way in.
	chainDone := make(chan error, 1)
	feed := func(from, to int) {
		for i := from; i < to; i++ {
			work <- i
		}
	}
	feed(0, bulk/4)
	go func() {
		reqs := make([]bin.Encoder, floodChain)
		for i := range reqs {
			reqs[i] = &tg.MessagesSendMessageRequest{Peer: peers[floodChat], Message: fmt.Sprintf("ordered %d", i+1), RandomID: int64(bulk + i + 1)}
		}
		t0 := time.Now()
		res, err := client.InvokeAll(ctx, reqs, actors.Ordered())
		for _, r := range res {
			record(time.Since(t0), r.Err)
		}
		chainDone <- err
	}()
	feed(bulk/4, bulk)
	close(work)
	wg.Wait()
	chainErr := <-chainDone
	elapsed := time.Since(start)
	p.finish()

	// Did the chain arrive whole and in order?
	hist, err := client.Call(ctx, &tg.MessagesGetHistoryRequest{Peer: peers[floodChat], Limit: 100})
	inOrder := "no"
	if err == nil {
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
			inOrder = fmt.Sprintf("yes, %d of %d, each once", len(texts), floodChain)
		} else {
			inOrder = fmt.Sprintf("NO: %d messages %v", len(texts), texts)
		}
	}
	st, _ := client.Stats(ctx)
	sv := srv.Counters()
	printSummary(stdout, summary{
		n: *n, failed: int(failed.Load()), elapsed: elapsed, lat: lat, st: st, sv: sv,
		floodChat: floodChat, inOrder: inOrder, chainErr: chainErr, firstErr: firstErr.Load(),
		cache: cache.Stats(),
	})
	if f := failed.Load(); f > 0 {
		return fmt.Errorf("%d of %d calls failed (first: %v)", f, *n, firstErr.Load())
	}
	return nil
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

type summary struct {
	n, failed int
	elapsed   time.Duration
	lat       []time.Duration
	st        scheduler.Stats
	sv        tgsim.Counters
	floodChat string
	inOrder   string
	chainErr  error
	firstErr  any
	cache     entitycache.Stats
}

func printSummary(w io.Writer, s summary) {
	sort.Slice(s.lat, func(i, j int) bool { return s.lat[i] < s.lat[j] })
	pct := func(p float64) string {
		if len(s.lat) == 0 {
			return "-"
		}
		return s.lat[min(len(s.lat)-1, int(p*float64(len(s.lat))))].Round(10 * time.Microsecond).String()
	}
	perContainer := 0.0
	if s.st.Batches > 0 {
		perContainer = float64(s.st.Sent) / float64(s.st.Batches)
	}
	honoured := "yes: the server saw no call inside a wait it had announced"
	if s.sv.IgnoredWaits > 0 {
		honoured = fmt.Sprintf("NO: %d calls came inside an announced wait", s.sv.IgnoredWaits)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "\nsummary\t")
	row := func(k string, v ...any) { fmt.Fprintf(tw, "  %s\t%s\n", k, fmt.Sprint(v...)) }
	row("calls", s.n)
	row("ok / failed", fmt.Sprintf("%d / %d", s.n-s.failed, s.failed))
	row("time", s.elapsed.Round(time.Millisecond))
	row("calls/s", fmt.Sprintf("%.0f", float64(s.n)/s.elapsed.Seconds()))
	row("latency p50 / p95 / p99", pct(0.50), " / ", pct(0.95), " / ", pct(0.99))
	row("containers sent", s.st.Batches)
	row("calls per container (mean)", fmt.Sprintf("%.1f", perContainer))
	row("flood waits met", fmt.Sprintf("%d (gate closed %d times)", s.st.FloodWaits, s.st.GateClosures))
	row("flood waits honoured", honoured)
	row("ordered chain into "+s.floodChat, s.inOrder)
	row("resends", fmt.Sprintf("%d sends for %d calls: migrations %d, chain repairs %d, retries after backoff %d",
		s.st.Sent, s.st.Submitted, s.st.Migrations, s.st.ChainRepairs, s.st.Backoffs))
	row("entity cache", fmt.Sprintf("%d network resolves, %d hits", s.cache.NetworkCalls, s.cache.Hits))
	fmt.Fprintln(tw, "tgsim saw\t")
	row("frames in / out", fmt.Sprintf("%d / %d", s.sv.FramesIn, s.sv.FramesOut))
	row("containers in / out", fmt.Sprintf("%d / %d", s.sv.ContainersIn, s.sv.ContainersOut))
	row("messages.sendMessage calls", s.sv.Calls["messages.sendMessage"])
	row("messages stored", s.sv.MessagesStored)
	row("FLOOD_WAIT issued", fmt.Sprintf("%d (%d s in all)", s.sv.FloodWaits["messages.sendMessage"], s.sv.FloodSeconds))
	row("MSG_WAIT_FAILED issued", s.sv.Errors["MSG_WAIT_FAILED"])
	row("USER_MIGRATE issued", s.sv.Migrations)
	row("duplicates suppressed", s.sv.Duplicates)
	row("invokeAfterMsg waits", s.sv.OrderingWaits)
	tw.Flush()
	if s.chainErr != nil {
		fmt.Fprintf(w, "ordered chain: %v\n", s.chainErr)
	}
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
