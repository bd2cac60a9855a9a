package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"syscall"
	"time"

	"github.com/tlsched/tlsched/actors"
	"github.com/tlsched/tlsched/cmd/tlworker/internal/cli"
	"github.com/tlsched/tlsched/cmd/tlworker/internal/jobs"
	"github.com/tlsched/tlsched/entitycache"
	"github.com/tlsched/tlsched/tl"
)

// sendFlags are tlworker send's flags.
type sendFlags struct {
	conn           connFlags
	trace          traceFlags
	jobs, out      string
	window         time.Duration
	maxContainer   int
	floodThreshold time.Duration
	rate           float64
	progress       string
	resume         bool
	retryNotSent   bool
	outageTimeout  time.Duration
	pingAfter      time.Duration
	deadAfter      time.Duration
	redialMax      time.Duration
	drain          time.Duration
	cpuprofile     string
	longAsNumber   bool
	concurrency    int
	pacing         optBool
	accounts       string
	cluster        clusterFlags
}

// send is "tlworker send": its flags become an actors.Config and a
// jobs.Config, and the jobs engine (internal/jobs) runs the file.
// sendGCPercent is the garbage collector's target during tlworker send
// (GOGC=400): the heap may grow to five times what is live, a few tens of
// MiB for 2,000 jobs in flight.
const sendGCPercent = 400

func send(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	var f sendFlags
	rest, err := f.parse(args, stderr)
	if err != nil {
		return err
	}
	if f.cpuprofile != "" {
		stop, err := startCPUProfile(f.cpuprofile)
		if err != nil {
			return err
		}
		defer stop()
	}
	if err := f.check(rest); err != nil {
		return err
	}
	if os.Getenv("GOGC") == "" {
		// A run is one batch: collect less often. Every job allocates its
		// request, result and line; at Go's default (100) the collector
		// took about 15% of the CPU of a 200,000-job run. GOGC still rules
		// when it is set.
		defer debug.SetGCPercent(debug.SetGCPercent(sendGCPercent))
	}
	var accounts []accountLine
	if f.accounts != "" {
		if accounts, err = parseAccounts(f.accounts); err != nil {
			return err
		}
	}
	cfg, err := f.clientConfig()
	if err != nil {
		return err
	}
	files, err := f.open(stdin, stdout)
	if err != nil {
		return err
	}
	defer files.close()
	tel, err := f.trace.setup(context.Background(), stderr, stderr)
	if err != nil {
		return err
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = tel.Shutdown(ctx)
	}()
	cfg.Telemetry = tel
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if f.cluster.name != "" {
		return f.sendCluster(ctx, cfg, accounts, files, stderr)
	}
	if accounts != nil {
		return f.sendAccounts(ctx, cfg, accounts, files, tel, stderr)
	}
	client, cache, err := connect(ctx, cfg, f.conn)
	if err != nil {
		return err
	}
	defer cache.Close()

	// The pacer's report feeds the progress line (with --pacing) and the
	// summary; the last one is taken before the client closes.
	watch := watchPacing(client, chatNames(cache))
	var extra func(compact bool) string
	if f.pacingOn() {
		extra = watch.line
	}
	prog := newProgressWith(f.progress, stderr, files.total-len(files.done), extra)
	defer prog.finish()
	err = jobs.Run(ctx, jobs.Config{
		Sender: jobs.Actors(client), Peers: cache, Jobs: files.jobs, Results: files.out, Done: files.done,
		Rate: f.rate, Concurrency: f.concurrency, DrainTimeout: f.drain,
		Close: func() {
			watch.final()
			closeClient(client, 5*time.Second)
		},
		OnResult: prog.add,
		JSON:     tl.EncodeOptions{LongAsNumber: f.longAsNumber},
		Expect:   files.total,
	})
	prog.finish()
	if r, ok := watch.report(); ok && f.progress != "none" {
		printPacingSummary(stderr, r, chatNames(cache))
	}
	return err
}

// parse reads the flags; it returns the arguments left over.
func (f *sendFlags) parse(args []string, stderr io.Writer) ([]string, error) {
	fs := cli.NewFlags("send", stderr)
	f.conn.register(fs)
	f.trace.register(fs)
	fs.StringVar(&f.jobs, "jobs", "", "JSON-lines jobs file, or - for stdin (required)")
	fs.StringVar(&f.out, "out", "", "results file (JSON lines, completion order), or - for stdout (required)")
	fs.DurationVar(&f.window, "window", 0, "coalescing window per DC (default the scheduler's, 1ms)")
	fs.IntVar(&f.maxContainer, "max-container", 0, "most calls per container (default 1000)")
	fs.DurationVar(&f.floodThreshold, "flood-threshold", 0, "longest FLOOD_WAIT waited out; longer ones fail the job (default 60s)")
	fs.Float64Var(&f.rate, "rate", 0, "at most this many jobs per second (0: no cap)")
	fs.StringVar(&f.progress, "progress", "auto", "progress display: auto, plain or none")
	fs.BoolVar(&f.resume, "resume", false, "skip jobs that have a result line in --out, and append to it")
	fs.BoolVar(&f.retryNotSent, "retry-not-sent", false, `with --resume: run again the jobs whose result line says "kind":"not_sent" (never the "may_have_run" ones)`)
	fs.DurationVar(&f.outageTimeout, "outage-timeout", 0, "how long jobs wait for a DC that cannot be reached before they fail (default 3m)")
	fs.DurationVar(&f.pingAfter, "ping-after", 0, "with an answer awaited, ping a DC that has sent nothing for this long (default 4s)")
	fs.DurationVar(&f.deadAfter, "dead-after", 0, "with an answer awaited, drop a connection that has sent nothing for this long and reconnect (default 12s)")
	fs.DurationVar(&f.redialMax, "redial-max", 0, "longest wait between attempts to reconnect to a DC after failures in a row (default 10s)")
	fs.DurationVar(&f.drain, "drain-timeout", 30*time.Second, "on SIGINT/SIGTERM, how long to wait for calls in flight")
	fs.StringVar(&f.cpuprofile, "cpuprofile", "", "write a CPU profile of the run to this file")
	fs.IntVar(&f.concurrency, "concurrency", 2000, "jobs in flight at once")
	fs.Var(&f.pacing, "pacing", "pace writes to chats below Telegram's flood limits (30/s per account, 1/s per private chat, 20/min per group), learning each chat's from its flood waits and keeping them with the session (default: on against Telegram, off with --dc; --pacing=false turns it off)")
	fs.StringVar(&f.accounts, "accounts", "", accountsUsage)
	f.cluster.register(fs, false)
	fs.BoolVar(&f.longAsNumber, "long-as-number", false, `write 64-bit integers in results as JSON numbers, not strings ("access_hash":"-807…"); only for readers that keep them exact (not JavaScript)`)
	if err := cli.ParseFlags(fs, args); err != nil {
		return nil, err
	}
	return fs.Args(), nil
}

// check rejects flags that do not go together: usage errors.
func (f *sendFlags) check(rest []string) error {
	switch {
	case len(rest) > 0:
		return cli.Usagef("unexpected arguments %q", rest)
	case f.jobs == "" || f.out == "":
		return cli.Usagef("--jobs and --out are required")
	case f.resume && f.out == "-":
		return cli.Usagef("--resume needs --out to be a file")
	case f.retryNotSent && !f.resume:
		return cli.Usagef("--retry-not-sent goes with --resume")
	case f.outageTimeout < 0 || f.pingAfter < 0 || f.deadAfter < 0 || f.redialMax < 0:
		return cli.Usagef("--outage-timeout, --ping-after, --dead-after and --redial-max cannot be negative")
	case f.progress != "auto" && f.progress != "plain" && f.progress != "none":
		return cli.Usagef("--progress is auto, plain or none, not %q", f.progress)
	case f.rate < 0 || f.maxContainer < 0:
		return cli.Usagef("--rate and --max-container cannot be negative")
	case f.concurrency < 1:
		return cli.Usagef("--concurrency must be at least 1")
	case f.cluster.name != "" && f.accounts == "":
		return cli.Usagef("--cluster needs --accounts: the bot tokens of the accounts to send with")
	case f.cluster.name != "":
		return f.cluster.check()
	}
	return nil
}

// clientConfig is the actor system's configuration: the server and
// account (connFlags), and the scheduler's knobs. The client blocks
// submitters when 100,000 calls are queued rather than failing them.
func (f *sendFlags) clientConfig() (actors.Config, error) {
	conn := f.conn
	if f.accounts != "" {
		// --session is then the Fleet's store, not an account.
		conn.session, conn.fleet = "", true
	}
	cfg, err := conn.clientConfig(true)
	if err != nil {
		return cfg, err
	}
	if f.accounts != "" && len(conn.dcs.order) > 0 && cfg.APIID == 0 {
		// Bot tokens log in, which needs an api id: a test server takes
		// any (as tlworker login does).
		cfg.APIID, cfg.APIHash = 1, "test"
	}
	cfg.Scheduler.Window = f.window
	cfg.Scheduler.MaxMessages = f.maxContainer
	cfg.Scheduler.FloodThreshold = f.floodThreshold
	cfg.OutageTimeout = f.outageTimeout
	cfg.Session.BusyPingAfter = f.pingAfter
	cfg.Session.DeadAfter = f.deadAfter
	cfg.RedialBackoffMax = f.redialMax
	cfg.Scheduler.MaxQueued = 100_000
	cfg.Scheduler.Pacing.On = f.pacingOn()
	cfg.BlockWhenFull = true
	return cfg, nil
}

// pacingOn reports whether writes are paced: as --pacing says, else
// against Telegram (whose limits the pacer starts from) and not against
// a server given with --dc (a test server's limits are its own).
func (f *sendFlags) pacingOn() bool {
	if f.pacing.set {
		return f.pacing.on
	}
	return len(f.conn.dcs.order) == 0
}

// optBool is a boolean flag that knows whether it was given.
type optBool struct{ set, on bool }

func (b *optBool) String() string {
	if b == nil || !b.on {
		return "false"
	}
	return "true"
}

func (b *optBool) Set(s string) error {
	v, err := strconv.ParseBool(s)
	if err != nil {
		return err
	}
	b.set, b.on = true, v
	return nil
}

// IsBoolFlag lets "--pacing" stand for "--pacing=true".
func (b *optBool) IsBoolFlag() bool { return true }

// sendFiles are the jobs input and the results output of a run.
type sendFiles struct {
	jobs  io.Reader
	total int             // jobs lines in the file, -1 for stdin
	done  map[string]bool // --resume: what the results file already has
	// accounts is, with --resume, the account each line of the results
	// file names (jobs.Earlier.Accounts).
	accounts map[string]string
	out      io.Writer
	close    func()
}

// open opens --jobs and --out; with --resume it reads --out first (and
// cuts a torn last line off it), then appends to it.
func (f *sendFlags) open(stdin io.Reader, stdout io.Writer) (sendFiles, error) {
	s := sendFiles{jobs: stdin, total: -1, done: map[string]bool{}, out: stdout}
	var closers []io.Closer
	s.close = func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i].Close()
		}
	}
	if f.jobs != "-" {
		jf, err := os.Open(f.jobs)
		if err != nil {
			return s, cli.Usagef("--jobs: %v", err)
		}
		closers = append(closers, jf)
		s.jobs = jf
		s.total = countLines(f.jobs)
	}
	if f.resume {
		e, err := jobs.PreviousRun(f.out, f.retryNotSent)
		if err != nil {
			s.close()
			return s, fmt.Errorf("--resume: %w", err)
		}
		s.done, s.accounts = e.Done, e.Accounts
	}
	if f.out != "-" {
		mode := os.O_CREATE | os.O_WRONLY | os.O_TRUNC
		if f.resume {
			mode = os.O_CREATE | os.O_WRONLY | os.O_APPEND
		}
		of, err := os.OpenFile(f.out, mode, 0o644)
		if err != nil {
			s.close()
			return s, cli.Usagef("--out: %v", err)
		}
		closers = append(closers, of)
		s.out = of
	}
	return s, nil
}

// connect starts the actor system, opens the entity cache that goes with
// the session, and checks the server answers; on error nothing is left
// open.
func connect(ctx context.Context, cfg actors.Config, conn connFlags) (*actors.Client, *entitycache.Cache, error) {
	client, err := actors.Start(context.Background(), cfg)
	if err != nil {
		return nil, nil, err
	}
	ec, err := openCache(conn.session, cfg.DCs, cfg.Telemetry, client)
	if err != nil {
		closeClient(client, time.Second)
		return nil, nil, err
	}
	if err := probe(ctx, client, conn.timeout); err != nil {
		closeClient(client, time.Second)
		ec.Close()
		return nil, nil, err
	}
	return client, ec, nil
}

// startCPUProfile profiles the process until the returned func is called.
func startCPUProfile(path string) (func(), error) {
	pf, err := os.Create(path)
	if err != nil {
		return nil, cli.Usagef("--cpuprofile: %v", err)
	}
	if err := pprof.StartCPUProfile(pf); err != nil {
		pf.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); pf.Close() }, nil
}

func closeClient(c *actors.Client, d time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	_ = c.Close(ctx)
}

func countLines(path string) int {
	f, err := os.Open(path)
	if err != nil {
		return -1
	}
	defer f.Close()
	n := 0
	s := bufio.NewScanner(f)
	s.Buffer(make([]byte, 1<<20), 16<<20)
	for s.Scan() {
		if len(s.Bytes()) > 0 {
			n++
		}
	}
	return n
}
