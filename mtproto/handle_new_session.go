package mtproto

import "github.com/gotd/td/mt"

// onNewSession: MTProto says to store the salt and resend what the new
// session did not see: the unanswered messages sent before first_msg_id.
// first_msg_id names the first message the server saw in the new session,
// whatever it is (often our msgs_ack, which the session does not track), so
// the rule compares frames: the frame that allocated first_msg_id (frames.go)
// and every later one reached the new session; the messages of earlier
// frames are resent. A first_msg_id that no frame of ours allocated (gotd's
// tgtest makes one up) gives nothing to compare with: resending then could
// run calls twice, so nothing is resent and the owner's liveness rules
// (msgs_state_req after StateReqAfter) find what was lost. A call the old
// session acknowledged may have run: it goes again only if Resendable,
// else it is answered with *MaybeRanError.
func (s *Session) onNewSession(r *receiver, msgID int64, body []byte) {
	var m mt.NewSessionCreated
	if !decode(r, msgID, "new_session_created", body, &m) {
		return
	}
	s.salt = m.ServerSalt
	s.future = nil
	r.out.Events = append(r.out.Events, SessionCreated{FirstMsgID: m.FirstMsgID, UniqueID: m.UniqueID, ServerSalt: m.ServerSalt})
	first, ours := s.frames.outerOf(m.FirstMsgID)
	if !ours {
		return
	}
	var lost, ran []*outMsg
	for _, o := range s.inflight.all() {
		switch {
		case o.frameID >= first:
		case o.acked:
			// The old session acknowledged it: it got it and may have run
			// it, so only a Resendable call goes again.
			ran = append(ran, o)
		default:
			lost = append(lost, o)
		}
	}
	s.emitResent(r, s.requeue(lost, ResendNewSession))
	s.emitResent(r, s.requeueOrFail(ran, ResendNewSession))
}
