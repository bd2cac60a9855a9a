// Package scheduler is the pure policy of tlsched: per-DC queues, the
// coalescing window, container and in-flight caps, ordered chains
// (invokeAfterMsg), flood gates, retries with backoff, and DC migration. It
// owns no goroutines and reads no clock: every entry point takes now, and
// NextDeadline says when to call Ready again. The scheduler actor drives it.
//
// State is driven like etcd's raft: Submit, Complete, Lost, LostDC,
// Cancel and the DC events (DCDown, DCConnected, DCUp, DCFailed) feed it
// events and return the calls that became final; Ready(now) returns the
// batches to send; NextDeadline says when Ready has work again.
//
// # Errors
//
// A failed call is one of three kinds. The server answered with an RPC
// error: the typed error (tl.Typed). The call never left this process:
// errors.Is(err, ErrNotSent), safe to send again. The call was written to
// a connection and no answer came: errors.Is(err, ErrMayHaveRun), it may
// have run. The last two come as *OutageError (the DC stayed unreachable
// for Config.OutageTimeout) or *LostError (lost too often outside an
// outage), whose Unwrap reaches the cause; a dependent of such a call
// fails with *ChainBrokenError wrapping it, so errors.Is sees the kind
// through it.
//
// # Where each rule lives
//
//   - types.go: the public values (Call, Batch, Sending, Done, Stats) and
//     the errors callers branch on (ErrQueueFull, *ChainBrokenError).
//   - errors.go: the kinds of unanswered failure (ErrNotSent,
//     ErrMayHaveRun, *OutageError, *LostError).
//   - state.go: State and the life of a call (Submit, place, finish,
//     Cancel), and Complete, which only routes an error by tl.Classify's
//     Action to one handler: onFloodWait, onMigrate, onBackoff,
//     onChainRepair, onReauthorize, onNextStep or onFinal.
//   - auth.go: the login is gone or the key dropped (onReauthorize: final
//     with *tl.AuthError) and steps of login flows (onNextStep: final with
//     *tl.StepError); they fail the one call and close no gate.
//   - queue.go: per-DC ready queues and the backoff delay heap.
//   - batch.go: the coalescing window (an idle DC sends at once) and the
//     caps that cut a queue into batches: MaxMessages, MaxBytes, MaxInFlight.
//   - gates.go: flood gates, keyed by method or chat (gateKey), and the 420
//     handler onFloodWait (FLOOD_WAIT, FLOOD_PREMIUM_WAIT, SLOWMODE_WAIT).
//   - chains.go: ordered calls: who waits for whom, when a call is wrapped
//     in invokeAfterMsg, repair after MSG_WAIT_FAILED/MSG_WAIT_TIMEOUT
//     (onChainRepair), and the memory of failed calls for late dependents.
//   - retry.go: retries with backoff on the injected clock (onBackoff, Lost,
//     LostDC) and DC migration (onMigrate).
//   - outage.go: unreachable DCs (DCDown, DCConnected, DCUp, DCFailed):
//     their calls wait without counting attempts, and fail with
//     *OutageError once Config.OutageTimeout is spent.
//   - config.go: Config and its defaults.
//
// To add a flood rule (a 420 wait), add one row to floodRules in
// tl/error_rules.go: its error type and its scope, method or chat; gates.go
// closes the gate of that scope (floodKey) and nothing else changes. Only
// a new kind of scope needs a new gateKind here, checked in gates.closed.
// Nothing else in this package knows about gate keys. Pacing
// will be a file of its own beside gates.go, feeding NextDeadline likewise.
//
// # Tests
//
// Scenarios are scripts in testdata/scripts, one file per rule (window,
// caps, flood, slowmode, chains, backoff, lost, outage, migrate, cancel,
// auth), run by
// TestScripts in datadriven_test.go, which documents the commands.
// TestSchedulerProperties (property_test.go) drives random schedules
// against a model server and proves the promises: no call is sent out of
// order or through a closed gate, caps hold, every call ends exactly once.
package scheduler
