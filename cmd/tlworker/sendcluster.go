package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	pacluster "github.com/asynkron/protoactor-go/cluster"
	"github.com/asynkron/protoactor-go/cluster/identitylookup/disthash"
	"github.com/asynkron/protoactor-go/remote"
	"github.com/cenkalti/backoff/v4"
	"github.com/gotd/td/tg"
	"github.com/gotd/td/tgerr"
	"golang.org/x/time/rate"

	"github.com/tlsched/tlsched/actors"
	"github.com/tlsched/tlsched/cluster"
	"github.com/tlsched/tlsched/cluster/clusterpb"
	"github.com/tlsched/tlsched/cmd/tlworker/internal/accountpool"
	"github.com/tlsched/tlsched/cmd/tlworker/internal/cli"
	"github.com/tlsched/tlsched/cmd/tlworker/internal/jobs"
	"github.com/tlsched/tlsched/entitycache"
	"github.com/tlsched/tlsched/scheduler"
	"github.com/tlsched/tlsched/tl"
)

// sendCluster is tlworker send with --cluster: this process joins the
// cluster as a client (it hosts no account) and sends each account's jobs
// to the account's grain, on whichever member owns the account
// (cluster.Submitter); jobs are routed to accounts as with --accounts
// alone (internal/accountpool). Peers are resolved here, each account with
// its own entity cache (OUT.NAME.entities.db) that resolves through the
// account's grain and learns from its results, and random_ids are derived
// from job ids here, so a job means the same wherever it is sent.
func (f *sendFlags) sendCluster(ctx context.Context, cfg actors.Config, accounts []accountLine, files sendFiles, stderr io.Writer) error {
	for _, a := range accounts {
		if a.token == "" {
			return cli.Usagef("--cluster: account %s is a session file; a cluster's accounts are bot tokens (their keys live in etcd, not in a file here)", a.name)
		}
	}
	journal, err := f.openJournal()
	if err != nil {
		return err
	}
	defer journal.Close()
	logger, level := clusterLogger(stderr, f.conn.verbose)
	etcd, err := f.cluster.client()
	if err != nil {
		return err
	}
	defer etcd.Close()
	mem, err := f.cluster.membership(etcd, logger)
	if err != nil {
		return err
	}
	c := pacluster.New(newClusterSystem(logger), pacluster.Configure(f.cluster.name, mem, disthash.New(), remote.Configure(f.cluster.bind, 0)))
	if err := startClient(c); err != nil {
		return err
	}
	defer stopClient(c, mem, level)
	if len(c.MemberList.Members().Members()) == 0 {
		return fmt.Errorf("--cluster %s: %w", f.cluster.name, errNoMembers)
	}
	sub := cluster.NewSubmitter(c)
	defer sub.Close()

	members := make([]accountpool.Member, len(accounts))
	caches := make([]*entitycache.Cache, len(accounts))
	defer func() {
		for _, cache := range caches {
			if cache != nil {
				cache.Close()
			}
		}
	}()
	for i, a := range accounts {
		inv := sub.Invoker(a.name)
		cacheCfg := entitycache.Config{Invoker: inv, Account: &entitycache.Account{DCs: cfg.DCs}}
		if f.out != "-" {
			cacheCfg.Path = f.out + "." + a.name + ".entities.db"
		}
		cache, err := entitycache.Open(cacheCfg)
		if err != nil {
			return fmt.Errorf("account %s: entity cache: %w", a.name, err)
		}
		caches[i] = cache
		inv.OnResult = cache.LearnResult
		members[i] = accountpool.Member{Account: jobs.Account{
			Name:   a.name,
			Sender: &clusterSender{sub: sub, account: a.name, learn: cache.LearnResult},
			Peers:  cache,
		}}
	}
	// Each account's grain logs in where it is activated; a key its store
	// in etcd keeps logged in is only checked. Logins are paced all
	// together, as a Fleet's are (Telegram limits them per IP, and this
	// process cannot tell which accounts share a node).
	logins := rate.NewLimiter(rate.Limit(actors.DefaultLoginsPerSecond), 1)
	parallel(loginConcurrency, len(accounts), func(i int) {
		lctx, cancel := context.WithTimeout(ctx, f.conn.timeout+time.Minute+time.Duration(len(accounts))*time.Second/actors.DefaultLoginsPerSecond)
		defer cancel()
		if err := clusterLogin(lctx, sub.Invoker(accounts[i].name), accounts[i].token, cfg.APIID, cfg.APIHash, logins); err != nil {
			members[i].Down = fmt.Errorf("log in: %w", err)
			fmt.Fprintf(stderr, "account %s cannot send: %v; its jobs fail, the other accounts go on\n", accounts[i].name, members[i].Down)
		}
	})
	pool, err := accountpool.New(members, journal)
	if err != nil {
		return err
	}
	return f.runRouted(ctx, pool, members, files, sub.Close, stderr)
}

// clusterLogin checks that account's key is logged in (users.getUsers of
// itself) and, when the server says it is not, logs it in as the bot of
// token.
func clusterLogin(ctx context.Context, inv tg.Invoker, token string, apiID int, apiHash string, logins *rate.Limiter) error {
	api := tg.NewClient(inv)
	_, err := api.UsersGetUsers(ctx, []tg.InputUserClass{&tg.InputUserSelf{}})
	var rpc *tgerr.Error
	if err == nil || !errors.As(err, &rpc) || rpc.Code != 401 {
		return err
	}
	if err := logins.Wait(ctx); err != nil {
		return err
	}
	_, err = api.AuthImportBotAuthorization(ctx, &tg.AuthImportBotAuthorizationRequest{APIID: apiID, APIHash: apiHash, BotAuthToken: token})
	return err
}

// clusterSender is a jobs.Sender whose calls go to an account's grain.
// A call its grain's end left without an answer is sent again, with the
// same bytes, when that is safe: it was never sent, or its method is
// resendable (tl.Resendable: a random_id, which Telegram deduplicates, or
// a read) and it is not in a chain (its successors name this attempt).
// Retries back off, for up to clusterRetryFor: long enough for a dead
// member to leave the cluster and its accounts' leases to lapse.
type clusterSender struct {
	sub     *cluster.Submitter
	account string
	learn   func(*tl.Definition, []byte)
}

// clusterRetryFor bounds how long a call lost with its grain is sent again.
const clusterRetryFor = 2 * time.Minute

func (s *clusterSender) Send(ctx context.Context, subs []jobs.Submit, notify func(jobs.Call)) error {
	specs := make([]cluster.RemoteSpec, 0, len(subs))
	calls := make([]*clusterCall, 0, len(subs))
	at := make([]int, 0, len(subs))
	for i := range subs {
		req, err := cluster.RequestOf(subs[i].Req)
		if err != nil {
			subs[i].Call, subs[i].Err = nil, err
			continue
		}
		cc := &clusterCall{s: s, req: req, dc: subs[i].DC, notify: notify, done: make(chan struct{})}
		cc.sent = sync.NewCond(&cc.mu)
		spec := cluster.RemoteSpec{Req: req, DC: subs[i].DC, Notify: cc.answered}
		if a := subs[i].After; a != nil {
			pred, ok := a.(*clusterCall)
			if !ok {
				subs[i].Call, subs[i].Err = nil, fmt.Errorf("tlworker: a job chained after a call of another sender (%T)", a)
				continue
			}
			after, err := pred.afterRef()
			if err != nil {
				subs[i].Call, subs[i].Err = nil, err
				continue
			}
			spec.After, cc.chained = after, true
		}
		specs, calls, at = append(specs, spec), append(calls, cc), append(at, i)
	}
	if len(specs) == 0 {
		return nil
	}
	rcs, err := s.send(ctx, specs)
	if err != nil {
		return err
	}
	for k, i := range at {
		calls[k].setAttempt(rcs[k])
		subs[i].Call, subs[i].Err = calls[k], nil
	}
	return nil
}

// send is Submitter.Send, tried again (backing off, for up to
// clusterRetryFor) while no member answers for the account's grain: a
// member died and the cluster has not yet seen it leave. The worker that
// sends waits meanwhile.
func (s *clusterSender) send(ctx context.Context, specs []cluster.RemoteSpec) ([]*cluster.RemoteCall, error) {
	var b backoff.BackOff
	for {
		rcs, err := s.sub.Send(ctx, s.account, specs)
		if err == nil || !errors.Is(err, cluster.ErrNoGrain) {
			return rcs, err
		}
		if b == nil {
			b = newClusterBackoff()
		}
		wait := b.NextBackOff()
		if wait == backoff.Stop {
			return nil, err
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, err
		case <-t.C:
		}
	}
}

func newClusterBackoff() backoff.BackOff {
	b := backoff.NewExponentialBackOff()
	b.InitialInterval, b.MaxInterval, b.MaxElapsedTime = 100*time.Millisecond, 2*time.Second, clusterRetryFor
	b.Reset()
	return b
}

// clusterCall is a job's call through its attempts.
type clusterCall struct {
	s       *clusterSender
	req     *tl.Request
	dc      int
	chained bool
	notify  func(jobs.Call)
	done    chan struct{}
	body    []byte
	err     error

	mu       sync.Mutex
	cur      *cluster.RemoteCall
	retry    backoff.BackOff // nil until the first retry
	lastErr  error           // the lost attempt's error, while retrying
	retrying bool            // between a lost attempt and the next one's send
	sent     *sync.Cond      // signals retrying turning false (on mu)
}

func (c *clusterCall) setAttempt(rc *cluster.RemoteCall) {
	c.mu.Lock()
	if c.cur == nil {
		c.cur = rc
	}
	c.mu.Unlock()
}

// afterRef is what a job chained after this call names as its After: the
// attempt in flight, waiting while this call is between a lost attempt
// and its next (its successor must name the new one); nil once this call
// succeeded (nothing to wait for); an error, not sent, once it failed.
func (c *clusterCall) afterRef() (*cluster.RemoteCall, error) {
	c.mu.Lock()
	for c.retrying {
		c.sent.Wait()
	}
	cur := c.cur
	c.mu.Unlock()
	select {
	case <-c.done:
		if c.err != nil {
			return nil, fmt.Errorf("not run: the job it must run after failed (%v): %w", c.err, scheduler.ErrNotSent)
		}
		return nil, nil
	default:
		return cur, nil
	}
}

// sendDone ends a retry's wait (retrying false), recording the new
// attempt if there is one.
func (c *clusterCall) sendDone(rc *cluster.RemoteCall) {
	c.mu.Lock()
	if rc != nil {
		c.cur = rc
	}
	c.retrying = false
	c.sent.Broadcast()
	c.mu.Unlock()
}

// Wait is the call's final outcome, retries done.
func (c *clusterCall) Wait(ctx context.Context) ([]byte, error) {
	select {
	case <-c.done:
		return c.body, c.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// answered takes an attempt's outcome (on the Submitter's actor: it
// returns at once; a retry goes from a goroutine of its own).
func (c *clusterCall) answered(rc *cluster.RemoteCall) {
	body, err := rc.Wait(context.Background()) // done already
	c.mu.Lock()
	c.cur = rc
	var wait time.Duration = backoff.Stop
	if err != nil && c.lostWithGrain(err) {
		if c.retry == nil {
			c.retry = newClusterBackoff()
		}
		wait = c.retry.NextBackOff()
		if wait != backoff.Stop {
			c.retrying, c.lastErr = true, err
		}
	}
	c.mu.Unlock()
	if wait != backoff.Stop {
		time.AfterFunc(wait, c.resend)
		return
	}
	if err == nil && c.s.learn != nil {
		c.s.learn(c.req.Def, body)
	}
	c.body, c.err = body, err
	close(c.done)
	c.notify(c)
}

// lostWithGrain reports whether err is a failure of the cluster, not of
// Telegram, after which the same call may go again.
func (c *clusterCall) lostWithGrain(err error) bool {
	var re *cluster.RemoteError
	if !errors.As(err, &re) || !re.Lost || c.chained {
		return false
	}
	return re.Sent == clusterpb.Sent_SENT_NOT || re.Sent == clusterpb.Sent_SENT_MAYBE && tl.Resendable(c.req.Def)
}

// resend sends the call again. When that fails the call ends with the
// lost attempt's error (it may have run), unless the Submitter closed
// (actors.ErrClosed: the job gets no line, and --resume runs it).
func (c *clusterCall) resend() {
	ctx, cancel := context.WithTimeout(context.Background(), clusterRetryFor)
	defer cancel()
	rcs, err := c.s.send(ctx, []cluster.RemoteSpec{{Req: c.req, DC: c.dc, Notify: c.answered}})
	if err == nil {
		c.sendDone(rcs[0])
		return
	}
	c.mu.Lock()
	last := c.lastErr
	c.mu.Unlock()
	if !errors.Is(err, actors.ErrClosed) && last != nil {
		err = last
	}
	c.body, c.err = nil, err
	close(c.done)
	c.sendDone(nil)
	c.notify(c)
}
