package scheduler

import (
	"errors"
	"fmt"
	"time"
)

// CallID identifies a call for its owner; unique among live calls, not 0.
type CallID uint64

// Call is a request as the scheduler sees it. Payload is carried, never read.
type Call struct {
	ID CallID
	// Method is the schema name ("messages.sendMessage"): flood gates key on it.
	Method string
	// Peer is a key for the chat the call names ("" if none): slow-mode
	// gates key on it.
	Peer string
	// Writes is true when the call writes to Peer's chat (sends or forwards
	// a message there): only such calls wait behind the chat's slow mode
	// (MTProto: SLOWMODE_WAIT_X limits sending to the chat, not reading).
	Writes bool
	// DC is the DC to send to; 0 means the home DC.
	DC int
	// Size is the encoded request size in bytes, for the batch byte cap.
	Size int
	// After names the predecessor of an ordered call: a call that is live
	// (submitted and not final). If it failed recently this one fails with
	// *ChainBrokenError. Submit refuses any other id (a call that succeeded
	// or was forgotten): the owner knows the predecessor's outcome and
	// submits without After once it succeeded, so the scheduler never
	// mistakes an unknown predecessor for a finished one.
	After CallID
	// FloodBudget is the longest flood wait (FLOOD_WAIT, SLOWMODE_WAIT, a
	// closed gate) the call may absorb: 0 means Config.FloodThreshold, a
	// negative value none at all. A call whose wait would exceed it fails
	// at once with *tl.FloodWaitError, matching ErrNotSent.
	FloodBudget time.Duration
	// PaidFloodskip is set for a call that pays to skip flood limits
	// (allow_paid_floodskip): the pacer holds it to PacingConfig.Paid only.
	PaidFloodskip bool
	// Deadline, if not zero, is when the caller stops waiting (its
	// context's deadline): a wait that would end after it fails the call at
	// once, as a wait over FloodBudget does.
	Deadline time.Time
	// Payload is the owner's request (a bin.Encoder, say).
	Payload any
}

// Batch is what Ready hands to one DC: calls for one container, in order.
// A call wrapped after another (Sending.After) comes after it in the batch
// or went out in an earlier one.
type Batch struct {
	// DC is the DC to send the container to.
	DC int
	// Calls holds at least one call, at most Config.MaxMessages.
	Calls []Sending
	// Bytes is the summed Call.Size (a size under 1 counts as 1); at most
	// Config.MaxBytes unless the batch is a single larger call.
	Bytes int
}

// Sending is one call of a batch.
type Sending struct {
	Call *Call // shared with the scheduler: read-only
	// After is set when the call must be wrapped in invokeAfterMsg: the
	// predecessor is in flight on the same DC (or earlier in this batch).
	After CallID
	// Attempt counts sends of this call, this one included (1 at first).
	Attempt int
}

// Done is the final outcome of a call: Err nil for success. Errors are the
// RPC error made typed by tl.Typed (*tl.FloodWaitError, *tl.MigrateError,
// *tl.AuthError, *tl.StepError, *tl.NumberError, *tgerr.Error), *ChainBrokenError, context.Canceled, or, for a call that
// got no answer, *OutageError or *LostError, which match ErrNotSent or
// ErrMayHaveRun (errors.go).
type Done struct {
	ID  CallID
	Err error
	// Attempts is how many times the call was sent (0 if never).
	Attempts int
}

// ErrQueueFull is returned by Submit when MaxQueued calls are held.
var ErrQueueFull = errors.New("scheduler: queue full")

// ErrUnknownPred is returned by Submit for a call ordered after a call
// that is neither live nor remembered as failed (Call.After).
var ErrUnknownPred = errors.New("scheduler: predecessor unknown (not live, not failed recently)")

// ChainBrokenError fails the calls ordered after a call that failed for
// good (or was cancelled): they are never run out of order. It is an error
// of its own: errors.Is(err, context.Canceled) is false for a dependent
// whose predecessor was cancelled; the predecessor's error is in Err. It
// matches ErrNotSent (the call never ran), or ErrMayHaveRun if an earlier
// send of it was lost unanswered.
type ChainBrokenError struct {
	// Pred is the direct predecessor that failed.
	Pred CallID
	// Err is Pred's error.
	Err error
	// MaybeRan is true when an earlier send of this call got no answer.
	MaybeRan bool
}

// Error names the failed predecessor and its error.
func (e *ChainBrokenError) Error() string {
	return fmt.Sprintf("scheduler: predecessor call %d failed: %v", e.Pred, e.Err)
}

// Is matches ErrNotSent or ErrMayHaveRun, by MaybeRan.
func (e *ChainBrokenError) Is(target error) bool { return isSentinel(target, e.MaybeRan) }

// Stats counts what the scheduler did since New; counters only grow.
// Submitted counts accepted calls, Sent counts sends (retries included),
// Succeeded+Failed count final outcomes (a call cancelled in flight counts
// as failed when cancelled), GateClosures counts gates closed or
// extended, LateResults counts answers for calls not in flight.
type Stats struct {
	Submitted, Batches, Sent, Succeeded, Failed                               int
	FloodWaits, GateClosures, Migrations, Backoffs, ChainRepairs, LateResults int
	// ChainWaits counts dependents held back until their predecessor's
	// attempt in flight is answered (MSG_WAIT_TIMEOUT on a slow head, or
	// a session that could not name the predecessor); CanceledInFlight
	// counts calls cancelled while in flight.
	ChainWaits, CanceledInFlight int
}
