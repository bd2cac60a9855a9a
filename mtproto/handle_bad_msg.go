package mtproto

import (
	"time"

	"github.com/gotd/td/mt"
	"github.com/gotd/td/proto"
)

// onBadMsg applies the row of badmsg.go for the notification's code
// (MTProto "Service Messages about Messages").
func (s *Session) onBadMsg(r *receiver, msgID int64, body []byte) {
	var m mt.BadMsgNotification
	if !decode(r, msgID, "bad_msg_notification", body, &m) {
		return
	}
	rule, ok := badMsgRuleOf(m.ErrorCode)
	if !ok {
		s.stats.IgnoredService++
		return
	}
	switch rule.action {
	case badMsgSyncTime:
		s.syncTime(r, rule.reason, s.named(m.BadMsgID)...)
		s.resendNamed(r, m.BadMsgID, rule.reason)
	case badMsgResend:
		s.resendNamed(r, m.BadMsgID, rule.reason)
	case badMsgShiftSeqno:
		if s.seqShifts >= seqnoShiftLimit {
			rejected := s.named(m.BadMsgID)
			if err := s.newSessionID(); err != nil {
				r.errs = append(r.errs, err)
				return
			}
			s.stats.SessionResets++
			s.acks, s.resendReq, s.resendAns, s.stateInfos = s.acks[:0], s.resendReq[:0], s.resendAns[:0], s.stateInfos[:0]
			s.dropService()
			s.emitResent(r, s.requeueOrFail(s.inflight.all(), rule.reason, rejected...))
			return
		}
		s.seqShifts++
		s.content = max(s.content+rule.shift, 0)
		s.resendNamed(r, m.BadMsgID, rule.reason)
	case badMsgFail:
		for _, o := range s.named(m.BadMsgID) {
			s.forget(o)
			if o.kind == kindCall {
				s.stats.Results++
				r.out.Results = append(r.out.Results, Result{
					Call: o.call, MsgID: o.msgID, Attempts: o.attempts,
					Err: &BadMsgError{Code: m.ErrorCode, BadMsgID: m.BadMsgID},
				})
			}
		}
	}
}

// syncTime sets the time offset from the upper 32 bits of the server's
// msg_id (MTProto: msg_id ≈ unixtime·2^32). If our clock ran ahead, the next
// msg_ids could not both increase and be in the server's window, so the
// session starts afresh.
func (s *Session) syncTime(r *receiver, reason ResendReason, rejected ...*outMsg) {
	server := time.Unix(r.frameID>>32, 0)
	s.timeOffset = server.Sub(r.now.Truncate(time.Second))
	natural := int64(proto.NewMessageID(r.now.Add(s.timeOffset), proto.MessageFromClient))
	if natural < s.lastMsgID {
		if err := s.newSessionID(); err != nil {
			r.errs = append(r.errs, err)
			return
		}
		s.stats.SessionResets++
		s.emitResent(r, s.requeueOrFail(s.inflight.all(), reason, rejected...))
	}
}
