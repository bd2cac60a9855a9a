package tl

import (
	"fmt"
	"time"

	"github.com/gotd/td/tgerr"
)

// The typed errors of the classes that callers branch on (Typed makes
// them; the scheduler fails calls with them). Each unwraps to the RPC
// error. *FloodWaitError and *MigrateError are in errors.go.

// AuthError fails a call whose session cannot go on without its owner:
// the login is gone (Reauthorize: 401 AUTH_KEY_UNREGISTERED,
// SESSION_REVOKED, USER_DEACTIVATED, ...), or the auth key itself was
// dropped (RecreateKey, NewKey set: 406 AUTH_KEY_DUPLICATED, the key was
// used from two connections at once). Every later call of the session
// fails the same way until the user logs in again, on a new key if NewKey.
type AuthError struct {
	RPC    *tgerr.Error
	NewKey bool
}

func (e *AuthError) Error() string {
	if e.NewKey {
		return fmt.Sprintf("rpc error %d: %s: the server dropped the auth key; create a new key and log in again", e.RPC.Code, e.RPC.Message)
	}
	return fmt.Sprintf("rpc error %d: %s: the session needs a new login", e.RPC.Code, e.RPC.Message)
}

func (e *AuthError) Unwrap() error { return e.RPC }

// StepError is an error that is the next step of a flow, not a failure
// (NextStep): SESSION_PASSWORD_NEEDED after auth.signIn means "call
// auth.checkPassword". Next names the method to call.
type StepError struct {
	RPC  *tgerr.Error
	Next string
}

func (e *StepError) Error() string {
	return fmt.Sprintf("rpc error %d: %s (next step: %s)", e.RPC.Code, e.RPC.Message, e.Next)
}

func (e *StepError) Unwrap() error { return e.RPC }

// NumberError is a final RPC error that carries a number
// (PASSWORD_TOO_FRESH_X, PREMIUM_SUB_ACTIVE_UNTIL_X, FILE_PART_X_MISSING),
// with what the number counts (errorRules).
type NumberError struct {
	RPC   *tgerr.Error
	Unit  Unit
	Value int
}

func (e *NumberError) Error() string {
	return fmt.Sprintf("rpc error %d: %s (%s %d)", e.RPC.Code, e.RPC.Message, e.Unit, e.Value)
}

func (e *NumberError) Unwrap() error { return e.RPC }

// Wait returns the wait the number counts (UnitSeconds, UnitMinutes): how
// long before trying again can succeed. Zero for other units.
func (e *NumberError) Wait() time.Duration {
	switch e.Unit {
	case UnitSeconds:
		return time.Duration(e.Value) * time.Second
	case UnitMinutes:
		return time.Duration(e.Value) * time.Minute
	}
	return 0
}

// Until returns the time a UnitUnixTime number names
// (PREMIUM_SUB_ACTIVE_UNTIL_X: the subscription's end); zero otherwise.
func (e *NumberError) Until() time.Time {
	if e.Unit != UnitUnixTime {
		return time.Time{}
	}
	return time.Unix(int64(e.Value), 0).UTC()
}
