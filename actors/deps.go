package actors

import (
	"cmp"
	"context"
	"log/slog"
	"net"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/gotd/td/exchange"
	"golang.org/x/time/rate"

	"github.com/tlsched/tlsched/mtproto"
	"github.com/tlsched/tlsched/scheduler"
	"github.com/tlsched/tlsched/telemetry"
	"github.com/tlsched/tlsched/tl"
)

// The actors receive what they use, not the Client facade: Start builds
// these values from the Config (defaults applied) and the facade's hooks.

// contextDialer opens TCP connections (Config.Dialer).
type contextDialer = interface {
	DialContext(ctx context.Context, network, addr string) (net.Conn, error)
}

// schedulerDeps is what the scheduler actor uses.
type schedulerDeps struct {
	// config is the scheduling policy (Config.Scheduler).
	config scheduler.Config
	// dcs maps DC ids to host:port; a DC actor is spawned on a DC's first
	// batch (Config.DCs).
	dcs map[int]string
	// onResult is shown every successful result (Config.OnResult); nil for
	// none.
	onResult func(method *tl.Definition, body []byte)
	// log receives what goes wrong in the scheduler actor (Config.Logger).
	log *slog.Logger
	// release gives a caller's queue slot back (Config.BlockWhenFull); it is
	// called once for every call the actor finishes.
	release func()
	// gauges publishes the calls in flight and queued; nil without
	// telemetry.
	gauges func(inFlight, queued int64)
	// restartBackoff and restartWindow pace restarts of a failed DC actor
	// (Config.RestartBackoff, Config.RestartWindow).
	restartBackoff, restartWindow time.Duration
	// saveHomeDC records a new home DC (HomeDCStore); nil if the Store
	// does not keep it.
	saveHomeDC func(dc int)
	// homeDC is the home DC a migration moved the scheduler to (0: none
	// yet), for the next life of a restarted scheduler actor.
	homeDC *atomic.Int64
	// dcRecords keeps each DC's openings and the end of its key across
	// the lives of its DC actors and of the scheduler actor (idle.go).
	dcRecords *dcRecords
	// limits keeps the pacer's learned limits (LimitsStore); nil if the
	// Store does not, or pacing is off.
	limits LimitsStore
	// clock is the scheduler's time (Config.TimeScale).
	clock schedClock
	// closed is the Client's: Close was called.
	closed *atomic.Bool
	// stopped is set, and read by the Client, once the scheduler actor
	// has failed for good (scheduler_supervisor.go).
	stopped *atomic.Bool
	// idleTimeout stops the DC actors after that long with no call
	// pending (Config.IdleTimeout, idle.go); 0: never.
	idleTimeout time.Duration
	// idleSeen counts the idle timer's arming and firing, for tests that
	// wait for it instead of sleeping.
	idleSeen *idleCounts
	// dc is handed to every DC actor the scheduler actor spawns.
	dc dcDeps
}

// dcDeps is what a DC actor uses.
type dcDeps struct {
	// root posts messages from the DC actor's dial and reader goroutines
	// into its own mailbox.
	root *actor.RootContext
	// dialer opens TCP connections; nil for mtproto.Dial's default.
	dialer contextDialer
	// publicKeys are the servers' RSA keys for a key exchange.
	publicKeys []exchange.PublicKey
	// dialTimeout bounds one dial with its key exchange.
	dialTimeout time.Duration
	// connPace, if set, is waited on before each dial (Config.connPace).
	connPace *rate.Limiter
	// session configures each MTProto session.
	session mtproto.Config
	// store loads and saves the DC's auth key and salt.
	store Store
	// primes holds the DH primes verified before, shared by the Client's
	// DC actors: a key exchange skips the primality check of those.
	primes *mtproto.PrimeCache
	// log receives connection events; the DC actor adds its "dc" attribute.
	log *slog.Logger
	// telemetry records connections, frames and containers; nil records
	// nothing.
	telemetry *telemetry.Telemetry
	// writeTimeout bounds writing one frame.
	writeTimeout time.Duration
	// reconnect paces reconnection (reconnect.go).
	reconnect reconnectConfig
	// updates takes the updates the server pushes (Config.UpdateHandler);
	// nil drops them.
	updates *updateQueue
	// outageTimeout is how long the DC actor keeps the calls of a DC it
	// cannot reach before handing them back (Scheduler.OutageTimeout).
	outageTimeout time.Duration
	// sessionFile names the logged-in session whose keys are never
	// replaced (Config.SessionFile); empty for none.
	sessionFile string
	// server is the servers' identity, naming DCs in the store
	// (storenames.go).
	server string
	// generations hands out connection generations, unique for the
	// Client's life: a DC actor restarted by its supervisor has the same
	// mailbox, and must not take a message of its previous life's
	// goroutines for its own (TestRestartedDCActorIgnoresItsPreviousLife).
	generations *atomic.Int64
	// openings is the DC's record of connection openings kept across idle
	// stops, and of its key's end kept across every life (idle.go); set
	// by the scheduler actor per DC.
	openings *dialRecord
}

// limitsStore returns the Store as a LimitsStore when pacing is on.
func limitsStore(cfg Config) LimitsStore {
	ls, ok := cfg.Store.(LimitsStore)
	if !ok || !cfg.Scheduler.Pacing.On {
		return nil
	}
	return ls
}

// nextGeneration returns a connection generation no DC actor of the Client
// had before.
func (d dcDeps) nextGeneration() int { return int(d.generations.Add(1)) }

// newDeps builds the scheduler actor's dependencies (and, inside them, the
// DC actors') from a Config with defaults applied.
func newDeps(cfg Config, root *actor.RootContext, release func(), gauges func(inFlight, queued int64)) schedulerDeps {
	return schedulerDeps{
		config:         cfg.Scheduler,
		dcs:            cfg.DCs,
		onResult:       cfg.OnResult,
		log:            cfg.Logger,
		saveHomeDC:     homeDCSaver(cfg.Store, cfg.server, cfg.Logger),
		homeDC:         new(atomic.Int64),
		dcRecords:      new(dcRecords),
		limits:         limitsStore(cfg),
		clock:          newSchedClock(cfg.TimeScale),
		release:        release,
		gauges:         gauges,
		restartBackoff: cfg.RestartBackoff,
		restartWindow:  cfg.RestartWindow,
		idleTimeout:    cfg.IdleTimeout,
		idleSeen:       new(idleCounts),
		dc: dcDeps{
			root:         root,
			dialer:       cfg.Dialer,
			publicKeys:   cfg.PublicKeys,
			dialTimeout:  cfg.DialTimeout,
			connPace:     cmp.Or(cfg.connPace, cfg.ConnLimiter),
			session:      cfg.Session,
			store:        cfg.Store,
			primes:       newPrimeCache(cfg.Store, cfg.Logger),
			log:          cfg.Logger,
			telemetry:    cfg.Telemetry,
			writeTimeout: cfg.WriteTimeout,
			reconnect: reconnectConfig{initial: cfg.RedialBackoff, max: cfg.RedialBackoffMax, jitter: defaultRedialJitter,
				healthyAfter: cfg.HealthyAfter, floodWait: cfg.TransportFloodWait, limits: cfg.DialLimits},
			sessionFile:   cfg.SessionFile,
			server:        cfg.server,
			outageTimeout: newSchedClock(cfg.TimeScale).real(cfg.Scheduler.OutageTimeout), // the scheduler's time
			generations:   new(atomic.Int64),
		},
	}
}
