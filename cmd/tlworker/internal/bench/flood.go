package bench

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"io"
	"math"
	mrand "math/rand/v2"
	"os"
	"sort"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/tlsched/tlsched/cmd/tlworker/internal/cli"
	"github.com/tlsched/tlsched/scheduler"
	"github.com/tlsched/tlsched/tgsim"
)

// "tlworker bench --flood" (issue 17): a broadcast of messages.sendMessage
// calls to private chats and groups, skewed as real broadcasts are, through
// tlsched with pacing, tlsched reactive only and gotd's client with
// contrib's floodwait (alone, and behind contrib's ratelimit), each against
// a fresh tgsim with the same hidden limits (Seed, Vary 0.3, Escalation 2).
// The clients are in floodclients.go, the plot in floodplot.go.

type floodFlags struct {
	n, private, groups, rounds int
	zipf, scale                float64
	vary, escalation           float64
	privateBurst               int
	seed                       int64
	latency, timeout           time.Duration
	readme, plot, clients      string
}

// Published limits (core.telegram.org/bots/faq), which tgsim varies per
// chat and the pacer starts from; both are scaled by --scale.
const (
	publishedAccountN     = 30  // per second, the account
	publishedPrivateN     = 1   // per second, one private chat
	publishedGroupN       = 20  // per minute, one group
	publishedPrivateBurst = 1   // the pacer's assumed burst in one private chat ("one a second")
	publishedGroupBurst   = 3   // and in one group
	floodLateFraction     = 0.1 // waits after this share of a run are "late"
)

// floodClients are the clients measured, in the order they run in a round.
var floodClients = []string{"tlsched paced", "tlsched paced, learned limits", "tlsched paced, told the hidden limits", "tlsched reactive", "gotd + floodwait", "gotd + ratelimit 30/s + floodwait"}

// RunFlood is "tlworker bench --flood ARGS" (see Run).
func RunFlood(args []string, stdout, stderr io.Writer) error {
	var f floodFlags
	fs := cli.NewFlags("bench --flood", stderr)
	fs.IntVar(&f.n, "n", 500, "messages per run")
	fs.IntVar(&f.private, "private", 100, "private chats (tgsim users)")
	fs.IntVar(&f.groups, "groups", 20, "groups (tgsim basic groups)")
	fs.IntVar(&f.rounds, "rounds", 2, "rounds (each client once per round); figures are medians")
	fs.Float64Var(&f.zipf, "zipf", 0.5, "skew: the chat of rank k gets a share of messages proportional to 1/k^zipf")
	fs.Float64Var(&f.scale, "scale", 1, "run Telegram's time this many times faster: tgsim's flood clock, the clients' and every figure reported (seconds of Telegram time)")
	fs.Float64Var(&f.vary, "vary", 0.3, "tgsim: each chat's limit varies by up to ± this share around the published one")
	fs.Float64Var(&f.escalation, "escalation", 2, "tgsim: each further violation of a budget within 10 min waits this many times longer (1: off)")
	fs.IntVar(&f.privateBurst, "private-burst", 1, "tgsim: the burst a private chat allows, at the same 1/s (tgsim's default 1)")
	fs.Int64Var(&f.seed, "seed", 17, "tgsim's flood seed (the hidden per-chat limits) and the workload's")
	fs.DurationVar(&f.latency, "latency", 30*time.Millisecond, "tgsim's latency per call (plus up to half of it as jitter)")
	fs.DurationVar(&f.timeout, "timeout", 120*time.Second, "give up on a run after this long")
	fs.StringVar(&f.readme, "readme", "", "replace the table between <!-- bench-flood:start --> and <!-- bench-flood:end --> in this file")
	fs.StringVar(&f.clients, "clients", "", "run only these clients, comma-separated: paced, learned (runs paced first), told, reactive, gotd, gotd-ratelimit (default all)")
	fs.StringVar(&f.plot, "plot", "", "draw each client's send rate (first round) against the limits as SVG to this file")
	if err := cli.ParseFlags(fs, args); err != nil {
		return err
	}
	if f.n < 1 || f.private < 1 || f.groups < 0 || f.rounds < 1 || f.scale <= 0 || f.zipf < 0 || f.vary < 0 || f.vary >= 1 || f.privateBurst < 1 {
		return cli.Usagef("-n, -private, -rounds and -private-burst must be at least 1, -groups at least 0, -scale above 0, -zipf at least 0, -vary in [0, 1)")
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return err
	}
	w := newFloodWorkload(f)
	rep := floodReport{
		Date: time.Now().UTC().Format("2006-01-02"), Machine: machine(), Flags: f, Workload: w,
		Command: "go run -tags bench ./cmd/tlworker bench --flood " + strings.Join(args, " "),
	}
	clients, err := pickFloodClients(f.clients)
	if err != nil {
		return err
	}
	runs := map[string][]floodRun{}
	for r := range f.rounds {
		var learned map[string]float64
		for _, who := range clients {
			fmt.Fprintf(stderr, "flood: %s, round %d/%d\n", who, r+1, f.rounds)
			run, err := runFloodClient(who, f, key, w, learned)
			if err != nil {
				return fmt.Errorf("flood, %s: %w", who, err)
			}
			if who == floodClients[0] {
				learned = run.Learned
			}
			fmt.Fprintf(stderr, "  %s\n", run.summary())
			runs[who] = append(runs[who], run)
		}
	}
	for _, who := range clients {
		rep.Rows = append(rep.Rows, medianFlood(who, runs[who]))
		rep.First = append(rep.First, runs[who][0])
	}
	table := renderFlood(rep)
	fmt.Fprint(stdout, table)
	if f.readme != "" {
		if err := replaceNamedBlock(f.readme, "bench-flood", table); err != nil {
			return err
		}
	}
	if f.plot != "" {
		if err := os.WriteFile(f.plot, plotFlood(rep), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// pickFloodClients returns the clients --clients names, in floodClients'
// order (all when empty); "learned" brings "paced" along, whose store it
// starts from.
func pickFloodClients(list string) ([]string, error) {
	if list == "" {
		return floodClients, nil
	}
	short := map[string]int{"paced": 0, "learned": 1, "told": 2, "reactive": 3, "gotd": 4, "gotd-ratelimit": 5}
	want := map[int]bool{}
	for _, n := range strings.Split(list, ",") {
		i, ok := short[strings.TrimSpace(n)]
		if !ok {
			return nil, cli.Usagef("-clients: unknown client %q (want paced, learned, told, reactive, gotd, gotd-ratelimit)", n)
		}
		want[i] = true
		if i == 1 {
			want[0] = true
		}
	}
	var out []string
	for i, who := range floodClients {
		if want[i] {
			out = append(out, who)
		}
	}
	return out, nil
}

// floodWorkload is the broadcast: chat indexes 0..private-1 are users
// (user i+1 of tgsim's world), the rest groups; Order is the chat of each
// message in submission order.
type floodWorkload struct {
	Private, Groups int
	Counts          []int // messages per chat
	Order           []int
}

// newFloodWorkload spreads n messages over the chats by a Zipf law: the
// chat of rank k gets n/k^s of them (largest remainders rounded up). Ranks
// go to private chats, every (chats/groups)-th to a group, so a few
// private chats and a few groups get many messages, most chats few.
func newFloodWorkload(f floodFlags) floodWorkload {
	chats := f.private + f.groups
	rank := make([]int, 0, chats) // rank → chat
	nextPrivate, nextGroup := 0, f.private
	every := chats + 1
	if f.groups > 0 {
		every = max(2, chats/f.groups)
	}
	for r := range chats {
		if (r+1)%every == 0 && nextGroup < chats || nextPrivate == f.private {
			rank = append(rank, nextGroup)
			nextGroup++
		} else {
			rank = append(rank, nextPrivate)
			nextPrivate++
		}
	}
	weights := make([]float64, chats)
	var sum float64
	for r := range chats {
		weights[r] = 1 / math.Pow(float64(r+1), f.zipf)
		sum += weights[r]
	}
	w := floodWorkload{Private: f.private, Groups: f.groups, Counts: make([]int, chats)}
	type rem struct {
		r    int
		frac float64
	}
	var rems []rem
	given := 0
	for r := range chats {
		exact := float64(f.n) * weights[r] / sum
		w.Counts[rank[r]] = int(exact)
		given += int(exact)
		rems = append(rems, rem{r, exact - math.Floor(exact)})
	}
	sort.SliceStable(rems, func(i, j int) bool { return rems[i].frac > rems[j].frac })
	for i := 0; given < f.n; i++ {
		w.Counts[rank[rems[i%len(rems)].r]]++
		given++
	}
	for c, k := range w.Counts {
		for range k {
			w.Order = append(w.Order, c)
		}
	}
	rng := mrand.New(mrand.NewPCG(uint64(f.seed), 17))
	rng.Shuffle(len(w.Order), func(i, j int) { w.Order[i], w.Order[j] = w.Order[j], w.Order[i] })
	return w
}

// private reports whether chat c is a private chat.
func (w floodWorkload) private(c int) bool { return c < w.Private }

// floodServerConfig is tgsim with Telegram's published limits, varied per
// chat ±30% by Seed, escalating waits, its flood model on clk (Telegram
// time, --scale) and its latency --latency of Telegram time.
func floodServerConfig(f floodFlags, key *rsa.PrivateKey, onWait func(tgsim.FloodEvent), clk benchClock) tgsim.Config {
	lat := clk.real(f.latency)
	return tgsim.Config{
		Key: key, DCs: []int{2}, Latency: tgsim.Latency{Base: lat, Jitter: lat / 2},
		World: tgsim.WorldConfig{Users: max(f.private, 10), Groups: max(f.groups, 1)},
		Flood: tgsim.FloodConfig{
			Messages:    tgsim.Rate{N: publishedAccountN, Per: time.Second},
			PrivateChat: tgsim.Rate{N: f.privateBurst * publishedPrivateN, Per: time.Duration(f.privateBurst) * time.Second},
			Group:       tgsim.Rate{N: publishedGroupN, Per: time.Minute},
			Vary:        f.vary, Seed: f.seed, Escalation: f.escalation,
			Now:    clk.now,
			OnWait: onWait,
		},
	}
}

// floodPacing is the pacer started from the published limits.
func floodPacing() scheduler.PacingConfig {
	return scheduler.PacingConfig{
		On:      true,
		Account: scheduler.Rate{N: publishedAccountN, Per: time.Second, Burst: publishedAccountN},
		Private: scheduler.Rate{N: publishedPrivateN, Per: time.Second, Burst: publishedPrivateBurst},
		Group:   scheduler.Rate{N: publishedGroupN, Per: time.Minute, Burst: publishedGroupBurst},
	}
}

// floodLog collects the server's flood events of one run.
type floodLog struct {
	mu     sync.Mutex
	on     bool
	events []tgsim.FloodEvent
}

func (l *floodLog) add(e tgsim.FloodEvent) {
	l.mu.Lock()
	if l.on {
		l.events = append(l.events, e)
	}
	l.mu.Unlock()
}

func (l *floodLog) start() {
	l.mu.Lock()
	l.on, l.events = true, nil
	l.mu.Unlock()
}

func (l *floodLog) stop() []tgsim.FloodEvent {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.on = false
	return l.events
}

// floodRun is one client's run.
type floodRun struct {
	Client   string
	Sent     int // messages that succeeded (each exactly once: random_id)
	Failed   int
	FirstErr string // the first failure's error
	TimedOut bool
	Total    time.Duration // from submitting to the last answer
	Ideal    time.Duration // tgsim.IdealFinish
	Lat      []time.Duration
	Done     []time.Duration // each success, from the start
	Events   []tgsim.FloodEvent
	Start    time.Time
	// WaitSeconds is the sum of the waits announced (tgsim FloodSeconds).
	WaitSeconds int64
	// Stored counts the messages in tgsim's histories.
	Stored  int64
	Learned map[string]float64 // the pacer's limits at the end (paced runs)
}

func (r floodRun) goodput() float64 {
	if r.Total <= 0 {
		return 0
	}
	return 100 * r.Ideal.Seconds() / r.Total.Seconds()
}

// late counts the waits after the first floodLateFraction of the run.
func (r floodRun) late() int {
	n := 0
	cut := r.Start.Add(time.Duration(floodLateFraction * float64(r.Total)))
	for _, e := range r.Events {
		if e.At.After(cut) {
			n++
		}
	}
	return n
}

// byBudget counts the waits by the budget that imposed them, and the most
// waits one chat got.
func (r floodRun) byBudget() (counts map[string]int, chats, worstChat int) {
	counts = map[string]int{}
	per := map[int64]int{}
	for _, e := range r.Events {
		counts[e.Budget]++
		if e.Peer != 0 {
			per[e.Peer]++
		}
	}
	for _, n := range per {
		worstChat = max(worstChat, n)
	}
	return counts, len(per), worstChat
}

func (r floodRun) percentile(p float64) time.Duration {
	if len(r.Lat) == 0 {
		return 0
	}
	l := append([]time.Duration(nil), r.Lat...)
	sort.Slice(l, func(i, j int) bool { return l[i] < l[j] })
	return l[min(len(l)-1, int(p*float64(len(l))))]
}

func (r floodRun) summary() string {
	counts, chats, worst := r.byBudget()
	s := fmt.Sprintf("%d sent, %d failed, %.1f s (ideal %.1f s, goodput %.0f%%), %d flood waits (%d late; by budget %v; %d chats, at most %d in one), %d s imposed",
		r.Sent, r.Failed, r.Total.Seconds(), r.Ideal.Seconds(), r.goodput(), len(r.Events), r.late(), counts, chats, worst, r.WaitSeconds)
	if r.TimedOut {
		s += ", TIMED OUT"
	}
	if r.FirstErr != "" {
		s += "; first failure: " + r.FirstErr
	}
	if r.Learned != nil {
		s += fmt.Sprintf("; learned %s", fmtLimits(r.Learned))
	}
	return s
}

// fmtLimits prints learned limits in calls per second, sorted by key.
func fmtLimits(l map[string]float64) string {
	keys := make([]string, 0, len(l))
	for k := range l {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteString(" ")
		}
		fmt.Fprintf(&b, "%s=%.3g/s", k, l[k])
	}
	return b.String()
}

// floodRow is a client's medians over rounds.
type floodRow struct {
	Client                  string
	Goodput                 float64
	Waits, Late, WaitS      float64
	Chats, WorstChat        float64
	TotalS, IdealS          float64
	P50S, P99S              float64
	Sent, Failed, TimedOuts int
	Rounds                  int
}

func medianFlood(who string, runs []floodRun) floodRow {
	pick := func(get func(floodRun) float64) float64 {
		v := make([]float64, len(runs))
		for i, r := range runs {
			v[i] = get(r)
		}
		// The median; of an even count, the mean of the middle two (two
		// rounds are the default).
		sort.Float64s(v)
		if n := len(v); n%2 == 0 {
			return (v[n/2-1] + v[n/2]) / 2
		}
		return v[len(v)/2]
	}
	row := floodRow{Client: who, Rounds: len(runs),
		Goodput: pick(floodRun.goodput),
		Waits:   pick(func(r floodRun) float64 { return float64(len(r.Events)) }),
		Late:    pick(func(r floodRun) float64 { return float64(r.late()) }),
		WaitS:   pick(func(r floodRun) float64 { return float64(r.WaitSeconds) }),
		Chats:   pick(func(r floodRun) float64 { _, c, _ := r.byBudget(); return float64(c) }),
		WorstChat: pick(func(r floodRun) float64 {
			_, _, w := r.byBudget()
			return float64(w)
		}),
		TotalS: pick(func(r floodRun) float64 { return r.Total.Seconds() }),
		IdealS: pick(func(r floodRun) float64 { return r.Ideal.Seconds() }),
		P50S:   pick(func(r floodRun) float64 { return r.percentile(0.5).Seconds() }),
		P99S:   pick(func(r floodRun) float64 { return r.percentile(0.99).Seconds() }),
	}
	for _, r := range runs {
		row.Sent += r.Sent
		row.Failed += r.Failed
		if r.TimedOut {
			row.TimedOuts++
		}
	}
	return row
}

type floodReport struct {
	Date, Machine, Command string
	Flags                  floodFlags
	Workload               floodWorkload
	Rows                   []floodRow
	First                  []floodRun // each client's first round (the plot)
}

func renderFlood(rep floodReport) string {
	f, w := rep.Flags, rep.Workload
	var b bytes.Buffer
	top := 0
	for _, c := range w.Counts {
		top = max(top, c)
	}
	fmt.Fprintf(&b, "Measured %s on %s: %d messages.sendMessage calls submitted at once to %d private chats and %d groups (Zipf %.2g: the busiest chat gets %d), medians of %d rounds, clients alternating, a fresh tgsim each run with the same hidden limits: Telegram's published bot limits (30/s per account, 1/s per private chat in bursts of %d, 20/min per group in bursts of 20)%s, each chat's varied ±%.0f%% by seed %d, each further violation within 10 min waiting %g× longer. The pacer starts from the same published figures (bursts of %d in a private chat, %d in a group). %v latency per call.\n`%s`\n\n",
		rep.Date, rep.Machine, f.n, w.Private, w.Groups, f.zipf, top, f.rounds, f.privateBurst, scaleNote(f.scale), 100*f.vary, f.seed, f.escalation, publishedPrivateBurst, publishedGroupBurst, f.latency, rep.Command)
	tw := tabwriter.NewWriter(&b, 0, 0, 1, ' ', 0)
	fmt.Fprintln(tw, "| client\t| goodput\t| flood waits\t| after first 10%\t| chats flooded (most waits in one)\t| wait s imposed\t| total s\t| ideal s\t| p50 s\t| p99 s\t| sent / failed\t|")
	fmt.Fprintln(tw, "| ---\t| ---\t| ---\t| ---\t| ---\t| ---\t| ---\t| ---\t| ---\t| ---\t| ---\t|")
	incomplete := false
	for _, r := range rep.Rows {
		sent := fmt.Sprintf("%d / %d", r.Sent, r.Failed)
		if r.TimedOuts > 0 {
			sent += fmt.Sprintf(" (%d timed out)", r.TimedOuts)
		}
		mark := ""
		if r.Failed > 0 {
			mark, incomplete = " †", true
		}
		fmt.Fprintf(tw, "| %s\t| %.1f%%%s\t| %.0f\t| %.0f\t| %.0f (%.0f)\t| %.0f\t| %.1f\t| %.1f\t| %.1f\t| %.1f\t| %s\t|\n",
			r.Client, r.Goodput, mark, r.Waits, r.Late, r.Chats, r.WorstChat, r.WaitS, r.TotalS, r.IdealS, r.P50S, r.P99S, sent)
	}
	tw.Flush()
	if incomplete {
		b.WriteString("\n† Not every message was sent (the run timed out, or calls failed at once because their wait would outlast their flood budget): goodput and latencies count the messages sent only, and a run that timed out takes the whole timeout as its time.\n")
	}
	b.WriteString("\nGoodput is tgsim's ideal finishing time (the shortest its hidden limits allowed for the sends made, a lower bound) over the time taken; latency is from submitting all messages to each answer; sent / failed are summed over rounds. The learned-limits row is a second paced run per round, starting from the limits the first one kept in its store. The told-the-hidden-limits row starts the pacer from tgsim's own per-chat limits (at the pacer's headroom): what pacing could do if a client knew every limit in advance, the ceiling for the rows above it.\n")
	return b.String()
}

func scaleNote(scale float64) string {
	if scale == 1 {
		return ""
	}
	return fmt.Sprintf(" on a clock %g× faster than real time (every figure here in Telegram seconds; gotd's flood waiter keeps real time for its waits, so its rows wait %g× too long)", scale, scale)
}

// replaceNamedBlock puts text between <!-- name:start --> and
// <!-- name:end --> in a file.
func replaceNamedBlock(path, name, text string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	start, end := "<!-- "+name+":start -->", "<!-- "+name+":end -->"
	s := string(b)
	i, j := strings.Index(s, start), strings.Index(s, end)
	if i < 0 || j < i {
		return fmt.Errorf("%s has no %s … %s block", path, start, end)
	}
	s = s[:i+len(start)] + "\n" + text + s[j:]
	return os.WriteFile(path, []byte(s), 0o644)
}
