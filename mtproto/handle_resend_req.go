package mtproto

import "github.com/gotd/td/mt"

// onResendReq: MTProto, "Service Messages about Messages": the server asks
// for messages again (msg_resend_req). The calls among them still in flight
// are resent with fresh msg_ids; ids we no longer track are ignored.
func (s *Session) onResendReq(r *receiver, msgID int64, body []byte) {
	var m mt.MsgResendReq
	if !decode(r, msgID, "msg_resend_req", body, &m) {
		return
	}
	var ms []*outMsg
	for _, id := range m.MsgIDs {
		if o := s.inflight.get(id); o != nil {
			ms = append(ms, o)
		}
	}
	s.emitResent(r, s.requeue(ms, ResendServerRequest))
}
