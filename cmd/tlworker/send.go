package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gotd/td/bin"
	"golang.org/x/time/rate"

	"github.com/tlsched/tlsched/actors"
	"github.com/tlsched/tlsched/entitycache"
	"github.com/tlsched/tlsched/tl"
)

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
	drain          time.Duration
	cpuprofile     string
	concurrency    int
}

func send(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	var f sendFlags
	fs := newFlags("send", stderr)
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
	fs.DurationVar(&f.drain, "drain-timeout", 30*time.Second, "on SIGINT/SIGTERM, how long to wait for calls in flight")
	fs.StringVar(&f.cpuprofile, "cpuprofile", "", "write a CPU profile of the run to this file")
	fs.IntVar(&f.concurrency, "concurrency", 2000, "jobs in flight at once")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if f.cpuprofile != "" {
		pf, err := os.Create(f.cpuprofile)
		if err != nil {
			return usagef("--cpuprofile: %v", err)
		}
		defer pf.Close()
		if err := pprof.StartCPUProfile(pf); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	switch {
	case fs.NArg() > 0:
		return usagef("unexpected arguments %q", fs.Args())
	case f.jobs == "" || f.out == "":
		return usagef("--jobs and --out are required")
	case f.resume && f.out == "-":
		return usagef("--resume needs --out to be a file")
	case f.progress != "auto" && f.progress != "plain" && f.progress != "none":
		return usagef("--progress is auto, plain or none, not %q", f.progress)
	case f.rate < 0 || f.maxContainer < 0:
		return usagef("--rate and --max-container cannot be negative")
	case f.concurrency < 1:
		return usagef("--concurrency must be at least 1")
	}
	cfg, err := f.conn.clientConfig(true)
	if err != nil {
		return err
	}
	cfg.Scheduler.Window = f.window
	cfg.Scheduler.MaxMessages = f.maxContainer
	cfg.Scheduler.FloodThreshold = f.floodThreshold
	cfg.Scheduler.MaxQueued = 100_000
	cfg.BlockWhenFull = true

	in := stdin
	total := -1
	if f.jobs != "-" {
		jf, err := os.Open(f.jobs)
		if err != nil {
			return usagef("--jobs: %v", err)
		}
		defer jf.Close()
		in = jf
		total = countLines(f.jobs)
	}
	done := map[string]bool{}
	if f.resume {
		if done, err = previous(f.out); err != nil {
			return fmt.Errorf("--resume: %w", err)
		}
	}
	var out io.Writer = stdout
	if f.out != "-" {
		mode := os.O_CREATE | os.O_WRONLY | os.O_TRUNC
		if f.resume {
			mode = os.O_CREATE | os.O_WRONLY | os.O_APPEND
		}
		of, err := os.OpenFile(f.out, mode, 0o644)
		if err != nil {
			return usagef("--out: %v", err)
		}
		defer of.Close()
		out = of
	}

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
	var cache atomic.Pointer[entitycache.Cache]
	cfg.OnResult = learnInto(&cache)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	client, err := actors.Start(context.Background(), cfg)
	if err != nil {
		return err
	}
	ec, err := openCache(f.conn.session, client)
	if err != nil {
		closeClient(client, time.Second)
		return err
	}
	cache.Store(ec)
	defer ec.Close()
	if err := probe(ctx, client, f.conn.timeout); err != nil {
		closeClient(client, time.Second)
		return err
	}

	r := &runner{client: client, cache: ec, w: newResultWriter(out), done: done, jobs: map[string]*jobState{}}
	if f.rate > 0 {
		r.limiter = rate.NewLimiter(rate.Limit(f.rate), 1)
	}
	prog := newProgress(f.progress, stderr, total-len(done))
	stopFlush := r.w.flushEvery(100 * time.Millisecond)
	stopWorkers := r.workers(ctx, f.concurrency, prog)
	readErr := r.read(ctx, in, prog)
	interrupted := ctx.Err() != nil

	// Wait for what is in flight; on a signal, not forever.
	waited := make(chan struct{})
	go func() { r.wg.Wait(); close(waited) }()
	if interrupted {
		select {
		case <-waited:
		case <-time.After(f.drain):
		}
	} else {
		<-waited
	}
	r.closing.Store(true)
	closeClient(client, 5*time.Second)
	<-waited
	stopWorkers()
	stopFlush()
	prog.finish()
	if err := r.w.flush(); err != nil {
		return fmt.Errorf("write results: %w", err)
	}
	missing := r.started.Load() - r.written.Load()
	switch {
	case readErr != nil:
		return fmt.Errorf("reading jobs: %w", readErr)
	case interrupted:
		return fmt.Errorf("interrupted: %d jobs read have no result line and more may be unread; run again with --resume", missing)
	case missing > 0:
		return fmt.Errorf("%d jobs have no result line", missing)
	}
	return nil
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

// jobState lets later jobs chain after a job: submitted is closed once the
// job's first attempt has a future (or failed before being sent).
type jobState struct {
	submitted chan struct{}
	fut       *actors.Future
}

type runner struct {
	client  *actors.Client
	cache   *entitycache.Cache
	w       *resultWriter
	limiter *rate.Limiter
	done    map[string]bool // from --resume
	jobs    map[string]*jobState
	queue   chan task
	wg      sync.WaitGroup
	closing atomic.Bool // the client is being closed: its errors are not results
	started atomic.Int64
	written atomic.Int64
	ok      atomic.Int64
	failed  atomic.Int64
}

// read parses jobs line by line and starts each; it stops at EOF or when
// ctx is cancelled.
func (r *runner) read(ctx context.Context, in io.Reader, prog progress) error {
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for line := 1; sc.Scan(); line++ {
		if ctx.Err() != nil {
			return nil
		}
		b := sc.Bytes()
		if len(b) == 0 {
			continue
		}
		j, err := parseJob(line, b)
		if err != nil {
			id := j.ID
			if id == "" {
				id = fmt.Sprintf("line %d", line)
			}
			if _, seen := r.done[id]; !seen {
				r.started.Add(1)
				r.result(prog, outcome{ID: id, Error: &outError{Message: err.Error()}})
			}
			continue
		}
		if _, seen := r.done[j.ID]; seen {
			r.jobs[j.ID] = &jobState{}
			continue
		}
		if _, dup := r.jobs[j.ID]; dup {
			r.started.Add(1)
			r.result(prog, outcome{ID: j.ID, Error: &outError{Message: fmt.Sprintf("line %d: job id %q was used by an earlier line", line, j.ID)}})
			continue
		}
		if r.limiter != nil {
			if err := r.limiter.Wait(ctx); err != nil {
				return nil
			}
		}
		st := &jobState{submitted: make(chan struct{})}
		r.jobs[j.ID] = st
		var pred *jobState
		if j.After != "" {
			pred = r.jobs[j.After]
			if pred == nil {
				close(st.submitted)
				r.started.Add(1)
				r.result(prog, outcome{ID: j.ID, Error: &outError{Message: fmt.Sprintf("line %d: \"after\": no job %q on an earlier line", line, j.After)}})
				continue
			}
		}
		r.started.Add(1)
		r.wg.Add(1)
		r.queue <- task{j: j, st: st, pred: pred}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	return nil
}

// run sends one job and writes its result line.
// task is one job handed to a worker.
type task struct {
	j    job
	st   *jobState
	pred *jobState
}

// workers run jobs: a fixed pool, so each goroutine's stack grows once, not
// once per job. A job waits for its result on its worker; the pool is large
// enough that this bounds nothing but memory. Jobs are queued in input
// order, so a job's predecessor is always taken by a worker before it.
func (r *runner) workers(ctx context.Context, n int, prog progress) func() {
	r.queue = make(chan task)
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for t := range r.queue {
				r.run(ctx, t.j, t.st, t.pred, prog)
			}
		}()
	}
	return func() { close(r.queue); wg.Wait() }
}

func (r *runner) run(ctx context.Context, j job, st *jobState, pred *jobState, prog progress) {
	defer r.wg.Done()
	var opts []actors.Option
	if j.DC > 0 {
		opts = append(opts, actors.OnDC(j.DC))
	}
	if pred != nil {
		switch ok, earlier := r.done[j.After]; {
		case earlier && !ok:
			close(st.submitted)
			r.result(prog, outcome{ID: j.ID, Error: &outError{Message: fmt.Sprintf("not run: job %q it must run after failed in an earlier run", j.After)}})
			return
		case earlier:
			// Done in an earlier run: nothing to wait for.
		default:
			<-pred.submitted
			if pred.fut == nil {
				close(st.submitted)
				r.result(prog, outcome{ID: j.ID, Error: &outError{Message: fmt.Sprintf("not run: job %q it must run after was not sent", j.After)}})
				return
			}
			opts = append(opts, actors.After(pred.fut))
		}
	}
	m, merr := tl.Method(j.Method)
	inv := &jobInvoker{c: r.client, opts: opts, st: st}
	start := time.Now()
	var res rawResult
	err := merr
	if err == nil {
		// A signal stops reading, not the jobs already read: they run on a
		// context it does not cancel, until --drain-timeout closes the client.
		err = r.cache.Invoke(context.WithoutCancel(ctx), inv, func(ctx context.Context, rv tl.Resolver) (bin.Encoder, error) {
			return tl.DecodeRequest(ctx, j.Method, j.Params, tl.DecodeOptions{Resolver: rv, RandomID: func() int64 { return randomID(j.ID) }})
		}, &res)
	}
	inv.markSubmitted()
	if err != nil && r.closing.Load() && (errors.Is(err, actors.ErrClosed) || errors.Is(err, context.Canceled)) {
		return // not a result: --resume runs it again
	}
	o := outcome{ID: j.ID, OK: err == nil}
	if err != nil {
		if inv.sent {
			o.Error = failure(err)
		} else {
			// Never sent (bad params, a peer that cannot be resolved): code 0,
			// and the message says which line and why.
			o.Error = &outError{Message: fmt.Sprintf("line %d: %v", j.line, err)}
		}
	} else {
		o.LatencyMS = ms(time.Since(start))
		js, jerr := tl.BinaryToJSON(res.b, m.Type)
		if jerr != nil {
			o.OK, o.Error = false, &outError{Message: fmt.Sprintf("the call succeeded but its result could not be read: %v", jerr)}
		} else {
			o.Result = js
		}
	}
	r.result(prog, o)
}

func (r *runner) result(prog progress, o outcome) {
	r.w.write(o)
	r.written.Add(1)
	if o.OK {
		r.ok.Add(1)
	} else {
		r.failed.Add(1)
	}
	prog.add(o.OK)
}

// jobInvoker sends a job's request through the client with its options,
// and records the first attempt's future for jobs chained after it.
type jobInvoker struct {
	c    *actors.Client
	opts []actors.Option
	st   *jobState
	once sync.Once
	sent bool
}

func (j *jobInvoker) Invoke(ctx context.Context, req bin.Encoder, res bin.Decoder) error {
	f, err := j.c.Go(ctx, req, j.opts...)
	if err != nil {
		return err
	}
	j.sent = true
	j.once.Do(func() {
		j.st.fut = f
		close(j.st.submitted)
	})
	body, err := f.Wait(ctx)
	if err != nil {
		return err
	}
	return res.Decode(&bin.Buffer{Buf: body})
}

func (j *jobInvoker) markSubmitted() {
	j.once.Do(func() { close(j.st.submitted) })
}

// rawResult keeps a result's bytes.
type rawResult struct{ b []byte }

func (r *rawResult) Decode(b *bin.Buffer) error {
	r.b = append(r.b[:0], b.Buf...)
	return nil
}
