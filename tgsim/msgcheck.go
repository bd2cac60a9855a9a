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

func (s *session) badMsg(id int64, seqno int32, code int) {
	s.srv.count.err("bad_msg_" + itoa(code))
	s.queue(&mt.BadMsgNotification{BadMsgID: id, BadMsgSeqno: int(seqno), ErrorCode: code}, false)
}
