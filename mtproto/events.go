package mtproto

import "time"

// CallID identifies a call for its owner. The session never interprets it;
// it must be unique among the calls the session has not answered yet, and
// must not be zero.
type CallID uint64

// Received is what one Receive produced.
type Received struct {
	// Results are the answers to calls, in the order the server sent them.
	Results []Result
	// Events are everything else, in order.
	Events []Event
}

// Event is a Receive outcome other than a Result. The concrete types are
// Resent, Update, SessionCreated, Pong and FutureSalts.
type Event interface{ event() }

// Result is the one answer to a call: the body of its rpc_result with any
// gzip_packed removed, or an error. Err is a *tgerr.Error for an rpc_error
// from the server and a *BadMsgError when the server rejected the message as
// malformed (a bad_msg code that badmsg.go fails), which is a bug on our
// side, or a *CallError when the call could not be packed at all.
type Result struct {
	Call  CallID
	MsgID int64 // msg_id of the attempt that was answered
	// Body is the TL-encoded result object. It is owned by the receiver.
	Body []byte
	Err  error
	// Attempts counts the times the call was sent, 1 for no resend.
	Attempts int
}

// ResendReason says why calls were sent again.
type ResendReason string

// Resend reasons, one per rule of the MTProto service-messages documentation.
// The bad_msg_notification codes that lead to each are rows of badmsg.go.
const (
	ResendBadSalt       ResendReason = "bad_server_salt"
	ResendTimeSync      ResendReason = "msg_id_time"      // msg_id too low or too high
	ResendDuplicateID   ResendReason = "msg_id_duplicate" // container msg_id equals an earlier one
	ResendTooOld        ResendReason = "msg_too_old"      // the server forgot the message
	ResendSeqno         ResendReason = "seqno"            // seqno too low or too high: fresh session
	ResendNewSession    ResendReason = "new_session_created"
	ResendServerRequest ResendReason = "msg_resend_req"
	ResendDetailedInfo  ResendReason = "msg_detailed_info"
	ResendReconnect     ResendReason = "reconnect"
	ResendNotReceived   ResendReason = "msgs_state_info" // the server says it never got the call
)

// Resent reports calls that were queued to be sent again with fresh msg_ids.
// They go out with the next Pack or Flush.
type Resent struct {
	Calls  []CallID
	Reason ResendReason
}

// Update is a content message from the server that is not an answer to a
// call: updates, mostly. Body is its TL encoding, gzip removed.
type Update struct {
	MsgID int64
	Body  []byte
}

// SessionCreated reports new_session_created. Resent lists the calls that the
// new session had not seen and that were queued again.
type SessionCreated struct {
	FirstMsgID int64
	UniqueID   int64
	ServerSalt int64
}

// Pong answers a ping queued with Ping.
type Pong struct {
	PingID int64
	// RTT is the time between packing the ping and receiving the pong.
	RTT time.Duration
}

// FutureSalts reports the salts learned from future_salts.
type FutureSalts struct {
	Count int
}

func (Resent) event()         {}
func (Update) event()         {}
func (SessionCreated) event() {}
func (Pong) event()           {}
func (FutureSalts) event()    {}
