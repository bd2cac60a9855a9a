package tl

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gotd/td/tgerr"
)

// Action is what a caller should do about a failed call. The scheduler
// branches on it.
type Action int

const (
	// Final: the call failed for good (bad request, forbidden, ...).
	Final Action = iota
	// RetryAfterWait: a flood or slow-mode wait; retry once Wait passed.
	RetryAfterWait
	// RetryElsewhere: a migration; retry on DC.
	RetryElsewhere
	// RetryWithBackoff: a server-side failure (5xx, -503 Timeout,
	// *_RETRY); retry with exponential backoff.
	RetryWithBackoff
	// RepairChain: MSG_WAIT_FAILED/MSG_WAIT_TIMEOUT; the invokeAfterMsg
	// chain must be rebuilt.
	RepairChain
	// Reauthorize: the session needs a login (401 family); stop.
	Reauthorize
)

func (a Action) String() string {
	switch a {
	case Final:
		return "final"
	case RetryAfterWait:
		return "retry-after-wait"
	case RetryElsewhere:
		return "retry-elsewhere"
	case RetryWithBackoff:
		return "retry-with-backoff"
	case RepairChain:
		return "repair-chain"
	case Reauthorize:
		return "reauthorize"
	}
	return fmt.Sprintf("action(%d)", int(a))
}

// Class is the classification of an error.
type Class struct {
	Action Action
	// Wait is the server-imposed wait for RetryAfterWait.
	Wait time.Duration
	// DC is the DC to retry on for RetryElsewhere.
	DC int
	// RPC is the underlying RPC error, nil for errors that are not.
	RPC *tgerr.Error
}

// Wait kinds of a FloodWaitError.
const (
	FloodWait        = "FLOOD_WAIT"
	FloodPremiumWait = "FLOOD_PREMIUM_WAIT"
	SlowModeWait     = "SLOWMODE_WAIT"
	FloodTestPhone   = "FLOOD_TEST_PHONE_WAIT"
)

// FloodScope says what a wait holds back.
type FloodScope uint8

const (
	// ScopeMethod: the method, for this account (and every chat).
	ScopeMethod FloodScope = iota
	// ScopeChat: writing to the chat the call names (slow mode); a call
	// that names no chat falls back to its method.
	ScopeChat
)

// floodRules are the 420 waits, one row each (MTProto "Error handling";
// the error list at core.telegram.org/api/errors). The scheduler closes a
// gate of the row's scope for the wait instead of letting calls fail: a
// new wait error is one row here, nothing else.
var floodRules = []struct {
	Kind  string
	Scope FloodScope
}{
	{FloodWait, ScopeMethod},        // the method is flooded for this account
	{FloodPremiumWait, ScopeMethod}, // file transfer speed limit of non-premium accounts
	{SlowModeWait, ScopeChat},       // the chat's slow mode
	{FloodTestPhone, ScopeMethod},   // test DCs: too many logins to test phone numbers
}

// FloodWaitError is a 420 wait: FLOOD_WAIT_X (the method, for this
// account), FLOOD_PREMIUM_WAIT_X (file transfer speed), SLOWMODE_WAIT_X
// (one chat's slow mode), or another row of floodRules.
//
// A wait means the server did not run the call, so the error matches
// ErrNotSent, unless MaybeRan says an earlier send of the same call got no
// answer (then it matches ErrMayHaveRun).
type FloodWaitError struct {
	Kind     string // FloodWait, SlowModeWait, …: the error's type
	Scope    FloodScope
	Duration time.Duration
	RPC      *tgerr.Error
	// MaybeRan is true when an earlier send of the call was lost unanswered.
	MaybeRan bool
}

// Is matches ErrNotSent, or ErrMayHaveRun when MaybeRan.
func (e *FloodWaitError) Is(target error) bool {
	return target == ErrMayHaveRun && e.MaybeRan || target == ErrNotSent && !e.MaybeRan
}

func (e *FloodWaitError) Error() string {
	return fmt.Sprintf("rpc error %d: %s (wait %s)", e.RPC.Code, e.RPC.Message, e.Duration)
}

func (e *FloodWaitError) Unwrap() error { return e.RPC }

// A failed call is one of three kinds, told apart with errors.Is/As: the
// server answered with an RPC error; the call did not run (ErrNotSent: it
// never left the process, or the server refused it without running it, as
// with a flood wait); or it was sent and no answer came (ErrMayHaveRun).
// The scheduler package re-exports both sentinels and documents the scheme.
var (
	// ErrNotSent is matched by the error of a call that did not run: safe
	// to send again.
	ErrNotSent = errors.New("tlsched: call not sent")
	// ErrMayHaveRun is matched by the error of a call that was sent and got
	// no answer: it may have run.
	ErrMayHaveRun = errors.New("tlsched: call sent without an answer; it may have run")
)

// NewFloodWait returns the wait of the given kind, as the server would
// have sent it (kind_X with X the wait in whole seconds, rounded up). The
// scheduler uses it to fail a call behind a gate that stays closed too long.
func NewFloodWait(kind string, wait time.Duration) *FloodWaitError {
	secs := int((wait + time.Second - 1) / time.Second)
	fw, ok := AsFloodWait(tgerr.New(420, fmt.Sprintf("%s_%d", kind, secs)))
	if !ok {
		panic("tl: NewFloodWait of an unknown kind " + kind)
	}
	fw.Duration = wait
	return fw
}

// MigrateError is a 303 *_MIGRATE_X: repeat the call on DC.
type MigrateError struct {
	Kind string // PHONE, USER, NETWORK, FILE or STATS
	DC   int
	RPC  *tgerr.Error
}

func (e *MigrateError) Error() string {
	return fmt.Sprintf("rpc error %d: %s (use dc %d)", e.RPC.Code, e.RPC.Message, e.DC)
}

func (e *MigrateError) Unwrap() error { return e.RPC }

// AsFloodWait returns the wait carried by err, if it is one.
func AsFloodWait(err error) (*FloodWaitError, bool) {
	var fw *FloodWaitError
	if errors.As(err, &fw) {
		return fw, true
	}
	rpc, ok := tgerr.As(err)
	if !ok {
		return nil, false
	}
	for _, r := range floodRules {
		if rpc.Type == r.Kind {
			return &FloodWaitError{Kind: r.Kind, Scope: r.Scope, Duration: time.Duration(rpc.Argument) * time.Second, RPC: rpc}, true
		}
	}
	return nil, false
}

// AsMigrate returns the migration carried by err, if it is one.
func AsMigrate(err error) (*MigrateError, bool) {
	var me *MigrateError
	if errors.As(err, &me) {
		return me, true
	}
	rpc, ok := tgerr.As(err)
	if !ok || !strings.HasSuffix(rpc.Type, "_MIGRATE") {
		return nil, false
	}
	return &MigrateError{Kind: strings.TrimSuffix(rpc.Type, "_MIGRATE"), DC: rpc.Argument, RPC: rpc}, true
}

// Typed wraps an RPC error into FloodWaitError or MigrateError where it is
// one; other errors are returned as they are.
func Typed(err error) error {
	if fw, ok := AsFloodWait(err); ok {
		return fw
	}
	if me, ok := AsMigrate(err); ok {
		return me
	}
	return err
}

// reauth lists the 401 errors after which a session cannot go on.
var reauth = map[string]bool{
	"AUTH_KEY_UNREGISTERED": true, "AUTH_KEY_INVALID": true, "USER_DEACTIVATED": true,
	"USER_DEACTIVATED_BAN": true, "SESSION_REVOKED": true, "SESSION_EXPIRED": true,
	"SESSION_PASSWORD_NEEDED": true, "AUTH_KEY_PERM_EMPTY": true,
}

// Classify says what to do about err, following MTProto "Error handling":
// 420 waits, 303 migrations, 5xx and -503 retries, MSG_WAIT_* chain repair,
// 401 re-authorization; anything else (and non-RPC errors) is final.
func Classify(err error) Class {
	if err == nil {
		return Class{Action: Final}
	}
	rpc, ok := tgerr.As(err)
	if !ok {
		return Class{Action: Final}
	}
	c := Class{Action: Final, RPC: rpc}
	if fw, ok := AsFloodWait(err); ok {
		c.Action, c.Wait = RetryAfterWait, fw.Duration
		return c
	}
	if me, ok := AsMigrate(err); ok {
		c.Action, c.DC = RetryElsewhere, me.DC
		return c
	}
	switch {
	case rpc.Type == "MSG_WAIT_FAILED" || rpc.Type == "MSG_WAIT_TIMEOUT":
		c.Action = RepairChain
	case rpc.Code == 401 || reauth[rpc.Type]:
		c.Action = Reauthorize
	case rpc.Code >= 500 || rpc.Code == -503 || strings.HasSuffix(rpc.Type, "_RETRY") ||
		rpc.Type == "TIMEOUT" || rpc.Type == "RPC_CALL_FAIL" || rpc.Type == "WORKER_BUSY_TOO_LONG_RETRY":
		c.Action = RetryWithBackoff
	}
	return c
}
