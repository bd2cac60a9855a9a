package actors

import (
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

// Two pacing policies, kept apart because they recover from different
// faults: redialBackoff paces a DC actor's reconnections after network or
// server failures (Config.RedialBackoff), dcSupervisor paces restarts of a
// DC actor that panicked (Config.RestartBackoff).

// redialBackoff is the wait before redialling a DC: initial after the first
// failure, doubling with each further failure in a row, at most max.
type redialBackoff struct{ initial, max time.Duration }

// delay is the wait after n failures in a row (n >= 1).
func (b redialBackoff) delay(n int) time.Duration {
	d := b.initial
	for i := 1; i < n && d < b.max; i++ {
		if d > b.max/2 {
			return b.max // doubling would pass max (or overflow)
		}
		d *= 2
	}
	return min(d, b.max)
}

// dcSupervisor restarts a failed DC actor after n·initial, n counting its
// failures since a quiet window; its restart hook reports the lost calls
// first (see dcActor).
func dcSupervisor(initial, window time.Duration) actor.SupervisorStrategy {
	return actor.NewExponentialBackoffStrategy(window, initial)
}
