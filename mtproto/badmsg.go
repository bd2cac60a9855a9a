package mtproto

import "github.com/tlsched/tlsched/mtproto/spec"

// badMsgAction is what the session does about a bad_msg_notification.
type badMsgAction uint8

const (
	// badMsgResend sends the named messages again with fresh msg_ids.
	badMsgResend badMsgAction = iota + 1
	// badMsgSyncTime takes the time offset from the server's msg_id, then
	// resends the named messages.
	badMsgSyncTime
	// badMsgNewSession starts a fresh session: every message in flight is
	// resent. Our seqno and the server's disagree; guessing an offset (as
	// Telethon does) can repeat the error, a fresh session (as TDLib does)
	// cannot.
	badMsgNewSession
	// badMsgFail fails the named calls with a *BadMsgError: our own
	// encoding is wrong, and resending it would fail again.
	badMsgFail
)

// badMsgRule is one row of badMsgRules.
type badMsgRule struct {
	code    int
	meaning string // MTProto's description, for BadMsgError
	action  badMsgAction
	reason  ResendReason // of the Resent event, for actions that resend
}

// badMsgRules is every bad_msg_notification code the session knows, after
// MTProto "Service Messages about Messages". A code that is not here is
// counted in Stats.IgnoredService. A new code is one row here.
var badMsgRules = [...]badMsgRule{
	{spec.BadMsgIDTooLow, "msg_id too low", badMsgSyncTime, ResendTimeSync},
	{spec.BadMsgIDTooHigh, "msg_id too high", badMsgSyncTime, ResendTimeSync},
	{spec.BadMsgIDNotDivisible, "msg_id not divisible by 4", badMsgFail, ""},
	{spec.BadMsgContainerIDDup, "container msg_id equals an earlier one", badMsgResend, ResendDuplicateID},
	{spec.BadMsgTooOld, "message too old", badMsgResend, ResendTooOld},
	{spec.BadMsgSeqNoLow, "msg_seqno too low", badMsgNewSession, ResendSeqno},
	{spec.BadMsgSeqNoHigh, "msg_seqno too high", badMsgNewSession, ResendSeqno},
	{spec.BadMsgSeqNoEvenWanted, "even msg_seqno expected", badMsgFail, ""},
	{spec.BadMsgSeqNoOddWanted, "odd msg_seqno expected", badMsgFail, ""},
	// Servers send this code as bad_server_salt with the new salt
	// (handle_salt.go); as a bare bad_msg_notification it only resends.
	{spec.BadMsgServerSalt, "incorrect server salt", badMsgResend, ResendBadSalt},
	{spec.BadMsgInvalidContainer, "invalid container", badMsgFail, ""},
}

// badMsgRuleOf returns the row of code; ok is false for an unknown code.
func badMsgRuleOf(code int) (rule badMsgRule, ok bool) {
	for _, r := range badMsgRules {
		if r.code == code {
			return r, true
		}
	}
	return badMsgRule{}, false
}

// badMsgMeaning returns the description of code, "unknown code" if none.
func badMsgMeaning(code int) string {
	if r, ok := badMsgRuleOf(code); ok {
		return r.meaning
	}
	return "unknown code"
}
