package scheduler

import (
	"errors"
	"fmt"
)

// CallID identifies a call for its owner; unique among live calls, not 0.
type CallID uint64

// Call is a request as the scheduler sees it. Payload is carried, never read.
type Call struct {
	ID CallID
	// Method is the schema name ("messages.sendMessage"): flood gates key on it.
	Method string
	// Peer is a key for the chat the call writes to ("" if none): slow-mode
	// gates key on it.
	Peer string
	// DC is the DC to send to; 0 means the home DC.
	DC int
	// Size is the encoded request size in bytes, for the batch byte cap.
	Size int
	// After names the predecessor of an ordered call. It must be a call
	// submitted earlier (Submit refuses a call ordered after itself); if
	// that call already succeeded there is nothing to
	// wait for, if it failed this one fails with *ChainBrokenError.
	After CallID
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
// *tgerr.Error), *ChainBrokenError, context.Canceled, or, for a call that
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

// ChainBrokenError fails the calls ordered after a call that failed for
// good: they are never run out of order.
type ChainBrokenError struct {
	// Pred is the direct predecessor that failed.
	Pred CallID
	// Err is Pred's error; errors.Is/As reach the root cause through it.
	Err error
}

// Error names the failed predecessor and its error.
func (e *ChainBrokenError) Error() string {
	return fmt.Sprintf("scheduler: predecessor call %d failed: %v", e.Pred, e.Err)
}

// Unwrap returns the predecessor's error.
func (e *ChainBrokenError) Unwrap() error { return e.Err }

// Stats counts what the scheduler did since New; counters only grow.
// Submitted counts accepted calls, Sent counts sends (retries included),
// Succeeded+Failed count final outcomes, GateClosures counts gates closed or
// extended, LateResults counts answers for calls not in flight.
type Stats struct {
	Submitted, Batches, Sent, Succeeded, Failed                               int
	FloodWaits, GateClosures, Migrations, Backoffs, ChainRepairs, LateResults int
}
