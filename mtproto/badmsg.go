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
	// badMsgShiftSeqno moves our seqno counter by the rule's shift and
	// resends the named messages, as Telethon does: the session, and the
	// answers the server owes it, survive. A guess can repeat the error, so
	// after seqnoShiftLimit shifts in one session the session starts afresh
	// instead (as TDLib does at once), resending every message in flight.
	badMsgShiftSeqno
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
	shift   int32        // badMsgShiftSeqno: content messages to add
}

// seqnoShiftLimit is how many seqno shifts one session may make before a
// seqno notification starts a fresh session.
const seqnoShiftLimit = 3

// badMsgRules is every bad_msg_notification code the session knows, after
// MTProto "Service Messages about Messages". A code that is not here is
// counted in Stats.IgnoredService. A new code is one row here.
var badMsgRules = [...]badMsgRule{
	{spec.BadMsgIDTooLow, "msg_id too low", badMsgSyncTime, ResendTimeSync, 0},
	{spec.BadMsgIDTooHigh, "msg_id too high", badMsgSyncTime, ResendTimeSync, 0},
	{spec.BadMsgIDNotDivisible, "msg_id not divisible by 4", badMsgFail, "", 0},
	{spec.BadMsgContainerIDDup, "container msg_id equals an earlier one", badMsgResend, ResendDuplicateID, 0},
	{spec.BadMsgTooOld, "message too old", badMsgResend, ResendTooOld, 0},
	{spec.BadMsgSeqNoLow, "msg_seqno too low", badMsgShiftSeqno, ResendSeqno, 64},
	{spec.BadMsgSeqNoHigh, "msg_seqno too high", badMsgShiftSeqno, ResendSeqno, -16},
	{spec.BadMsgSeqNoEvenWanted, "even msg_seqno expected", badMsgFail, "", 0},
	{spec.BadMsgSeqNoOddWanted, "odd msg_seqno expected", badMsgFail, "", 0},
	// Servers send this code as bad_server_salt with the new salt
	// (handle_salt.go); as a bare bad_msg_notification it only resends.
	{spec.BadMsgServerSalt, "incorrect server salt", badMsgResend, ResendBadSalt, 0},
	{spec.BadMsgInvalidContainer, "invalid container", badMsgFail, "", 0},
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
