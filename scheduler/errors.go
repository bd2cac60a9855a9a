package scheduler

import (
	"fmt"
	"time"

	"github.com/tlsched/tlsched/tl"
)

// A failed call is one of three kinds, told apart with errors.Is/As:
//
//   - the server answered with an RPC error: the typed error (tl.Typed:
//     *tl.FloodWaitError, *tl.MigrateError, *tl.AuthError, *tl.StepError,
//     *tl.NumberError, *tgerr.Error);
//   - the call did not run: errors.Is(err, ErrNotSent). It never left this
//     process, or every time it did the server refused it without running
//     it (a flood wait, a migration); it is safe to send again;
//   - the call was written to a connection and no answer came:
//     errors.Is(err, ErrMayHaveRun). The server may have run it; only a call
//     that is idempotent or carries a random_id is safe to send again.
//
// The last two come as *OutageError (the DC stayed unreachable for
// Config.OutageTimeout) or *LostError (the connection was lost once too
// often outside an outage), *CanceledError (the owner cancelled it),
// *ChainBrokenError (its predecessor failed) or *tl.FloodWaitError (a wait
// longer than the call's flood budget); errors.Unwrap reaches the cause. TestSchedulerProperties checks that a call's own error never says
// ErrNotSent when it may have run.
//
// The sentinels are tl's (tl.ErrNotSent, tl.ErrMayHaveRun), so that
// *tl.FloodWaitError can match them too.
var (
	// ErrNotSent is matched by the error of a call that did not run.
	ErrNotSent = tl.ErrNotSent
	// ErrMayHaveRun is matched by the error of a call that was sent and got
	// no answer: it may have run.
	ErrMayHaveRun = tl.ErrMayHaveRun
)

// CanceledError fails a call its owner cancelled (State.Cancel). It wraps
// the cause (context.Canceled, context.DeadlineExceeded) and matches
// ErrNotSent if the call never went out, else ErrMayHaveRun: a call
// cancelled while in flight may still run on the server, but it is never
// sent again.
type CanceledError struct {
	// Err is the cause of the cancellation.
	Err error
	// MaybeRan is true when the call was sent before it was cancelled.
	MaybeRan bool
}

// Error reads "call canceled (not sent): CAUSE".
func (e *CanceledError) Error() string {
	return fmt.Sprintf("call canceled (%s): %v", sentWord(e.MaybeRan), e.Err)
}

// Unwrap returns the cause.
func (e *CanceledError) Unwrap() error { return e.Err }

// Is matches ErrNotSent or ErrMayHaveRun, by MaybeRan.
func (e *CanceledError) Is(target error) bool { return isSentinel(target, e.MaybeRan) }

// OutageError fails a call whose DC stayed unreachable longer than
// Config.OutageTimeout, or was declared lost for good (State.DCFailed).
// It matches ErrMayHaveRun if the call was ever written to a connection
// that was lost before the answer came, else ErrNotSent.
type OutageError struct {
	// DC is the unreachable DC.
	DC int
	// Since is when the DC became unreachable (its connection was lost).
	Since time.Time
	// Cause is the last reason the DC could not be reached (a dial error,
	// a transport error code).
	Cause error
	// MaybeRan is true when the call was sent and may have run.
	MaybeRan bool
}

// Error says which DC, since when, whether the call may have run, and why.
func (e *OutageError) Error() string {
	return fmt.Sprintf("dc %d unreachable since %s: %s: %v", e.DC, e.Since.UTC().Format(time.RFC3339), sentWord(e.MaybeRan), e.Cause)
}

// Is matches ErrNotSent or ErrMayHaveRun, by MaybeRan.
func (e *OutageError) Is(target error) bool { return isSentinel(target, e.MaybeRan) }

// Unwrap returns the cause.
func (e *OutageError) Unwrap() error { return e.Cause }

// LostError fails a call lost with its connection (outside an outage, for
// example a DC actor that crashed) more often than Config.MaxAttempts or
// for longer than the backoff's MaxElapsed. It matches ErrMayHaveRun or
// ErrNotSent like *OutageError.
type LostError struct {
	// DC is the DC whose connection or session was lost.
	DC int
	// Cause is why it was lost.
	Cause error
	// MaybeRan is true when the call was sent and may have run.
	MaybeRan bool
}

// Error reads "dc N lost: CAUSE".
func (e *LostError) Error() string { return fmt.Sprintf("dc %d lost: %v", e.DC, e.Cause) }

// Is matches ErrNotSent or ErrMayHaveRun, by MaybeRan.
func (e *LostError) Is(target error) bool { return isSentinel(target, e.MaybeRan) }

// Unwrap returns the cause.
func (e *LostError) Unwrap() error { return e.Cause }

func isSentinel(target error, maybeRan bool) bool {
	return target == ErrMayHaveRun && maybeRan || target == ErrNotSent && !maybeRan
}

func sentWord(maybeRan bool) string {
	if maybeRan {
		return "sent without an answer, it may have run"
	}
	return "not sent"
}
