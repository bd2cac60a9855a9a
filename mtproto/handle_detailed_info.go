package mtproto

import "github.com/gotd/td/mt"

// MTProto, "Service Messages about Messages": msg_detailed_info and
// msg_new_detailed_info tell the client of an answer (answer_msg_id) the
// server has for it. The client acknowledges an answer it has, and asks for
// one it lacks with msg_resend_req (sent by pack.go, addServiceAcks).

// onDetailedInfo handles msg_detailed_info, about our message msg_id.
func (s *Session) onDetailedInfo(r *receiver, msgID int64, body []byte) {
	var m mt.MsgDetailedInfo
	if !decode(r, msgID, "msg_detailed_info", body, &m) {
		return
	}
	// If the answer was not received, ask for it again; otherwise
	// acknowledge it.
	if s.inflight.get(m.MsgID) != nil {
		s.resendReq = append(s.resendReq, m.AnswerMsgID)
	} else {
		s.queueAck(r.now, m.AnswerMsgID)
	}
}

// onNewDetailedInfo handles msg_new_detailed_info, about a message the
// client did not send: always ask for the answer.
func (s *Session) onNewDetailedInfo(r *receiver, msgID int64, body []byte) {
	var m mt.MsgNewDetailedInfo
	if decode(r, msgID, "msg_new_detailed_info", body, &m) {
		s.resendReq = append(s.resendReq, m.AnswerMsgID)
	}
}
