package actors

import (
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

// Two pacing policies, kept apart because they recover from different
// faults: reconnect.go paces a DC actor's reconnections after network or
// server failures (Config.RedialBackoff, HealthyAfter, TransportFloodWait,
// DialLimits), dcSupervisor paces restarts of a DC actor that panicked
// (Config.RestartBackoff).

// dcSupervisor restarts a failed DC actor after n·initial, n counting its
// failures since a quiet window; its restart hook reports the lost calls
// first (see dcActor).
func dcSupervisor(initial, window time.Duration) actor.SupervisorStrategy {
	return actor.NewExponentialBackoffStrategy(window, initial)
}
