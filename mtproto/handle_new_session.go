package mtproto

import "github.com/gotd/td/mt"

// onNewSession: MTProto says to store the salt and resend what the new
// session did not see: the unanswered messages sent before first_msg_id.
// We apply that only when first_msg_id is one of ours; a server that names an
// id we never sent gives us nothing to compare with, and resending then would
// run calls twice. Such calls stay unanswered for the owner's timeout policy.
func (s *Session) onNewSession(r *receiver, msgID int64, body []byte) {
	var m mt.NewSessionCreated
	if !decode(r, msgID, "new_session_created", body, &m) {
		return
	}
	s.salt = m.ServerSalt
	s.future = nil
	r.out.Events = append(r.out.Events, SessionCreated{FirstMsgID: m.FirstMsgID, UniqueID: m.UniqueID, ServerSalt: m.ServerSalt})
	all := s.inflight.all()
	ours := false
	for _, o := range all {
		if o.msgID == m.FirstMsgID || o.frameID == m.FirstMsgID {
			ours = true
			break
		}
	}
	if !ours {
		return
	}
	var lost []*outMsg
	for _, o := range all {
		if o.frameID < m.FirstMsgID {
			lost = append(lost, o)
		}
	}
	s.emitResent(r, s.requeue(lost, ResendNewSession))
}
