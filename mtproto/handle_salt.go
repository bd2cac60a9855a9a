package mtproto

import (
	"github.com/gotd/td/mt"
	"github.com/gotd/td/tgerr"
)

// onBadServerSalt: MTProto, "Service Messages about Messages": the server
// rejected a message (or a container) for its salt and sends the salt to
// use. Store it and resend what the message named. (A bare
// bad_msg_notification with the salt code is a row of badmsg.go.)
func (s *Session) onBadServerSalt(r *receiver, msgID int64, body []byte) {
	var m mt.BadServerSalt
	if !decode(r, msgID, "bad_server_salt", body, &m) {
		return
	}
	s.salt = m.NewServerSalt
	s.future = nil
	s.resendNamed(r, m.BadMsgID, ResendBadSalt)
}

// onFutureSalts handles future_salts that came bare.
func (s *Session) onFutureSalts(r *receiver, msgID int64, body []byte) {
	var m mt.FutureSalts
	if decode(r, msgID, "future_salts", body, &m) {
		s.useFutureSalts(r, &m)
	}
}

// onFutureSaltsResult handles the rpc_result of our get_future_salts o.
func (s *Session) onFutureSaltsResult(r *receiver, msgID int64, o *outMsg, body []byte, rpcErr *tgerr.Error) {
	var m mt.FutureSalts
	if rpcErr == nil && decode(r, msgID, "future_salts", body, &m) {
		s.useFutureSalts(r, &m)
	}
	s.forget(o)
}

// useFutureSalts keeps the salts; currentSalt (pack.go) switches to each as
// it becomes valid.
func (s *Session) useFutureSalts(r *receiver, m *mt.FutureSalts) {
	if o := s.inflight.get(m.ReqMsgID); o != nil && o.kind == kindFutureSalts {
		s.forget(o)
	}
	s.future = append(s.future[:0], m.Salts...)
	r.out.Events = append(r.out.Events, FutureSalts{Count: len(m.Salts)})
}
