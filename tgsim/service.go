package tgsim

import (
	"github.com/gotd/td/bin"
)

// decode reads a service message; a broken one is counted and dropped.
func (s *session) decode(b *bin.Buffer, v bin.Decoder) bool {
	if err := v.Decode(b); err != nil {
		s.srv.count.err("malformed_message")
		return false
	}
	return true
}

// The bits of a msgs_state_info byte (MTProto "Service Messages about
// Messages": request for message status).
const (
	msgStateUnknown  = 1  // nothing is known about the message
	msgStateReceived = 4  // the message was received
	msgStateAnswered = 8  // … and answered
	msgStateRunning  = 32 // … and is still being processed
)

// msgState is MTProto's msgs_state_info byte for a client msg_id.
func (s *session) msgState(id int64) byte {
	st := s.calls[id]
	switch {
	case st == nil || !st.present:
		if s.seen.has(id) {
			return msgStateReceived // nothing more known
		}
		return msgStateUnknown
	case st.isDone():
		return msgStateReceived | msgStateAnswered
	default:
		return msgStateReceived | msgStateRunning
	}
}
