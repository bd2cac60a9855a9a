// Package spec names the numbers MTProto's documentation fixes: the codes of
// bad_msg_notification, the limits of containers and acknowledgements, and
// the window a msg_id must fall in. The client session (package mtproto) and
// the simulator (package tgsim) both use these names, so one rule reads the
// same on both sides of the wire. It holds constants only: what a side does
// about a code lives with that side (mtproto's badmsg table, tgsim's checks).
package spec

import "time"

// Codes of bad_msg_notification (MTProto "Service Messages about Messages").
const (
	BadMsgIDTooLow         = 16 // msg_id too low: the client's clock is behind
	BadMsgIDTooHigh        = 17 // msg_id too high: the client's clock is ahead
	BadMsgIDNotDivisible   = 18 // the two low bits of msg_id are not 0
	BadMsgContainerIDDup   = 19 // a container's msg_id equals an earlier message's
	BadMsgTooOld           = 20 // message too old: the server forgot it
	BadMsgSeqNoLow         = 32 // msg_seqno too low
	BadMsgSeqNoHigh        = 33 // msg_seqno too high
	BadMsgSeqNoEvenWanted  = 34 // an even msg_seqno expected (non-content message)
	BadMsgSeqNoOddWanted   = 35 // an odd msg_seqno expected (content message)
	BadMsgServerSalt       = 48 // incorrect server salt (sent as bad_server_salt)
	BadMsgInvalidContainer = 64 // invalid container
)

// Limits of service messages.
const (
	// MaxContainerMessages caps the messages of one msg_container
	// (MTProto "Service Messages": at most 1024).
	MaxContainerMessages = 1024
	// MaxAckIDs caps the ids of one msgs_ack, msg_resend_req or
	// msgs_state_req (MTProto "Service Messages about Messages": 8192).
	MaxAckIDs = 8192
)

// The window a msg_id's time must fall in, relative to the receiver's clock
// (MTProto "Mobile Protocol: Detailed Description", "Important checks"):
// older is bad_msg 16 (or ignored when it comes from the server), newer is
// bad_msg 17.
const (
	MsgIDMaxPast   = 300 * time.Second
	MsgIDMaxFuture = 30 * time.Second
)
