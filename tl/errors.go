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
	// Reauthorize: the session's login is gone (401: AUTH_KEY_UNREGISTERED,
	// SESSION_REVOKED, USER_DEACTIVATED, ...): no call of the session can
	// succeed until the user logs in again. The call fails with *AuthError.
	Reauthorize
	// RecreateKey: the server dropped the auth key (406
	// AUTH_KEY_DUPLICATED: the key was used from two connections at once).
	// A new key must be created, and logged in again. The call fails with
	// *AuthError (NewKey set).
	RecreateKey
	// NextStep: the call did its part of a flow and the error names the
	// next step (SESSION_PASSWORD_NEEDED after auth.signIn: call
	// auth.checkPassword). Not a failure of the session: the call fails
	// with *StepError, whose Next names the method to call.
	NextStep
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
	case RecreateKey:
		return "recreate-key"
	case NextStep:
		return "next-step"
	}
	return fmt.Sprintf("action(%d)", int(a))
}

// Class is the classification of an error.
type Class struct {
	Action Action
	// Wait is the wait the error names: for RetryAfterWait the server's
	// wait before the call may be repeated; for a final error whose number
	// counts seconds or minutes (PASSWORD_TOO_FRESH_X), how long until
	// trying again can succeed. Zero otherwise.
	Wait time.Duration
	// Until is the time a UnixTime number names
	// (PREMIUM_SUB_ACTIVE_UNTIL_X); zero otherwise.
	Until time.Time
	// DC is the DC to retry on for RetryElsewhere.
	DC int
	// Unit says what the error's number (the X of FLOOD_WAIT_X) counts, and
	// Value is that number; NoUnit and 0 for an error without one.
	Unit  Unit
	Value int
	// Next is, for NextStep, the method that continues the flow
	// ("auth.checkPassword").
	Next string
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

// FloodWaitError is a wait the scheduler gates on: FLOOD_WAIT_X (the
// method, for this account), FLOOD_PREMIUM_WAIT_X (file transfer speed),
// SLOWMODE_WAIT_X (one chat's slow mode), or another row of floodRules
// (error_rules.go).
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

// AsMigrate returns the migration carried by err, if it is one (a row of
// errorRules with RetryElsewhere: 303 FILE_, NETWORK_, PHONE_, STATS_ and
// USER_MIGRATE_X).
func AsMigrate(err error) (*MigrateError, bool) {
	var me *MigrateError
	if errors.As(err, &me) {
		return me, true
	}
	rpc, ok := tgerr.As(err)
	if !ok {
		return nil, false
	}
	r, x, ok := ruleOf(rpc)
	if !ok || r.Action != RetryElsewhere {
		return nil, false
	}
	return &MigrateError{Kind: strings.TrimSuffix(rpc.Type, "_MIGRATE"), DC: x, RPC: rpc}, true
}

// Typed wraps an RPC error into the typed error of its class:
// *FloodWaitError, *MigrateError, *AuthError (Reauthorize, RecreateKey),
// *StepError (NextStep), or *NumberError for another error that carries a
// number (PASSWORD_TOO_FRESH_X); other errors are returned as they are.
// Each unwraps to the *tgerr.Error.
func Typed(err error) error {
	if fw, ok := AsFloodWait(err); ok {
		return fw
	}
	if me, ok := AsMigrate(err); ok {
		return me
	}
	rpc, ok := tgerr.As(err)
	if !ok {
		return err
	}
	var ae *AuthError
	var se *StepError
	var ne *NumberError
	switch {
	case errors.As(err, &ae):
		return ae
	case errors.As(err, &se):
		return se
	case errors.As(err, &ne):
		return ne
	}
	c := Classify(rpc)
	switch {
	case c.Action == Reauthorize || c.Action == RecreateKey:
		return &AuthError{RPC: rpc, NewKey: c.Action == RecreateKey}
	case c.Action == NextStep:
		return &StepError{RPC: rpc, Next: c.Next}
	case c.Unit != NoUnit:
		return &NumberError{RPC: rpc, Unit: c.Unit, Value: c.Value}
	}
	return err
}

// Classify says what to do about err, following MTProto "Error handling"
// and Telegram's error list: a row of floodRules is a wait to gate on; a
// row of errorRules (error_rules.go) gives the action and the unit of the
// error's number; failing both, 401 is Reauthorize, 5xx, -503 and *_RETRY
// are RetryWithBackoff, and anything else (non-RPC errors too) is Final.
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
		c.Action, c.Wait, c.Unit, c.Value = RetryAfterWait, fw.Duration, UnitSeconds, rpc.Argument
		return c
	}
	if r, x, ok := ruleOf(rpc); ok {
		c.Action, c.Unit, c.Value, c.Next = r.Action, r.Unit, x, r.Next
		switch r.Unit {
		case UnitSeconds:
			c.Wait = time.Duration(x) * time.Second
		case UnitMinutes:
			c.Wait = time.Duration(x) * time.Minute
		case UnitUnixTime:
			c.Until = time.Unix(int64(x), 0).UTC()
		case UnitDC:
			c.DC = x
		}
		return c
	}
	switch {
	case rpc.Code == 401:
		c.Action = Reauthorize
	case rpc.Code >= 500 || rpc.Code == -503 || strings.HasSuffix(rpc.Type, "_RETRY"):
		c.Action = RetryWithBackoff
	}
	return c
}
