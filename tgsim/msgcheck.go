package tgsim

import (
	"time"

	"github.com/gotd/td/mt"

	"github.com/tlsched/tlsched/mtproto/spec"
)

// checkMsgID applies MTProto's msg_id rules: divisible by 4, not more than
// spec.MsgIDMaxPast old or spec.MsgIDMaxFuture ahead of the server's clock.
// It returns the bad_msg code, or 0.
func checkMsgID(id int64, now time.Time) int {
	if id%4 != 0 {
		return spec.BadMsgIDNotDivisible
	}
	t := time.Unix(id>>32, 0)
	switch {
	case t.Before(now.Add(-spec.MsgIDMaxPast)):
		return spec.BadMsgIDTooLow
	case t.After(now.Add(spec.MsgIDMaxFuture)):
		return spec.BadMsgIDTooHigh
	}
	return 0
}

// checkServiceSeqno applies MTProto's seqno rule to a message that is not
// content-related (a container, msgs_ack): its seqno is even. It returns
// the bad_msg code, or 0.
func checkServiceSeqno(seqno int32) int {
	if seqno%2 != 0 {
		return spec.BadMsgSeqNoEvenWanted
	}
	return 0
}

// checkContentSeqno applies MTProto's seqno rules to a content-related
// message (an RPC query): its seqno is odd, and seqnos grow with msg_ids
// (too low after a higher msg_id's, too high after a lower one's). It
// returns the bad_msg code, or 0 after recording the message as the latest
// if it is. s.mu is held.
func (s *session) checkContentSeqno(id int64, seqno int32) int {
	if seqno%2 == 0 {
		return spec.BadMsgSeqNoOddWanted
	}
	switch {
	case id > s.lastID && s.lastID != 0 && seqno <= s.lastSeq:
		return spec.BadMsgSeqNoLow
	case id < s.lastID && seqno >= s.lastSeq:
		return spec.BadMsgSeqNoHigh
	case id > s.lastID:
		s.lastID, s.lastSeq = id, seqno
	}
	return 0
}

// badMsg queues bad_msg_notification with code for message id.
func (s *session) badMsg(id int64, seqno int32, code int) {
	s.srv.count.err("bad_msg_" + itoa(code))
	s.queue(&mt.BadMsgNotification{BadMsgID: id, BadMsgSeqno: int(seqno), ErrorCode: code}, serviceMsg)
}
