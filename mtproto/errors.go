package mtproto

import (
	"errors"
	"fmt"
)

// ErrDecrypt is wrapped by Receive's error when a frame fails to decrypt or
// its msg_key does not match. The session state is unchanged.
var ErrDecrypt = errors.New("mtproto: frame failed to decrypt")

// ErrWrongSession is wrapped by Receive's error when a frame belongs to
// another session id. The frame is ignored.
var ErrWrongSession = errors.New("mtproto: frame for another session")

// ErrReplay is wrapped by Receive's error when a frame repeats a server
// msg_id seen before (MTProto security guidelines: ignore it).
var ErrReplay = errors.New("mtproto: replayed server msg_id")

// ErrTimeWindow is wrapped by Receive's error when a frame's server msg_id
// lies more than 300 s before or 30 s after our clock corrected by the time
// offset (MTProto, "Important checks"). The frame is ignored.
var ErrTimeWindow = errors.New("mtproto: server msg_id outside the time window")

// ErrSilent is wrapped by Flush's error when the connection has been silent
// for Config.DeadAfter while the session waited for an answer: the owner
// should drop the connection and open a new one (see Session.Resume).
var ErrSilent = errors.New("mtproto: connection silent")

// MalformedError reports a part of a decrypted frame that could not be
// decoded: a truncated container, a broken rpc_result, bad gzip. The rest of
// the frame is still processed; calls whose answers were lost stay
// unanswered.
type MalformedError struct {
	MsgID int64  // server msg_id of the broken message
	What  string // which object failed to decode
	Err   error
}

func (e *MalformedError) Error() string {
	return fmt.Sprintf("mtproto: malformed %s in server message %d: %v", e.What, e.MsgID, e.Err)
}

func (e *MalformedError) Unwrap() error { return e.Err }

// BadMsgError is the Result error of a call the server rejected with a
// bad_msg_notification code that means our own message was malformed (the
// codes badmsg.go fails: msg_id not divisible by 4, wrong seqno parity,
// invalid container). These are bugs; the call is failed loudly instead of
// resent. Code is one of the spec.BadMsg* constants.
type BadMsgError struct {
	Code     int
	BadMsgID int64
}

// Meaning returns the MTProto documentation's description of the code, from
// the table in badmsg.go, or "unknown code".
func (e *BadMsgError) Meaning() string { return badMsgMeaning(e.Code) }

func (e *BadMsgError) Error() string {
	return fmt.Sprintf("mtproto: server rejected msg %d: bad_msg_notification %d (%s)", e.BadMsgID, e.Code, e.Meaning())
}

// ErrPredecessorUnknown is the error (inside a *CallError in
// Packed.Failed) of a call not sent because the session does not hold its
// predecessor (Call.After): the call did not leave the process.
var ErrPredecessorUnknown = errors.New("predecessor not held by this session; call not sent")

// CallError is the Result error of a call that could not be packed, such as
// one whose body exceeds MaxMessageBytes or fails to encode.
type CallError struct {
	Call CallID
	Err  error
}

func (e *CallError) Error() string {
	return fmt.Sprintf("mtproto: call %d: %v", e.Call, e.Err)
}

func (e *CallError) Unwrap() error { return e.Err }

// MaybeRanError is the Result error of a call the session gives up rather
// than send again: it was sent, the server-side session it went to is gone
// or cannot say what became of it (Reason), so the server may have run it,
// and it is not Call.Resendable. Sending it again could run it twice.
type MaybeRanError struct {
	Call   CallID
	Reason ResendReason
}

func (e *MaybeRanError) Error() string {
	return fmt.Sprintf("mtproto: call %d may have run, not sent again (%s)", e.Call, e.Reason)
}
