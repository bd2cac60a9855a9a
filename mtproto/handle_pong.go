package mtproto

import "github.com/gotd/td/mt"

// onPong answers a ping queued with Session.Ping with a Pong event. A pong
// for a message that is not our ping in flight is counted as ignored. (A
// pong inside rpc_result is routed by onResult.)
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
	s.forget(o)
	r.out.Events = append(r.out.Events, Pong{PingID: m.PingID, RTT: r.now.Sub(o.sentAt)})
}
