package actors

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/gotd/td/exchange"
	"golang.org/x/time/rate"

	"github.com/tlsched/tlsched/telemetry"
)

// A Fleet runs many accounts in one actor system (issue 18). Each account
// is a tree of actors of its own: its scheduler actor (scheduling state,
// flood gates, learned limits) is the root, spawned as "account/NAME", and
// its DC actors are the scheduler actor's children, so a failure in one
// account (a panic, a revoked key, a ban) is handled by that account's
// supervisors and never reaches another's. Each account has its own Store
// namespace (BoltDB.Account(NAME) of FleetConfig.Store), its own entity
// cache in that namespace (entitycache.ForAccount, through
// AccountResource), its own dialer and its own Config. A Client of a Fleet is a view of one account: it
// works as a Client of Start does, and its Close removes the account.
type Fleet struct {
	cfg    FleetConfig
	system *actor.ActorSystem

	logins *loginPacer   // LoginAll's pacing
	conns  *rate.Limiter // new connections of accounts on the default dialer; nil: not paced

	mu       sync.Mutex
	closed   bool
	accounts map[string]*fleetAccount
}

// fleetAccount is one account of a Fleet.
type fleetAccount struct {
	client   *Client
	botToken string

	// resMu guards the account's resources (AccountResource), and is held
	// while one opens; gone: the account is closed, its resources too.
	resMu sync.Mutex
	res   map[any]io.Closer
	gone  bool
}

// FleetConfig is what a Fleet's accounts share. Its zero value runs
// accounts against Telegram's production DCs, each with a MemoryStore.
type FleetConfig struct {
	// APIID and APIHash are every account's (Config.APIID, Config.APIHash)
	// unless an account's Config sets its own.
	APIID   int
	APIHash string
	// DCs and PublicKeys are the servers' (Config.DCs, Config.PublicKeys);
	// defaults Telegram's.
	DCs        map[int]string
	PublicKeys []exchange.PublicKey
	// Store keeps every account's keys, home DC and learned limits, each
	// under its name (BoltDB.Account); it stays the caller's to close,
	// after the Fleet. Nil: each account has a MemoryStore unless its
	// AccountConfig names a session file or a Store.
	Store *BoltDB
	// Telemetry records every account's calls; nil records nothing.
	Telemetry *telemetry.Telemetry
	// Logger receives every account's events, with an "account"
	// attribute. Default: discard.
	Logger *slog.Logger
	// IdleTimeout is every account's Config.IdleTimeout unless the
	// account's Config sets one (negative there: never). Default 0: idle
	// accounts stay connected.
	IdleTimeout time.Duration

	// LoginsPerSecond paces LoginAll's logins, all accounts together
	// (Telegram limits logins per client address). Default
	// DefaultLoginsPerSecond (20); negative: not paced.
	LoginsPerSecond float64
	// ConnsPerSecond paces the opening of new connections (for a login,
	// a first call, a reconnect) by every account that uses the default
	// dialer: they share this host's address, and Telegram answers an
	// address that opens too many too fast with transport error -429.
	// An account with its own Config.Dialer (a proxy: another address)
	// is not paced by it. Default DefaultConnsPerSecond (10); negative:
	// not paced.
	ConnsPerSecond float64
	// LoginConcurrency bounds LoginAll's logins in progress at once.
	// Default DefaultLoginConcurrency (16).
	LoginConcurrency int
	// LoginMaxWait is the longest FLOOD_WAIT on a login that LoginAll
	// waits out before logging the account in again; a longer one fails
	// that account. Default DefaultLoginMaxWait (1 min).
	LoginMaxWait time.Duration
}

// AccountConfig is one account of a Fleet.
type AccountConfig struct {
	// BotToken is the bot's token for Fleet.Login; Add does not log in
	// (nor open any connection).
	BotToken string
	// Config configures the account's Client. Its zero DCs, PublicKeys,
	// APIID, APIHash, Telemetry and Logger are the Fleet's; its Store
	// defaults to the Fleet's Store's namespace of the account when
	// SessionFile is empty. Dialer is the account's own (a proxy, say).
	Config Config
}

// ErrFleetClosed is returned by a Fleet's methods after Close.
var ErrFleetClosed = errors.New("tlsched: fleet closed")

// ErrAccountExists is returned by Fleet.Add for a name in use.
var ErrAccountExists = errors.New("tlsched: account exists")

// ErrNoAccount is returned for a name that is not one of the Fleet's.
var ErrNoAccount = errors.New("tlsched: no such account")

// NewFleet starts the Fleet's actor system. It opens no connection.
func NewFleet(ctx context.Context, cfg FleetConfig) (*Fleet, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.LoginsPerSecond == 0 {
		cfg.LoginsPerSecond = DefaultLoginsPerSecond
	}
	if cfg.ConnsPerSecond == 0 {
		cfg.ConnsPerSecond = DefaultConnsPerSecond
	}
	if cfg.LoginConcurrency <= 0 {
		cfg.LoginConcurrency = DefaultLoginConcurrency
	}
	if cfg.LoginMaxWait <= 0 {
		cfg.LoginMaxWait = DefaultLoginMaxWait
	}
	f := &Fleet{cfg: cfg, system: newActorSystem(cfg.Logger, cfg.Telemetry), accounts: map[string]*fleetAccount{},
		logins: newLoginPacer(cfg.LoginsPerSecond)}
	if cfg.ConnsPerSecond > 0 {
		f.conns = rate.NewLimiter(rate.Limit(cfg.ConnsPerSecond), 1)
	}
	// One gauge for the whole Fleet: the sum over its accounts.
	cfg.Telemetry.Gauges(f.gauges)
	// One dead-letter handler for the whole Fleet: one per account would
	// make every dead letter cost O(accounts).
	f.system.EventStream.Subscribe(f.deadLetters)
	return f, nil
}

// deadLetters hands a dead letter sent to an account's scheduler actor
// to that account's Client (Client.deadLetters).
func (f *Fleet) deadLetters(ev any) {
	dl, ok := ev.(*actor.DeadLetterEvent)
	if !ok || dl.PID == nil {
		return
	}
	name, ok := strings.CutPrefix(dl.PID.Id, accountPIDPrefix)
	if !ok {
		return
	}
	f.mu.Lock()
	a := f.accounts[name]
	f.mu.Unlock()
	if a != nil {
		a.client.deadLetters(ev)
	}
}

// gauges sums the calls in flight and queued of every account.
func (f *Fleet) gauges() (inFlight, queued int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, a := range f.accounts {
		inFlight += a.client.inFlight.Load()
		queued += a.client.queued.Load()
	}
	return inFlight, queued
}

// Add adds an account named name (not empty, unique in the Fleet, without
// "/": it names the account's actors) and returns its Client. Its actors
// start at once; its connections open on its first call, as a Client's do.
func (f *Fleet) Add(ctx context.Context, name string, ac AccountConfig) (*Client, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if name == "" || strings.Contains(name, "/") {
		return nil, fmt.Errorf("tlsched: fleet: account name %q: empty or with a \"/\"", name)
	}
	if err := f.free(name); err != nil {
		return nil, err
	}
	// Outside the lock: a session file may take a while to open (another
	// process holding it).
	cfg, err := f.accountConfig(name, ac.Config).prepare()
	if err != nil {
		return nil, fmt.Errorf("tlsched: account %q: %w", name, err)
	}
	closeStore := func() {
		if cfg.closeStore != nil {
			_ = cfg.closeStore()
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.freeLocked(name); err != nil {
		closeStore()
		return nil, err
	}
	c, err := startAccount(f.system, name, cfg)
	if err != nil {
		closeStore()
		return nil, err
	}
	c.onClose = func() error { return f.forget(name, c) }
	f.accounts[name] = &fleetAccount{client: c, botToken: ac.BotToken}
	return c, nil
}

// free checks that the Fleet is open and name not in use.
func (f *Fleet) free(name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.freeLocked(name)
}

func (f *Fleet) freeLocked(name string) error {
	if f.closed {
		return ErrFleetClosed
	}
	if _, ok := f.accounts[name]; ok {
		return fmt.Errorf("%w: %q", ErrAccountExists, name)
	}
	return nil
}

// accountConfig fills an account's Config with what the Fleet shares.
func (f *Fleet) accountConfig(name string, cfg Config) Config {
	if cfg.DCs == nil {
		cfg.DCs = f.cfg.DCs
	}
	if cfg.PublicKeys == nil {
		cfg.PublicKeys = f.cfg.PublicKeys
	}
	if cfg.APIID == 0 && cfg.Session.Init.APIID == 0 {
		cfg.APIID = f.cfg.APIID
	}
	if cfg.APIHash == "" {
		cfg.APIHash = f.cfg.APIHash
	}
	if cfg.Telemetry == nil {
		cfg.Telemetry = f.cfg.Telemetry
	}
	if cfg.Logger == nil {
		cfg.Logger = f.cfg.Logger.With("account", name)
	}
	if cfg.IdleTimeout == 0 {
		cfg.IdleTimeout = f.cfg.IdleTimeout
	}
	if cfg.Dialer == nil {
		// The accounts that dial directly share this host's address.
		cfg.connPace = f.conns
	}
	if cfg.Store == nil && cfg.SessionFile == "" {
		if f.cfg.Store != nil {
			cfg.Store = f.cfg.Store.Account(name)
		} else {
			// Never the default file: accounts would share it.
			cfg.Store = NewMemoryStore()
		}
	}
	return cfg
}

// forget drops a closed account (Client.Close) and closes its resources.
func (f *Fleet) forget(name string, c *Client) error {
	f.mu.Lock()
	a, ok := f.accounts[name]
	if !ok || a.client != c {
		f.mu.Unlock()
		return nil
	}
	delete(f.accounts, name)
	f.mu.Unlock()
	return a.closeResources()
}

// Client returns the Client of the account named name.
func (f *Fleet) Client(name string) (*Client, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	a, ok := f.accounts[name]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrNoAccount, name)
	}
	return a.client, nil
}

// List returns the names of the Fleet's accounts, sorted.
func (f *Fleet) List() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	names := make([]string, 0, len(f.accounts))
	for n := range f.accounts {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Login logs the account named name in with its AccountConfig.BotToken
// (Client.Login), even if it is logged in already, when LoginAll's
// pacing (FleetConfig.LoginsPerSecond, and a pause after a FLOOD_WAIT
// LoginAll met) lets it. Errors are Client.Login's: a FLOOD_WAIT up to
// the account's flood budget is waited out by its scheduler, for this
// account only. To log many accounts in, use LoginAll.
func (f *Fleet) Login(ctx context.Context, name string) (*Account, error) {
	f.mu.Lock()
	a, ok := f.accounts[name]
	f.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrNoAccount, name)
	}
	if a.botToken == "" {
		return nil, fmt.Errorf("tlsched: account %q has no bot token", name)
	}
	if err := f.logins.wait(ctx); err != nil {
		return nil, err
	}
	return a.client.Login(ctx, Credentials{BotToken: a.botToken})
}

// Remove closes the account named name (Client.Close: its calls in flight
// are answered first, or fail with ErrClosed when ctx ends), stops its
// actors and closes its resources (AccountResource: its entity cache); the
// other accounts are untouched. Its Store namespace (its keys, its entity
// cache's records) is kept; BoltDB.DeleteAccount forgets it.
func (f *Fleet) Remove(ctx context.Context, name string) error {
	c, err := f.Client(name)
	if err != nil {
		return err
	}
	return c.Close(ctx)
}

// Close closes every account (as Remove does, all under ctx), then stops
// the actor system. The Fleet serves no more accounts.
func (f *Fleet) Close(ctx context.Context) error {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return nil
	}
	f.closed = true
	clients := make([]*Client, 0, len(f.accounts))
	for _, a := range f.accounts {
		clients = append(clients, a.client)
	}
	f.mu.Unlock()
	var (
		wg   sync.WaitGroup
		emu  sync.Mutex
		errs []error
	)
	for _, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := c.Close(ctx); err != nil {
				emu.Lock()
				errs = append(errs, fmt.Errorf("account %q: %w", c.name, err))
				emu.Unlock()
			}
		}()
	}
	wg.Wait()
	f.system.Shutdown()
	f.cfg.Telemetry.Gauges(nil)
	return errors.Join(errs...)
}

// accountPIDPrefix starts the name of an account's scheduler actor.
const accountPIDPrefix = "account/"
