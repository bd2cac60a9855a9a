package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gotd/td/tg"
	"github.com/gotd/td/tgerr"

	"github.com/tlsched/tlsched/actors"
	"github.com/tlsched/tlsched/cmd/tlworker/internal/accountpool"
	"github.com/tlsched/tlsched/cmd/tlworker/internal/cli"
	"github.com/tlsched/tlsched/cmd/tlworker/internal/jobs"
	"github.com/tlsched/tlsched/entitycache"
	"github.com/tlsched/tlsched/telemetry"
)

// accountsUsage is the --accounts file's format, for "tlworker send -h".
const accountsUsage = `file of accounts to send through, one a line: [NAME] TOKEN-OR-SESSION-FILE. A bot token (123:ABC…) logs in at start; anything else is a session file made by tlworker login. NAME defaults to "bot" + the token's bot id, or the session file's name; blank lines and lines starting with # are skipped. Jobs may name their "account"; the others go to the account with the most room, one account per chat for the whole run and across --resume (kept in OUT.accounts). With --session FILE the tokens' keys are kept in FILE, a namespace each`

// accountLine is one line of an --accounts file.
type accountLine struct {
	name    string
	token   string // a bot token, or
	session string // a session file
}

// botToken is the Bot API's token form, "<bot id>:<secret>".
var botToken = regexp.MustCompile(`^([0-9]+):[A-Za-z0-9_-]{10,}$`)

// parseAccounts reads an --accounts file. Errors are usage errors that say
// FILE:LINE and what is wrong.
func parseAccounts(path string) ([]accountLine, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, cli.Usagef("--accounts: %v", err)
	}
	defer f.Close()
	var out []accountLine
	seen := map[string]int{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		a, err := parseAccountLine(text)
		if err != nil {
			return nil, cli.Usagef("%s:%d: %v", path, n, err)
		}
		if first, dup := seen[a.name]; dup {
			return nil, cli.Usagef("%s:%d: account name %q is line %d's already", path, n, a.name, first)
		}
		seen[a.name] = n
		out = append(out, a)
	}
	if err := sc.Err(); err != nil {
		return nil, cli.Usagef("--accounts %s: %v", path, err)
	}
	if len(out) == 0 {
		return nil, cli.Usagef("--accounts %s: no accounts in it", path)
	}
	return out, nil
}

func parseAccountLine(text string) (accountLine, error) {
	var a accountLine
	fields := strings.Fields(text)
	var v string
	switch len(fields) {
	case 1:
		v = fields[0]
	case 2:
		a.name, v = fields[0], fields[1]
		if strings.Contains(a.name, "/") {
			return a, fmt.Errorf("account name %q has a \"/\"", a.name)
		}
	default:
		return a, fmt.Errorf("want [NAME] TOKEN-OR-SESSION-FILE, got %d fields", len(fields))
	}
	if m := botToken.FindStringSubmatch(v); m != nil {
		a.token = v
		if a.name == "" {
			a.name = "bot" + m[1]
		}
		return a, nil
	}
	if strings.Contains(v, ":") && !strings.ContainsAny(v, `/\.`) {
		return a, fmt.Errorf("%q is not a bot token (want <bot id>:<secret>) nor a session file path", v)
	}
	if _, ok, err := actors.LoadAccount(v); err != nil || !ok {
		if err == nil {
			err = fmt.Errorf("no login recorded (no %s): run tlworker login first", actors.AccountPath(v))
		}
		return a, fmt.Errorf("session file %s: %w", v, err)
	}
	a.session = v
	if a.name == "" {
		a.name = strings.TrimSuffix(filepath.Base(v), filepath.Ext(v))
	}
	return a, nil
}

// fleetRun is a Fleet with its accounts logged in, each with its entity
// cache, as the members of an account pool.
type fleetRun struct {
	fleet   *actors.Fleet
	store   *actors.BoltDB       // nil without --session
	caches  []*entitycache.Cache // each account's, in the file's order
	clients []*actors.Client     // each account's, in the file's order
	members []accountpool.Member
}

// startFleet starts a Fleet of the accounts (base is every account's
// Config; storePath, if not empty, is the bbolt file token accounts keep
// their keys in, each under its name, with an entity cache file each next
// to it) and logs them in (loginAccounts): an account that fails is a
// member that is down (accountpool.Member.Down), the others go on. On
// error nothing is left open.
func startFleet(ctx context.Context, base actors.Config, accounts []accountLine, storePath string, timeout time.Duration, tel *telemetry.Telemetry) (_ *fleetRun, err error) {
	r := &fleetRun{}
	defer func() {
		if err != nil {
			r.close(time.Second)
		}
	}()
	if storePath != "" {
		if r.store, err = actors.OpenBoltStore(storePath); err != nil {
			return nil, fmt.Errorf("--session %s: %w", storePath, err)
		}
	}
	r.fleet, err = actors.NewFleet(ctx, actors.FleetConfig{
		APIID: base.APIID, APIHash: base.APIHash, DCs: base.DCs, PublicKeys: base.PublicKeys,
		Store: r.store, Telemetry: tel, Logger: base.Logger,
	})
	if err != nil {
		return nil, err
	}
	// The Fleet's telemetry and logger (with an "account" attribute) are
	// every account's.
	base.Telemetry, base.Logger = nil, nil
	for _, a := range accounts {
		cfg := base
		cacheCfg := entitycache.Config{Telemetry: tel}
		if a.session != "" {
			cfg.SessionFile = a.session
			cfg.Scheduler.HomeDC = 0 // the session's own
			cacheCfg.Path = a.session + ".entities.db"
			acc := &entitycache.Account{DCs: base.DCs}
			if la, ok, _ := actors.LoadAccount(a.session); ok {
				acc.SelfID = la.UserID
			}
			cacheCfg.Account = acc
		} else if storePath != "" {
			if _, ok, _ := r.store.Account(a.name).LoadHomeDC(); ok {
				// A run before logged it in: its key lives on its home DC.
				cfg.Scheduler.HomeDC = 0
			}
			cacheCfg.Path = storePath + "." + a.name + ".entities.db"
			cacheCfg.Account = &entitycache.Account{DCs: base.DCs}
		}
		client, err := r.fleet.Add(ctx, a.name, actors.AccountConfig{BotToken: a.token, Config: cfg})
		if err != nil {
			return nil, err
		}
		// Each account resolves peers with its own cache: access hashes
		// are per account. Attached before its first call.
		cache, err := entitycache.Open(cacheCfg)
		if err == nil {
			if err = cache.Attach(client); err != nil {
				cache.Close()
			}
		}
		if err != nil {
			return nil, fmt.Errorf("account %s: entity cache: %w", a.name, err)
		}
		r.caches = append(r.caches, cache)
		r.clients = append(r.clients, client)
		r.members = append(r.members, accountpool.Member{
			Account: jobs.Account{Name: a.name, Sender: jobs.Actors(client), Peers: cache},
			Rate:    pacedRate(client),
		})
	}
	for i, err := range loginAccounts(ctx, r.fleet, accounts, timeout) {
		if err != nil {
			r.members[i].Down = err
		}
	}
	return r, nil
}

// pacedRate is an account's paced rate (sends per second), 0 when it is
// not paced or does not answer.
func pacedRate(c *actors.Client) func(ctx context.Context) float64 {
	return func(ctx context.Context) float64 {
		r, err := c.Pacing(ctx)
		if err != nil || !r.On {
			return 0
		}
		return r.Account
	}
}

// loginConcurrency is how many accounts are probed at once.
const loginConcurrency = 16

// loginAccounts logs the fleet's token accounts in with Fleet.LoginAll
// (paced fleet-wide under Telegram's login and connection rates; a key its
// Store records as logged in as its bot is not logged in again) and checks
// that the session accounts' servers answer. It returns each account's
// error, in accounts' order (nil: ready): one account's failure is its
// own. timeout bounds each probe, and the logins together with the time
// their pacing needs.
func loginAccounts(ctx context.Context, fleet *actors.Fleet, accounts []accountLine, timeout time.Duration) []error {
	errs := make([]error, len(accounts))
	var tokens []string
	var at []int
	for i, a := range accounts {
		if a.token != "" {
			tokens, at = append(tokens, a.name), append(at, i)
		}
	}
	var wg sync.WaitGroup
	sem := make(chan struct{}, loginConcurrency)
	if len(tokens) > 0 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Logins are paced (LoginsPerSecond), and so are the one or
			// two connections each opens (ConnsPerSecond, 10/s; a second
			// after a USER_MIGRATE); a FLOOD_WAIT pauses them all for up
			// to LoginMaxWait (1 min).
			budget := timeout + time.Minute + time.Duration(len(tokens))*300*time.Millisecond
			lctx, cancel := context.WithTimeout(ctx, budget)
			defer cancel()
			var swg sync.WaitGroup
			for j, r := range fleet.LoginAll(lctx, tokens...) {
				i := at[j]
				switch {
				case r.Err != nil:
					errs[i] = fmt.Errorf("log in: %w", r.Err)
				case r.Skipped:
					// Logged in in an earlier run, by the Store's record:
					// checked, as the authorization may have been revoked
					// since (then it logs in again).
					swg.Add(1)
					sem <- struct{}{}
					go func() {
						defer swg.Done()
						defer func() { <-sem }()
						errs[i] = checkLogin(lctx, fleet, accounts[i], timeout)
					}()
				}
			}
			swg.Wait()
		}()
	}
	for i, a := range accounts {
		if a.token != "" {
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			c, err := fleet.Client(a.name)
			if err == nil {
				err = probe(ctx, c, timeout)
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	return errs
}

// checkLogin checks that a token account whose Store says it is logged
// in still is, as its bot (users.getUsers(self)); an authorization
// revoked since (AUTH_KEY_UNREGISTERED) logs in again.
func checkLogin(ctx context.Context, fleet *actors.Fleet, a accountLine, timeout time.Duration) error {
	c, err := fleet.Client(a.name)
	if err != nil {
		return err
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var users tg.UserClassVector
	err = c.Invoke(cctx, &tg.UsersGetUsersRequest{ID: []tg.InputUserClass{&tg.InputUserSelf{}}}, &users)
	if tgerr.Is(err, "AUTH_KEY_UNREGISTERED", "SESSION_REVOKED", "SESSION_EXPIRED") {
		if _, err := fleet.Login(ctx, a.name); err != nil {
			return fmt.Errorf("log in again (the kept authorization was revoked): %w", err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("check the kept login: %w", err)
	}
	u, ok := tg.UserClassArray(users.Elems).FirstAsNotEmpty()
	if m := botToken.FindStringSubmatch(a.token); !ok || m == nil || strconv.FormatInt(u.ID, 10) != m[1] {
		return fmt.Errorf("the kept key is not the token's bot's")
	}
	return nil
}

// close closes the Fleet (each account's calls in flight get d to
// finish), then the caches and the store.
func (r *fleetRun) close(d time.Duration) {
	r.closeFleet(d)
	for _, c := range r.caches {
		c.Close()
	}
	r.caches = nil
	if r.store != nil {
		r.store.Close()
		r.store = nil
	}
}

// closeFleet closes the Fleet: each account's calls in flight get d to
// finish. The caches stay open for the jobs still resolving.
func (r *fleetRun) closeFleet(d time.Duration) {
	if r.fleet != nil {
		ctx, cancel := context.WithTimeout(context.Background(), d)
		_ = r.fleet.Close(ctx)
		cancel()
		r.fleet = nil
	}
}

// printAccountCounts prints what each account of a run did.
func printAccountCounts(w io.Writer, counts []accountpool.Count) {
	width := 0
	for _, c := range counts {
		width = max(width, len(c.Name))
	}
	fmt.Fprintln(w, "accounts:")
	for _, c := range counts {
		fmt.Fprintf(w, "  %-*s  %d ok, %d failed, %d not finished; %d chats\n", width, c.Name, c.OK, c.Failed, c.Dropped, c.Chats)
	}
}
