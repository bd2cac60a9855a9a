package actors

import (
	"fmt"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/tlsched/tlsched/scheduler"
	"github.com/tlsched/tlsched/tl"
)

// The -404 policy. MTProto transport error -404 means the server does not
// know the auth key (or, in a key exchange, something else went wrong). A
// single -404 on a connection that carried answers is not proof: the DC
// actor reconnects once with the same key. The key is taken as lost only
// when a fresh connection with it is rejected with -404 before any answer
// arrived on it. Then a key that may belong to a logged-in account
// (Config.SessionFile set, and the key was loaded from the Store, not made
// by this connection) is never replaced, which would log the account out
// silently: every call for the DC fails with *AuthKeyLostError. Any other
// key is replaced by a new key exchange on the next dial.
//
// The 406 policy. An answer 406 AUTH_KEY_DUPLICATED (tl.RecreateKey: the
// key was used from two IP addresses at once, and Telegram revoked it)
// ends the key at once: the DC actor closes its connection and never
// sends under it again, so a revoked key is not hammered from either
// place; the call that got it fails with *tl.AuthError (NewKey), and every
// call held or queued for the DC fails, not sent, with
// *AuthKeyDuplicatedError.

// AuthKeyLostError fails every call for a DC whose server rejected the auth
// key of a logged-in session (transport error -404 on a fresh connection,
// twice in a row). The key is kept, not replaced: the account must log in
// again. Calls fail with a *scheduler.OutageError wrapping it (errors.As
// finds it).
type AuthKeyLostError struct {
	// DC is the DC that rejected the key.
	DC int
	// File is the session file (Config.SessionFile).
	File string
}

// Error names the DC and the session file and says how to log in again.
func (e *AuthKeyLostError) Error() string {
	return fmt.Sprintf("dc %d no longer knows the auth key of session %s (transport error -404); it was kept, not replaced: log in again with `tlworker login --session %s`", e.DC, e.File, e.File)
}

// AuthKeyDuplicatedError fails the calls for a DC whose server revoked the
// auth key as used from two IP addresses at once (406
// AUTH_KEY_DUPLICATED). The key is not used again by this Client; the
// account must log in again on a new key.
type AuthKeyDuplicatedError struct {
	// DC is the DC that revoked the key.
	DC int
	// File is the session file (Config.SessionFile), if any.
	File string
}

// Error names the DC and says what to do.
func (e *AuthKeyDuplicatedError) Error() string {
	if e.File != "" {
		return fmt.Sprintf("dc %d revoked the auth key of session %s (406 AUTH_KEY_DUPLICATED: it was used from two IP addresses at once): remove the session file and log in again on a new key", e.DC, e.File)
	}
	return fmt.Sprintf("dc %d revoked the auth key (406 AUTH_KEY_DUPLICATED: it was used from two IP addresses at once): log in again on a new key", e.DC)
}

// keyRevoked applies the 406 policy to a call's error: true when it says
// the key was revoked.
func keyRevoked(err error) bool {
	return err != nil && tl.Classify(err).Action == tl.RecreateKey
}

// keyPolicy applies the -404 policy to err, a failed dial or a lost
// connection, before the reconnect state forgets the connection. It
// returns an *AuthKeyLostError when the key is lost and must not be
// replaced; otherwise it may mark the key to be replaced on the next dial.
func (a *dcActor) keyPolicy(err error) error {
	if keyRevoked(err) {
		return &AuthKeyDuplicatedError{DC: a.id, File: a.d.sessionFile}
	}
	if !authKeyUnknown(err) {
		return nil
	}
	if a.rc.answered {
		a.log.Debug("auth key rejected (-404) on a working connection: reconnecting once with the same key")
		return nil
	}
	if a.keyLoaded && a.d.sessionFile != "" {
		return &AuthKeyLostError{DC: a.id, File: a.d.sessionFile}
	}
	// The server forgot our key: a new key exchange on the next dial; the
	// stored key is replaced when it succeeds.
	a.log.Debug("auth key rejected (-404) on a fresh connection: a new key exchange on the next dial")
	a.forgetKey = true
	return nil
}

// refuse hands back a batch that arrived after the key was lost: its calls
// were never sent, and the scheduler fails them (it knows the DC failed).
func (a *dcActor) refuse(ctx actor.Context, b scheduler.Batch) {
	l := scheduler.Lost{}
	for _, s := range b.Calls {
		l.NotSent = append(l.NotSent, s.Call.ID)
	}
	ctx.Send(ctx.Parent(), &lostMsg{dc: a.id, calls: l, err: a.keyLost})
}
