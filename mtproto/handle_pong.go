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

// pong reports the answer to the ping o.
func (s *Session) pong(r *receiver, o *outMsg, pingID int64) {
	s.forget(o)
	s.stats.Pongs++
	r.out.Events = append(r.out.Events, Pong{PingID: pingID, RTT: r.now.Sub(o.sentAt)})
}
