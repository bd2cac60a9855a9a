package scheduler

import "time"

// Config configures a State. The zero value is usable.
type Config struct {
	// HomeDC is where calls without a DC go. Default 2. USER_/PHONE_/
	// NETWORK_MIGRATE move it.
	HomeDC int
	// Window is how long a DC with calls in flight waits for more calls
	// before sending a container. A DC with nothing in flight sends at once.
	// Default 1 ms (TDLib's figure).
	Window time.Duration
	// MaxMessages caps calls per batch. Default 1000 (TDLib); the mtproto
	// session adds acks within the protocol's 1024.
	MaxMessages int
	// MaxBytes caps the summed Call.Size of a batch; a larger call goes
	// alone. Default 32 KiB (TDLib's figure).
	MaxBytes int
	// MaxInFlight caps calls sent and unanswered per DC (backpressure).
	// Default 10000.
	MaxInFlight int
	// MaxQueued caps calls held (queued or in flight) in all; Submit then
	// returns ErrQueueFull. Default 1,000,000.
	MaxQueued int
	// FloodThreshold is the default flood budget of a call
	// (Call.FloodBudget): FLOOD_WAIT and SLOWMODE_WAIT up to this are
	// waited out and retried; longer ones fail the call with
	// *tl.FloodWaitError. Default 60 s (Telethon's flood_sleep_threshold).
	FloodThreshold time.Duration
	// MaxAttempts bounds sends of one call for retryable errors (5xx,
	// migrations, lost connections); flood waits, losses in an outage and
	// calls handed back unsent do not count. Default 8.
	MaxAttempts int
	// MaxChainRepairs bounds MSG_WAIT_FAILED/MSG_WAIT_TIMEOUT resends of one
	// call that came while its predecessor was not in flight (waits for a
	// predecessor in flight do not count; chains.go). Default 16.
	MaxChainRepairs int
	// OutageTimeout is how long calls wait for an unreachable DC (its
	// connection lost and no connection carrying answers since; see
	// DCDown) before they fail with *OutageError; until the DC is connected
	// again later calls for it fail at once. Default 3 min.
	OutageTimeout time.Duration
	// Pacing paces chat writes below Telegram's flood limits (pacer.go).
	Pacing PacingConfig
	// Backoff configures retries of server failures. Defaults: 100 ms
	// initial, ×2, up to 10 s apart, 2 min in all, ±20% jitter.
	Backoff BackoffConfig
}

// BackoffConfig mirrors backoff.ExponentialBackOff's knobs. A zero field
// takes the default given at Config.Backoff.
type BackoffConfig struct {
	// Initial is the first wait; Max caps any one wait; once MaxElapsed
	// passed since a call's first retryable failure, it is not retried.
	Initial, Max, MaxElapsed time.Duration
	// Multiplier grows each wait (must be over 1); Jitter randomizes each
	// wait by ±Jitter of it.
	Multiplier, Jitter float64
	// NoJitter sets Jitter to zero (deterministic tests).
	NoJitter bool
}

// WithDefaults returns c with every unset field at its documented default.
func (c Config) WithDefaults() Config {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&c.HomeDC, 2)
	def(&c.MaxMessages, 1000)
	def(&c.MaxBytes, 32<<10)
	def(&c.MaxInFlight, 10000)
	def(&c.MaxQueued, 1_000_000)
	def(&c.MaxAttempts, 8)
	def(&c.MaxChainRepairs, 16)
	if c.Window <= 0 {
		c.Window = time.Millisecond
	}
	if c.OutageTimeout <= 0 {
		c.OutageTimeout = 3 * time.Minute
	}
	if c.FloodThreshold <= 0 {
		c.FloodThreshold = 60 * time.Second
	}
	b := &c.Backoff
	if b.Initial <= 0 {
		b.Initial = 100 * time.Millisecond
	}
	if b.Max <= 0 {
		b.Max = 10 * time.Second
	}
	if b.MaxElapsed <= 0 {
		b.MaxElapsed = 2 * time.Minute
	}
	if b.Multiplier <= 1 {
		b.Multiplier = 2
	}
	if b.Jitter <= 0 {
		b.Jitter = 0.2
	}
	if b.NoJitter {
		b.Jitter = 0
	}
	return c
}
