package actors

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v4"
	"golang.org/x/time/rate"

	"github.com/tlsched/tlsched/scheduler"
	"github.com/tlsched/tlsched/tl"
)

// Logging a fleet in (issue 18, item 3). Telegram limits, per client
// address, how many logins (auth.importBotAuthorization) and how many new
// connections it takes in a short time; past them it answers FLOOD_WAIT_X
// and transport error -429. A fleet that logs 1,000 bots in at once meets
// both. LoginAll paces logins fleet-wide (FleetConfig.LoginsPerSecond),
// every new connection of the accounts on this host's address is paced
// (FleetConfig.ConnsPerSecond: the DC actor waits its turn before it
// dials, outside Config.DialTimeout), and an account whose key is
// logged in already (LoginStore) makes no call at all.

// Defaults of FleetConfig's login pacing.
const (
	// DefaultLoginsPerSecond is two thirds of the 30 logins a second
	// tgsim's login budget allows (Telegram publishes no figure): the rest
	// leaves room for a login answered USER_MIGRATE (it spends the budget
	// twice) and for other processes on the same address.
	DefaultLoginsPerSecond = 20
	// DefaultConnsPerSecond is conservative: Telegram publishes no figure
	// for new connections per address; 10 a second takes 1,000 accounts
	// online in under two minutes.
	DefaultConnsPerSecond = 10
	// DefaultLoginConcurrency bounds LoginAll's logins in progress.
	DefaultLoginConcurrency = 16
	// DefaultLoginMaxWait is the longest FLOOD_WAIT LoginAll waits out
	// (Telethon's flood_sleep_threshold, as scheduler.Config.FloodThreshold).
	DefaultLoginMaxWait = time.Minute
)

// LoginResult is one account's outcome of Fleet.LoginAll.
type LoginResult struct {
	// Name is the account's.
	Name string
	// Account is who the account is logged in as: Login's answer, or the
	// Store's record when Skipped. Nil when Err is set.
	Account *Account
	// Skipped says that the account's key was logged in already (its
	// Store, a LoginStore, says so): no call was made.
	Skipped bool
	// FloodWaits counts the FLOOD_WAITs the account's logins were answered
	// and LoginAll waited out before logging it in again.
	FloodWaits int
	// LostLogins counts the logins that got no answer (their connection
	// was lost, or they were never sent) and that LoginAll made again,
	// after a pause: at most 3.
	LostLogins int
	// Err is why the account is not logged in: ErrNoAccount, a missing bot
	// token, the server's error (ACCESS_TOKEN_INVALID, a *tl.FloodWaitError
	// longer than FleetConfig.LoginMaxWait, …), or ctx's.
	Err error
}

// LoginAll logs in the accounts named (every account of the Fleet when
// none is) with their bot tokens, and returns one result per name, in the
// order given. One account's failure is its own result only; the others
// go on.
//
// Logins are paced fleet-wide at FleetConfig.LoginsPerSecond, at most
// FleetConfig.LoginConcurrency in progress; the connections they open are
// paced at FleetConfig.ConnsPerSecond. A FLOOD_WAIT answering a login
// pauses every login of the Fleet for the wait (the server's login budget
// is the address's, not the account's) and then logs that account in
// again; a wait longer than FleetConfig.LoginMaxWait fails that account
// only. A login that got no answer (its connection or session was lost,
// or its DC stayed unreachable: *scheduler.LostError,
// *scheduler.OutageError) is made again after about 1 s, 2 s and 4 s
// (LoginResult.LostLogins):
// importing a bot's authorization again on the same key is harmless. An account whose Store records its key as logged in (LoginStore:
// a BoltDB's namespace) is skipped without a call. When ctx ends, the
// accounts not logged in by then fail with ctx's error.
func (f *Fleet) LoginAll(ctx context.Context, names ...string) []LoginResult {
	if len(names) == 0 {
		names = f.List()
	}
	results := make([]LoginResult, len(names))
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(f.cfg.LoginConcurrency, len(names)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				results[i] = f.loginPaced(ctx, names[i])
			}
		}()
	}
	for i := range names {
		next <- i
	}
	close(next)
	wg.Wait()
	return results
}

// loginPaced logs one account in for LoginAll.
func (f *Fleet) loginPaced(ctx context.Context, name string) LoginResult {
	r := LoginResult{Name: name}
	f.mu.Lock()
	a, ok := f.accounts[name]
	f.mu.Unlock()
	switch {
	case !ok:
		r.Err = fmt.Errorf("%w: %q", ErrNoAccount, name)
		return r
	case a.botToken == "":
		r.Err = fmt.Errorf("tlsched: account %q has no bot token", name)
		return r
	}
	if ls, ok := a.client.cfg.Store.(LoginStore); ok {
		acc, ok, err := ls.LoadLogin()
		if err != nil {
			r.Err = fmt.Errorf("tlsched: account %q: %w", name, err)
			return r
		}
		if ok {
			if err := tokenMatches(a.botToken, acc); err != nil {
				r.Err = fmt.Errorf("tlsched: account %q: %w", name, err)
				return r
			}
			r.Account, r.Skipped = &acc, true
			return r
		}
	}
	// No wait is absorbed by the account's scheduler: a FLOOD_WAIT comes
	// back here, to pause every account's logins.
	lctx := WithOptions(ctx, FloodBudget(0))
	lost := loginRetryBackoff()
	for {
		if err := f.logins.wait(ctx); err != nil {
			r.Err = fmt.Errorf("tlsched: account %q: waiting to log in: %w", name, err)
			return r
		}
		acc, err := a.client.Login(lctx, Credentials{BotToken: a.botToken})
		if unanswered(err) && ctx.Err() == nil {
			// The login got no answer: its connection or session was lost
			// (it may have run: importing a bot's authorization again on
			// the same key is harmless), or its DC stayed unreachable.
			// Again, after a pause.
			if d := lost.NextBackOff(); d != backoff.Stop {
				t := time.NewTimer(d)
				select {
				case <-t.C:
					r.LostLogins++
					continue
				case <-ctx.Done():
					t.Stop()
					r.Err = fmt.Errorf("tlsched: account %q: %w (then %w)", name, err, ctx.Err())
					return r
				}
			}
		}
		fw, flood := tl.AsFloodWait(err)
		if !flood || fw.Duration > f.cfg.LoginMaxWait {
			if err != nil {
				r.Err = fmt.Errorf("tlsched: account %q: %w", name, err)
			} else {
				r.Account = acc
			}
			return r
		}
		r.FloodWaits++
		// The account's own flood gate stays closed at least
		// minFloodWait; a retry before it opens would be refused at once.
		f.logins.pause(max(fw.Duration, time.Second))
	}
}

// loginRetries is how many times LoginAll logs an account in again after
// a login that got no answer (unanswered), waiting about 1 s, 2 s and 4 s.
const loginRetries = 3

func loginRetryBackoff() backoff.BackOff {
	// Options, not fields set afterwards: the constructor's Reset takes
	// the first interval from them.
	b := backoff.NewExponentialBackOff(
		backoff.WithInitialInterval(time.Second),
		backoff.WithMultiplier(2),
		backoff.WithRandomizationFactor(0.2),
		backoff.WithMaxElapsedTime(0),
	)
	return backoff.WithMaxRetries(b, loginRetries)
}

// unanswered reports whether err says a call got no answer because of the
// network or the server's state: its DC stayed unreachable
// (*scheduler.OutageError) or its connection or session was lost
// (*scheduler.LostError), whether it may have run or not. Not a FLOOD_WAIT,
// a cancellation, a closed client or a full queue, which also match
// scheduler.ErrNotSent.
func unanswered(err error) bool {
	var outage *scheduler.OutageError
	var lost *scheduler.LostError
	return errors.As(err, &outage) || errors.As(err, &lost)
}

// loginPacer paces a Fleet's logins: a rate, and a pause after a
// FLOOD_WAIT that every login waits out.
type loginPacer struct {
	lim *rate.Limiter // nil: not paced

	mu    sync.Mutex
	until time.Time // no login starts before
}

func newLoginPacer(perSecond float64) *loginPacer {
	p := &loginPacer{}
	if perSecond > 0 {
		p.lim = rate.NewLimiter(rate.Limit(perSecond), 1)
	}
	return p
}

// wait returns when a login may start, or with ctx's error.
func (p *loginPacer) wait(ctx context.Context) error {
	for {
		if err := sleepCtx(ctx, p.paused()); err != nil {
			return err
		}
		if p.lim != nil {
			if err := p.lim.Wait(ctx); err != nil {
				return err
			}
		}
		// A pause that began while this login waited for its turn
		// holds it too.
		if p.paused() <= 0 {
			return nil
		}
	}
}

// paused is how long logins are still paused.
func (p *loginPacer) paused() time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	return time.Until(p.until)
}

// pause holds every login for d from now (a pause ending later stays).
func (p *loginPacer) pause(d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if t := time.Now().Add(d); t.After(p.until) {
		p.until = t
	}
}

// sleepCtx waits d (nothing if d <= 0), or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// tokenMatches checks that a key recorded as logged in as acc is the bot
// token's: a bot token starts with its bot's user id ("123456:AA…"). An
// account name given to another bot after Fleet.Remove finds the first
// bot's key in the Store; it must not be taken for the new bot's
// (TestFleetLoginAllRefusesAnotherBotsKey).
func tokenMatches(token string, acc Account) error {
	id, _, ok := strings.Cut(token, ":")
	if !ok || acc.UserID == 0 {
		return nil
	}
	if n, err := strconv.ParseInt(id, 10, 64); err == nil && n != acc.UserID {
		return fmt.Errorf("its stored key is logged in as user %d, and its bot token is bot %d's: the name's Store namespace is another bot's (BoltDB.DeleteAccount forgets it)", acc.UserID, n)
	}
	return nil
}
