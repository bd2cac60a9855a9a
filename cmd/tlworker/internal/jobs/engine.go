// Package jobs is the engine of tlworker send: it reads JSON-lines jobs,
// runs each through a Sender (the actor system) on a fixed pool of workers,
// chains a job after another by id ("after": an invokeAfterMsg chain),
// skips jobs an earlier run finished (--resume), derives a missing
// random_id from the job id, and writes one result line per job in
// completion order.
//
// Where its rules live: a job line's shape and checks, and random_id, in
// job.go; a result line's shape and its writer in result.go; what --resume
// reads in resume.go; one job's run and chaining in run.go; reading, the
// worker pool and draining in engine.go; what a Router (many accounts) is
// asked and told, and a job's chat, in route.go.
package jobs

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/tlsched/tlsched/tl"
)

// DefaultConcurrency is Config.Concurrency's default: jobs in flight.
const DefaultConcurrency = 2000

// Config is one run. Jobs and Results are required, and either Sender
// and Peers (one account) or Router (many).
type Config struct {
	// Sender sends the jobs' requests: Actors(client) for an actors.Client.
	Sender Sender
	// Peers builds a job's request with its peer shorthands resolved and
	// sends it through the Invoker it is given: an *entitycache.Cache.
	Peers Peers
	// Router, if set, picks each job's account (route.go); Sender and
	// Peers are then not used, and result lines name the account.
	Router Router
	// Accounts is, with Router, which account sent each job of Done
	// (Earlier.Accounts): the Router hears of them (Router.Earlier).
	Accounts map[string]string
	// Jobs is read line by line (JSON lines; blank lines are skipped) until
	// EOF or until ctx ends.
	Jobs io.Reader
	// Results gets one JSON line per job (Result), in completion order;
	// written through a buffer flushed every 100 ms and at the end.
	Results io.Writer
	// Done is what an earlier run finished (see Previous): job id → ok.
	// These jobs are skipped; a job "after" one of them runs without
	// waiting if it was ok, and fails without being sent if it was not.
	Done map[string]bool
	// Rate caps jobs started per second; 0 is no cap.
	Rate float64
	// Concurrency is how many jobs are in flight at once; 0 is
	// DefaultConcurrency. Workers take up to 32 jobs at a time, and
	// submit them together.
	Concurrency int
	// DrainTimeout is how long, once ctx has ended (a signal), the jobs
	// already read may take before Close is called; 0 closes at once.
	// When ctx has not ended, Run waits for every job read.
	DrainTimeout time.Duration
	// Close, if set, closes the Sender. Run calls it once, when the jobs
	// read have finished or the drain timeout has passed; jobs that then
	// fail with actors.ErrClosed or context.Canceled get no result line (a
	// rerun with --resume runs them).
	Close func()
	// OnResult, if set, is called after each result line is written, from
	// many goroutines (a progress display).
	OnResult func(ok bool)
	// JSON is how results are written; the zero value writes long values
	// as decimal strings (tl.EncodeOptions).
	JSON tl.EncodeOptions
	// Expect, if positive, is about how many jobs Jobs holds: the engine
	// sizes its table of job ids for them at the start instead of growing
	// it as it reads. Only a hint.
	Expect int
}

// Run reads jobs from cfg.Jobs and runs them until EOF, then waits for
// them and writes their results. When ctx ends it stops reading and
// starting jobs (those read ahead get no line), gives the jobs in flight
// cfg.DrainTimeout, and returns an error saying how many
// jobs read have no result line. Jobs run on a context ctx's end does not
// cancel. An error means not every job read has a result line, or the
// results could not be written; failed jobs are result lines, not errors,
// except that when every job has its line and some failed because the
// server stayed unreachable, Run returns an *UnreachableError.
func Run(ctx context.Context, cfg Config) error {
	n := cfg.Concurrency
	if n <= 0 {
		n = DefaultConcurrency
	}
	done := cfg.Done
	if done == nil {
		done = map[string]bool{}
	}
	r := &runner{router: cfg.Router, accounts: cfg.Accounts, one: Account{Sender: cfg.Sender, Peers: cfg.Peers}, w: newResultWriter(cfg.Results), done: done, jobs: newIDTable(min(max(cfg.Expect, 0), maxExpect)), methods: map[string]method{}, onResult: cfg.OnResult, json: cfg.JSON}
	if cfg.Rate > 0 {
		r.limiter = rate.NewLimiter(rate.Limit(cfg.Rate), 1)
	}
	stopFlush := r.w.flushEvery(100 * time.Millisecond)
	r.in = bufio.NewScanner(cfg.Jobs)
	r.in.Buffer(make([]byte, 1<<20), 16<<20)
	// Jobs are read ahead of the workers, so that a worker finds many
	// waiting and submits them together; with --rate they are read at
	// the rate and handed over one by one (no read-ahead to burst after
	// a stall).
	ahead := 256
	if r.limiter != nil {
		ahead = 0
	}
	tasks := make(chan task, ahead)
	waitWorkers := r.workers(ctx, n, tasks)
	r.read(ctx, tasks)
	readErr := r.readErr
	// Reading stopped for a signal: more lines may be unread.
	cutOff := ctx.Err() != nil

	// Wait for what is in flight; on a signal (during reading or after
	// it), not forever.
	waited := make(chan struct{})
	go func() { r.wg.Wait(); close(waited) }()
	select {
	case <-waited:
	case <-ctx.Done():
		select {
		case <-waited:
		case <-time.After(cfg.DrainTimeout):
		}
	}
	r.closing.Store(true)
	if cfg.Close != nil {
		cfg.Close()
	}
	<-waited
	waitWorkers()
	stopFlush()
	if err := r.w.flush(); err != nil {
		return fmt.Errorf("write results: %w", err)
	}
	missing := r.started.Load() - r.written.Load()
	switch {
	case readErr != nil:
		return fmt.Errorf("reading jobs: %w", readErr)
	case cutOff:
		return fmt.Errorf("interrupted: %d jobs read have no result line and more may be unread; run again with --resume", missing)
	case missing > 0 && ctx.Err() != nil:
		return fmt.Errorf("interrupted: %d jobs read have no result line; run again with --resume", missing)
	case missing > 0:
		return fmt.Errorf("%d jobs have no result line", missing)
	}
	return r.unreachable.err()
}

// maxExpect bounds the table Config.Expect sizes up front.
const maxExpect = 10_000_000

type runner struct {
	one      Account // without a router, every job's
	router   Router
	accounts map[string]string // Config.Accounts
	w        *resultWriter
	limiter  *rate.Limiter
	onResult func(ok bool)
	json     tl.EncodeOptions // how results are written
	done     map[string]bool  // from --resume
	// Reading, by Run's goroutine (read).
	in      *bufio.Scanner
	line    int               // the last line read, 1-based
	jobs    *idTable          // by id, for "after"
	methods map[string]method // by name
	readErr error
	wg      sync.WaitGroup // jobs handed to workers and not finished
	closing atomic.Bool    // the sender is being closed: its errors are not results
	started atomic.Int64
	written atomic.Int64
	// unreachable counts the jobs that failed because their DC stayed
	// unreachable (unreachable.go).
	unreachable unreachable
}

// read reads jobs lines and hands the jobs to run to the workers, in
// input order (so a job's predecessor is always handed out before it),
// until EOF, a read error or the end of ctx; then it closes tasks. Lines
// that cannot run (not a job, a duplicate id, an unknown "after") get
// their result line here.
func (r *runner) read(ctx context.Context, tasks chan<- task) {
	defer close(tasks)
	for {
		t, ok, end := r.readLine(ctx)
		if end {
			return
		}
		if ok {
			tasks <- t
		}
	}
}

// readLine reads one line: a task to run (ok), nothing to run (a blank
// line, a line whose result is written here, a job done in an earlier
// run), or the end of reading (end; r.readErr says if it was an error). It
// stops at EOF or when ctx is cancelled.
func (r *runner) readLine(ctx context.Context) (t task, ok, end bool) {
	if !r.in.Scan() {
		r.readErr = r.in.Err()
		return task{}, false, true
	}
	r.line++
	line := r.line
	if ctx.Err() != nil {
		return task{}, false, true
	}
	b := r.in.Bytes()
	if len(b) == 0 {
		return task{}, false, false
	}
	j, err := parseJob(line, b)
	if err != nil {
		id := j.ID
		if id == "" {
			id = fmt.Sprintf("line %d", line)
		}
		if _, seen := r.done[id]; !seen {
			r.started.Add(1)
			r.result(Result{ID: id, Error: &Error{Message: err.Error()}})
		}
		return task{}, false, false
	}
	if _, seen := r.done[j.ID]; seen {
		if r.router != nil {
			r.router.Earlier(Chat(j.Params), r.accounts[j.ID])
		}
		r.jobs.set(&jobState{id: j.ID})
		return task{}, false, false
	}
	// From here on the line's id is taken, whatever becomes of the job.
	st := &jobState{id: j.ID}
	if dup := r.jobs.add(st); dup != nil {
		r.started.Add(1)
		r.result(Result{ID: j.ID, Error: &Error{Message: fmt.Sprintf("line %d: job id %q was used by an earlier line", line, j.ID)}})
		return task{}, false, false
	}
	if j.After == j.ID {
		// It would wait for itself forever.
		st.end(failed)
		r.started.Add(1)
		r.result(Result{ID: j.ID, Error: &Error{Message: fmt.Sprintf("line %d: \"after\": job %q cannot run after itself", line, j.ID)}})
		return task{}, false, false
	}
	if r.limiter != nil {
		if err := r.limiter.Wait(ctx); err != nil {
			return task{}, false, true
		}
	}
	var pred *jobState
	if j.After != "" {
		pred = r.jobs.get(j.After)
		if pred == nil {
			st.end(failed)
			r.started.Add(1)
			r.result(Result{ID: j.ID, Error: &Error{Message: fmt.Sprintf("line %d: \"after\": no job %q on an earlier line", line, j.After)}})
			return task{}, false, false
		}
	}
	acct := r.one
	if r.router != nil {
		// Routed here, in input order and before the job can be sent, so a
		// chat's jobs are routed in the order they are read, and a chained
		// job knows its predecessor's account.
		rt := Route{ID: j.ID, Account: j.Account, Chat: Chat(j.Params)}
		if pred != nil {
			rt.After = pred.account
		}
		a, err := r.router.Route(rt)
		if err != nil {
			// Never sent: a Router's ErrNotSent (an account that cannot
			// send) marks the line for --retry-not-sent.
			kind := ""
			if unanswered(err) == KindNotSent {
				kind = KindNotSent
				st.end(unsent)
			} else {
				st.end(failed)
			}
			r.started.Add(1)
			r.result(Result{ID: j.ID, Error: &Error{Message: fmt.Sprintf("line %d: %v", line, err), Kind: kind}})
			return task{}, false, false
		}
		acct = a
		st.account = a.Name
	} else if j.Account != "" {
		st.end(failed)
		r.started.Add(1)
		r.result(Result{ID: j.ID, Error: &Error{Message: fmt.Sprintf("line %d: job %q names account %q, and this run has one account (no --accounts)", line, j.ID, j.Account)}})
		return task{}, false, false
	}
	r.started.Add(1)
	r.wg.Add(1)
	return task{j: j, st: st, pred: pred, m: r.method(j.Method), acct: acct}, true, false
}

// task is one job taken by a worker.
type task struct {
	j    job
	st   *jobState
	pred *jobState
	m    method  // j.Method's
	acct Account // the account that sends it
}

// method is a job's method looked up in the schema: its definition, or why
// there is none.
type method struct {
	def *tl.Definition
	err error
}

// method looks up a job's method, once per name for the names of a run
// (a run has few methods and many lines). Called by read only.
func (r *runner) method(name string) method {
	if m, ok := r.methods[name]; ok {
		return m
	}
	def, err := tl.Method(name)
	m := method{def: def, err: err}
	if len(r.methods) < 1024 { // a bound against lines full of made-up names
		r.methods[name] = m
	}
	return m
}

// workers run jobs: a fixed pool of workers, each with up to batchSize
// jobs in flight (batch), so n bounds the jobs in flight and each
// goroutine's stack grows once, not once per job. The returned func waits
// for the pool to end, which it does once tasks is closed and each
// worker's last jobs are done.
func (r *runner) workers(ctx context.Context, n int, tasks <-chan task) func() {
	// A signal stops reading and starting jobs, not the jobs started:
	// they run on a context it does not cancel, until the drain timeout
	// closes the sender. Jobs read ahead and not started are dropped.
	jobCtx := context.WithoutCancel(ctx)
	var wg sync.WaitGroup
	for ; n > 0; n -= batchSize {
		b := newBatch(r, min(n, batchSize), ctx)
		wg.Add(1)
		go func() {
			defer wg.Done()
			b.work(jobCtx, tasks)
		}()
	}
	return wg.Wait
}

func (r *runner) result(o Result) {
	r.w.write(o)
	r.counted(o.OK)
}

// counted counts a result line written.
func (r *runner) counted(ok bool) {
	r.written.Add(1)
	if r.onResult != nil {
		r.onResult(ok)
	}
}
