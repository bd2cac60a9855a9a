package actors

import (
	"context"
	_ "embed"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"time"

	"github.com/gotd/td/crypto"
	"github.com/gotd/td/exchange"
	"golang.org/x/time/rate"

	"github.com/tlsched/tlsched/mtproto"
	"github.com/tlsched/tlsched/scheduler"
	"github.com/tlsched/tlsched/telemetry"
	"github.com/tlsched/tlsched/tl"
)

// telegramKeys are Telegram's production server RSA public keys, as
// published by the official clients.
//
//go:embed telegram_public_keys.pem
var telegramKeys []byte

// ProductionDCs are Telegram's production DC addresses (IPv4).
var ProductionDCs = map[int]string{
	1: "149.154.175.53:443",
	2: "149.154.167.51:443",
	3: "149.154.175.100:443",
	4: "149.154.167.91:443",
	5: "91.108.56.130:443",
}

// Config configures a Client. The zero value talks to Telegram's production
// DCs with the built-in keys.
type Config struct {
	// APIID and APIHash are the application's api_id and api_hash
	// (my.telegram.org): APIID goes into initConnection, both into Login.
	// Telegram needs them; test servers take any. APIID also sets
	// Session.Init.APIID (where it lived before, still read when APIID is
	// zero).
	APIID   int
	APIHash string
	// SessionFile names the file of a logged-in account (Login, or
	// tlworker login): the Store, unless one is given, is the
	// DefaultAccount of the bbolt store at this path (OpenBoltStore: a
	// file in the JSON format of releases before issue 18 is migrated
	// when the Client starts, and kept as FILE.bak; the file is held
	// open, and locked against other processes, until Close); the home
	// DC is the one saved in it (or in its account file, AccountPath); and a key the server rejects (-404 on a fresh
	// connection) is never replaced by a new one, which would log the
	// account out silently: calls for that DC fail with *AuthKeyLostError
	// instead. Empty: no session file, and a rejected key is replaced.
	SessionFile string
	// DCs maps DC ids to host:port. Default ProductionDCs.
	DCs map[int]string
	// PublicKeys are the servers' RSA keys for key exchange. Default:
	// Telegram's.
	PublicKeys []exchange.PublicKey
	// Scheduler configures batching, chains, flood gates and retries. Its
	// HomeDC defaults to the one the Store kept (HomeDCStore), else 2.
	Scheduler scheduler.Config
	// Session configures each DC's MTProto session (container caps,
	// initConnection parameters).
	Session mtproto.Config
	// Store keeps auth keys (and the home DC, if it implements
	// HomeDCStore) across restarts, named by DC id and the server's
	// identity (the fingerprints of PublicKeys; "telegram" for the
	// built-in keys), not by address (storenames.go). Default:
	// the bbolt store at SessionFile if that is set; else, when DCs names
	// other servers than Telegram's, a MemoryStore (a test server's keys
	// are not worth a file); else the bbolt store at DefaultStorePath
	// (openDefaultStore: in memory if there is no configuration
	// directory, or if the file cannot be opened, another process holding
	// it for one). A Store given here is the caller's to close.
	Store Store
	// BlockWhenFull makes submissions wait for room when the scheduler
	// holds Scheduler.MaxQueued calls; by default they fail with
	// scheduler.ErrQueueFull. A batch (InvokeAll) waits for room for all
	// its calls at once, batches and calls in arrival order; a batch larger
	// than MaxQueued fails at once with an error matching
	// scheduler.ErrQueueFull.
	BlockWhenFull bool
	// Logger receives connection events. Default: discard. Key material is
	// never logged.
	Logger *slog.Logger
	// DialTimeout bounds one connection attempt with its key exchange.
	// Default 30 s.
	DialTimeout time.Duration
	// OnResult, if set, is shown every successful result: the method and its
	// TL body (which must not be modified). It runs on the scheduler actor's
	// goroutine and must not block; entitycache.Cache.LearnResult is meant
	// for it. A panic in it is logged (Logger) and the caller still gets
	// the result.
	OnResult func(method *tl.Definition, body []byte)
	// UpdateHandler, if set, is handed the updates the server pushes on
	// any of the account's connections (Telegram's Updates objects,
	// decoded), in the order each connection delivered them, and the
	// results of calls that are Updates (messages.sendMessage's, say), as
	// gotd's client does. Nil (the default): updates are dropped. It runs
	// on a goroutine of its own, never on the actors', so a slow handler
	// does not stall calls; it may itself call the Client. Up to
	// UpdateQueue updates wait for it; beyond that new ones are dropped
	// and counted (Client.DroppedUpdates): a handler that tracks pts, such
	// as gotd's updates.Manager, fetches them again with
	// updates.getDifference. Connections open on the first call, as
	// always: a call on the home DC (updates.getState, which
	// updates.Manager.Run makes) starts the flow of updates; a lost
	// connection is redialled. Its context is cancelled by Close, which
	// waits for a running Handle to return; updates still queued then are
	// dropped.
	UpdateHandler UpdateHandler
	// UpdateQueue bounds the updates waiting for UpdateHandler. Default
	// DefaultUpdateQueue.
	UpdateQueue int
	// Telemetry records a span per call and per container, and metrics
	// (telemetry.Setup). Nil records nothing.
	Telemetry *telemetry.Telemetry
	// Dialer opens TCP connections (a proxy, or a counting wrapper for
	// benchmarks). Default: a net.Dialer.
	Dialer interface {
		DialContext(ctx context.Context, network, addr string) (net.Conn, error)
	}
	// WriteTimeout bounds writing one frame to a DC's connection; a write
	// that takes longer counts as a lost connection (the calls it held are
	// retried on the next one). Default 30 s.
	WriteTimeout time.Duration
	// RedialBackoff and RedialBackoffMax pace reconnecting to a DC after a
	// dial failed or a connection was lost: the n-th such failure in a row
	// waits about RedialBackoff·2^(n-1) (±50% jitter), at most
	// RedialBackoffMax. The count resets only when a connection that
	// carried answers for HealthyAfter is lost, not when one opens.
	// Defaults 100 ms and 10 s. (reconnect.go)
	RedialBackoff, RedialBackoffMax time.Duration
	// HealthyAfter is how long a connection must have been open, with at
	// least one answer on it, for its loss to start a new run of redial
	// backoff. Default 5 s.
	HealthyAfter time.Duration
	// TransportFloodWait is the least wait before redialling after a
	// transport error -429 (too many connections); it doubles with each
	// further -429 until a healthy connection, up to
	// max(TransportFloodWait, RedialBackoffMax). Default 2 s.
	TransportFloodWait time.Duration
	// DialLimits caps connection openings per DC: at most N in any window
	// Per, for every entry. Nil means DefaultDialLimits (TDLib's: 1 per
	// 1 s, 2 per 4 s, 3 per 8 s); entries with N or Per not positive are
	// ignored, so a non-nil empty slice (or []DialLimit{{}}) disables the
	// limit.
	DialLimits []DialLimit
	// OutageTimeout is how long calls wait for a DC that cannot be reached
	// (its connection lost and no connection carrying answers since): calls
	// lost with the connection and calls queued for the DC wait without
	// counting attempts. Past it they fail with *scheduler.OutageError,
	// matching scheduler.ErrNotSent or scheduler.ErrMayHaveRun, and so do
	// later calls for that DC, at once, until a connection to it opens.
	// Sets Scheduler.OutageTimeout when positive; default 3 min.
	OutageTimeout time.Duration
	// RestartBackoff and RestartWindow pace restarting a DC actor that
	// failed (a panic: a bug, not a network fault; its calls are retried
	// and the restarted actor dials at once). The n-th failure waits
	// n·RestartBackoff, n counting the failures since one that came more
	// than RestartWindow after the one before it (protoactor-go's
	// exponential backoff strategy, which in fact grows linearly). This is
	// a policy of its own, apart from the redial backoff: it paces recovery
	// from our own faults, which redialling would not cure. Defaults 100 ms
	// and 1 min. (The scheduler actor has a fixed policy of its own,
	// scheduler_supervisor.go: restarted at once, at most 10 times within
	// 10 s, after which every call fails with ErrSchedulerStopped.)
	RestartBackoff, RestartWindow time.Duration

	// IdleTimeout, if positive, closes the account's connections once no
	// call has been pending for that long (their salts and time offset are
	// saved with the key in the Store); the next call opens them again,
	// each with a new MTProto session. An account with an
	// UpdateHandler stays connected. Default 0 (in a Fleet, its
	// FleetConfig.IdleTimeout); zero or negative: connections stay open.
	// Meant for a Fleet's many mostly idle accounts (idle.go).
	IdleTimeout time.Duration

	// TimeScale, for benchmarks and tests against a server that runs its
	// flood limits on a faster clock (tgsim's FloodConfig.Now): the
	// scheduler's clock runs TimeScale times faster than real time from
	// Start, so pacing rates, flood waits, backoff, budgets and deadlines
	// are in that clock's seconds, as the server's waits are. 0 or 1: real
	// time. Against Telegram leave it 0.
	TimeScale float64

	// server is the server's identity in the Store (storenames.go), set
	// by withDefaults.
	server string
	// closeStore releases the store withDefaults opened (the bbolt file
	// of SessionFile or of the default path); nil if it opened none.
	// Client.Close calls it.
	closeStore func() error
	// connPace, if set, is waited on before each connection attempt,
	// outside DialTimeout: a Fleet's pacing of new connections from this
	// host's address (FleetConfig.ConnsPerSecond), else ConnLimiter.
	connPace *rate.Limiter

	// ConnLimiter, if set, is waited on before each connection attempt
	// (outside DialTimeout): share one among the Clients that dial from
	// one address, as Telegram limits new connections per IP (a Fleet
	// does this itself, FleetConfig.ConnsPerSecond; a cluster member
	// gives its accounts one, DefaultConnsPerSecond).
	ConnLimiter *rate.Limiter
}

// Defaults of the Config fields that pace the DC actors.
const (
	defaultWriteTimeout     = 30 * time.Second
	defaultRedialBackoff    = 100 * time.Millisecond
	defaultRedialBackoffMax = 10 * time.Second
	defaultHealthyAfter     = 5 * time.Second
	defaultTransportFlood   = 2 * time.Second
	defaultRedialJitter     = 0.5
	defaultRestartBackoff   = 100 * time.Millisecond
	defaultRestartWindow    = time.Minute
)

// withDefaults fills in the documented defaults of the fields left zero.
func (cfg Config) withDefaults() (Config, error) {
	custom := cfg.DCs != nil && !maps.Equal(cfg.DCs, ProductionDCs)
	if cfg.DCs == nil {
		cfg.DCs = ProductionDCs
	}
	if cfg.APIID != 0 {
		cfg.Session.Init.APIID = cfg.APIID
	} else {
		cfg.APIID = cfg.Session.Init.APIID
	}
	// Telegram is "telegram" in the Store whatever keys this version has
	// built in, so that a release that changes them keeps every session.
	cfg.server = telegramServer
	if cfg.PublicKeys != nil {
		cfg.server = serverID(cfg.PublicKeys)
	}
	if cfg.PublicKeys == nil {
		keys, err := crypto.ParseRSAPublicKeys(telegramKeys)
		if err != nil {
			return cfg, fmt.Errorf("parse built-in keys: %w", err)
		}
		for _, k := range keys {
			cfg.PublicKeys = append(cfg.PublicKeys, exchange.PublicKey{RSA: k})
		}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	switch {
	case cfg.Store != nil:
	case cfg.SessionFile != "":
		db, err := OpenBoltStore(cfg.SessionFile)
		if err != nil {
			return cfg, fmt.Errorf("session file: %w", err)
		}
		cfg.Store, cfg.closeStore = db.Account(DefaultAccount), db.Close
	case custom:
		cfg.Store = NewMemoryStore()
	default:
		cfg.Store, cfg.closeStore = openDefaultStore(cfg.Logger)
	}
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = 30 * time.Second
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = defaultWriteTimeout
	}
	if cfg.RedialBackoff <= 0 {
		cfg.RedialBackoff = defaultRedialBackoff
	}
	if cfg.RedialBackoffMax <= 0 {
		cfg.RedialBackoffMax = defaultRedialBackoffMax
	}
	if cfg.HealthyAfter <= 0 {
		cfg.HealthyAfter = defaultHealthyAfter
	}
	if cfg.TransportFloodWait <= 0 {
		cfg.TransportFloodWait = defaultTransportFlood
	}
	if cfg.DialLimits == nil {
		cfg.DialLimits = DefaultDialLimits
	}
	if cfg.OutageTimeout > 0 {
		cfg.Scheduler.OutageTimeout = cfg.OutageTimeout
	}
	if cfg.RestartBackoff <= 0 {
		cfg.RestartBackoff = defaultRestartBackoff
	}
	if cfg.RestartWindow <= 0 {
		cfg.RestartWindow = defaultRestartWindow
	}
	cfg.Scheduler = cfg.Scheduler.WithDefaults()
	return cfg, nil
}
