package mtproto

import "github.com/gotd/td/mt"

// onPong answers a ping queued with Session.Ping with a Pong event. A pong
// for a message that is not our ping in flight is counted as ignored. (A
// pong inside rpc_result is routed by onResult to the same pong.)
func (s *Session) onPong(r *receiver, msgID int64, body []byte) {
	var m mt.Pong
	if !decode(r, msgID, "pong", body, &m) {
		return
	}
	o := s.inflight.get(m.MsgID)
	if o == nil || o.kind != kindPing {
		s.stats.IgnoredService++
		return
	}
	s.pong(r, o, m.PingID)
}

// pong reports the answer to the ping o. A msgs_state_req sent before two
// answered pings and still unanswered was ignored by the server (it answers in
// order; gotd's tgtest does not implement msgs_state_req): its calls are
// resent, as a client that cannot ask must. A get_future_salts passed over
// is forgotten, so it does not keep the connection "awaiting" forever.
func (s *Session) pong(r *receiver, o *outMsg, pingID int64) {
	s.forget(o)
	for _, m := range s.inflight.all() {
		if m.msgID >= o.msgID {
			break
		}
		switch m.kind {
		case kindStateReq:
			// Two later pings answered first: passed over, not slow.
			if m.ansAsks++; m.ansAsks >= 2 {
				s.stateReqUnanswered(r, m)
			}
		case kindFutureSalts:
			s.forget(m) // passed over: RefreshSalts asks again later
		}
	}
	s.stats.Pongs++
	r.out.Events = append(r.out.Events, Pong{PingID: pingID, RTT: r.now.Sub(o.sentAt)})
}

// stateReqUnanswered gives up on the msgs_state_req m: the server will not
// say what became of its calls, so those still in flight are resent.
func (s *Session) stateReqUnanswered(r *receiver, m *outMsg) {
	s.forget(m)
	s.noStateReq = true
	s.stats.StateReqIgnored++
	var calls []*outMsg
	for _, id := range m.asked() {
		if c := s.inflight.get(id); c != nil && c.kind == kindCall {
			calls = append(calls, c)
		}
	}
	s.emitResent(r, s.requeueOrFail(calls, ResendNotReceived))
}
