package actors

import (
	"errors"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/cenkalti/backoff/v4"
	"github.com/gotd/td/proto/codec"
)

// Reconnect pacing of a DC actor. Three rules, each with its reason:
//
//   - Failures in a row (failed dials, lost connections) wait an
//     exponential backoff with jitter (Config.RedialBackoff up to
//     Config.RedialBackoffMax). The count resets only after a connection
//     has carried answers for Config.HealthyAfter, not when one opens: a
//     server that accepts connections and drops them (answering -429, say)
//     would otherwise be redialled every RedialBackoff, a storm.
//   - A transport -429 ("too many connections from this IP, or service
//     message limits") waits at least Config.TransportFloodWait, doubling
//     with each further -429 until a healthy connection (at most
//     max(TransportFloodWait, RedialBackoffMax)).
//   - Connection openings per DC are rate-limited (Config.DialLimits;
//     TDLib's figures by default: at most 1 per 1 s, 2 per 4 s, 3 per 8 s).
//
// Each redial is logged at Debug with its reason and wait.

// DialLimit allows at most N connection openings to one DC in any window
// of length Per.
type DialLimit struct {
	N   int
	Per time.Duration
}

// DefaultDialLimits are TDLib's limits on opening connections to one DC.
var DefaultDialLimits = []DialLimit{{1, time.Second}, {2, 4 * time.Second}, {3, 8 * time.Second}}

// dialLimiter remembers a DC's recent connection openings and says when
// the next one is allowed. It reads no clock: callers pass the time.
type dialLimiter struct {
	limits []DialLimit // valid entries only
	keep   int         // openings remembered: the largest N
	opened []time.Time // oldest first
}

// newDialLimiter ignores entries with N or Per not positive; with none
// left it allows every dial.
func newDialLimiter(limits []DialLimit) dialLimiter {
	var l dialLimiter
	for _, x := range limits {
		if x.N > 0 && x.Per > 0 {
			l.limits = append(l.limits, x)
			l.keep = max(l.keep, x.N)
		}
	}
	return l
}

// next returns the earliest time at or after at when a dial is allowed:
// for each limit, the N-th most recent opening must be Per before it.
func (l *dialLimiter) next(at time.Time) time.Time {
	for _, x := range l.limits {
		if len(l.opened) >= x.N {
			if t := l.opened[len(l.opened)-x.N].Add(x.Per); t.After(at) {
				at = t
			}
		}
	}
	return at
}

// record notes a connection opening at now.
func (l *dialLimiter) record(now time.Time) {
	if l.keep == 0 {
		return
	}
	l.opened = append(l.opened, now)
	if len(l.opened) > l.keep {
		l.opened = append(l.opened[:0], l.opened[len(l.opened)-l.keep:]...)
	}
}

// reconnectConfig is the pacing part of the Config (defaults applied).
type reconnectConfig struct {
	initial, max time.Duration // Config.RedialBackoff, RedialBackoffMax
	jitter       float64       // ± share of each wait; 0 in tests
	healthyAfter time.Duration // Config.HealthyAfter
	floodWait    time.Duration // Config.TransportFloodWait
	limits       []DialLimit   // Config.DialLimits
}

// reconnect is one DC actor's pacing state. Its clock is injected (the
// DC actor passes time.Now()).
type reconnect struct {
	cfg     reconnectConfig
	now     time.Time // the time of the last event, for the backoff's clock
	bo      *backoff.ExponentialBackOff
	flood   time.Duration // the wait after the last -429; 0 before one
	limiter dialLimiter
	// The current connection: when it opened (zero when there is none)
	// and whether a frame arrived on it.
	upAt     time.Time
	answered bool
}

func newReconnect(cfg reconnectConfig, now time.Time) *reconnect {
	r := &reconnect{cfg: cfg, now: now, limiter: newDialLimiter(cfg.limits)}
	r.bo = backoff.NewExponentialBackOff(
		backoff.WithInitialInterval(cfg.initial),
		backoff.WithMaxInterval(cfg.max),
		backoff.WithMaxElapsedTime(0), // never stop redialling
		backoff.WithMultiplier(2),
		backoff.WithRandomizationFactor(cfg.jitter),
		backoff.WithClockProvider(clock{&r.now}),
	)
	return r
}

// clock lets backoff/v4 read the injected time.
type clock struct{ t *time.Time }

func (c clock) Now() time.Time { return *c.t }

// dialing records a connection opening.
func (r *reconnect) dialing(now time.Time) {
	r.now = now
	r.limiter.record(now)
}

// connected records that a connection opened.
func (r *reconnect) connected(now time.Time) {
	r.now, r.upAt, r.answered = now, now, false
}

// answer records a frame on the current connection; it reports whether it
// is the first.
func (r *reconnect) answer() bool {
	first := !r.answered && !r.upAt.IsZero()
	r.answered = true
	return first
}

// healthy reports whether the current connection carried answers for
// HealthyAfter by now.
func (r *reconnect) healthy(now time.Time) bool {
	return !r.upAt.IsZero() && r.answered && now.Sub(r.upAt) >= r.cfg.healthyAfter
}

// lost records a failed dial or a lost connection (err) and returns how
// long to wait before the next dial, and why.
func (r *reconnect) lost(now time.Time, err error) (time.Duration, string) {
	r.now = now
	reason := "dial failed"
	if !r.upAt.IsZero() {
		reason = "connection lost"
		if r.healthy(now) {
			// A connection that worked ends a run of failures.
			r.bo.Reset()
			r.flood = 0
			reason = "healthy connection lost"
		}
	}
	r.upAt, r.answered = time.Time{}, false
	wait := r.bo.NextBackOff()
	if transportCode(err) == codec.CodeTransportFlood {
		// MTProto transport error -429: too many connections or
		// messages; back off harder than for a network fault.
		if r.flood == 0 {
			r.flood = r.cfg.floodWait
		} else {
			r.flood = min(2*r.flood, max(r.cfg.floodWait, r.cfg.max))
		}
		wait = max(wait, r.flood)
		reason = "transport flood (-429)"
	}
	at := r.limiter.next(now.Add(wait))
	if at.After(now.Add(wait)) {
		reason += ", dial rate limit"
	}
	return at.Sub(now), reason
}

// allowed reports whether a dial may start at now; if not, how long to
// wait (the dial rate limit).
func (r *reconnect) allowed(now time.Time) (time.Duration, bool) {
	at := r.limiter.next(now)
	return at.Sub(now), !at.After(now)
}

// transportCode returns the MTProto transport error code in err as a
// positive number (404, 429), or 0.
func transportCode(err error) int32 {
	var pe *codec.ProtocolErr
	if errors.As(err, &pe) {
		return pe.Code
	}
	var pv codec.ProtocolErr
	if errors.As(err, &pv) {
		return pv.Code
	}
	return 0
}

// opened tells the pacing and the scheduler actor that a connection
// opened: the calls waiting for the DC may go (scheduler.DCConnected).
func (a *dcActor) opened(ctx actor.Context) {
	a.rc.connected(time.Now())
	if a.conn.Exchanged {
		a.keyLoaded = false // made by this connection, not the Store's
	}
	ctx.Send(ctx.Parent(), &dcConnectedMsg{dc: a.id})
}

// answered notes a frame on the current connection; the first one tells
// the scheduler actor that the DC answers again (scheduler.DCUp).
func (a *dcActor) answered(ctx actor.Context) {
	a.endOutage()
	if a.rc.answer() {
		ctx.Send(ctx.Parent(), &dcUpMsg{dc: a.id})
	}
}
