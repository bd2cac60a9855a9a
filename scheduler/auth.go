package scheduler

import "github.com/tlsched/tlsched/tl"

// The classes that end a call without a retry, besides plain final errors
// (onFinal in state.go). Each fails only the call that got it: other calls
// get their own answers, and the session's owner, which holds the auth key
// and the login, acts on the typed error (a re-login, a new key). No gate
// closes: only floodRules waits hold calls back (gates.go).

// onReauthorize handles tl.Reauthorize (401: the login is gone) and
// tl.RecreateKey (406 AUTH_KEY_DUPLICATED: the auth key was dropped): the
// call fails with *tl.AuthError, which says a new login (and, with
// NewKey, a new key) is needed. Retrying cannot help: every call of the
// session fails the same way until its owner logs in again.
func (s *State) onReauthorize(e *entry, err error) {
	s.finish(e, tl.Typed(err))
}

// onNextStep handles tl.NextStep: the call did its part of a flow
// (auth.signIn answered SESSION_PASSWORD_NEEDED) and fails with
// *tl.StepError naming the method to call next; the session is fine.
func (s *State) onNextStep(e *entry, err error) {
	s.finish(e, tl.Typed(err))
}
