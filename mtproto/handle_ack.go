package mtproto

import (
	"time"

	"github.com/gotd/td/mt"
)

// Acknowledgements both ways. MTProto, "Service Messages about Messages":
// the receiver of a content-related message (odd seqno) acknowledges it with
// msgs_ack; acks ride in the next frame (pack.go, addServiceAcks), or go out
// alone when NextDeadline says so.

// queueAck records a server content message to acknowledge.
func (s *Session) queueAck(now time.Time, id int64) {
	if len(s.acks) == 0 {
		s.ackSince = now
	}
	s.acks = append(s.acks, id)
}

// onAck marks our messages the server acknowledged: after a reconnect that
// keeps the session, a call the server acknowledged may have run: it is
// not sent again under a new session unless Resendable (requeueOrFail).
func (s *Session) onAck(r *receiver, msgID int64, body []byte) {
	var m mt.MsgsAck
	if !decode(r, msgID, "msgs_ack", body, &m) {
		return
	}
	for _, id := range m.MsgIDs {
		if o := s.inflight.get(id); o != nil {
			o.acked = true
		}
	}
}
