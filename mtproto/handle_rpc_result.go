package mtproto

import (
	"github.com/gotd/td/bin"
	"github.com/gotd/td/mt"
	"github.com/gotd/td/proto"
	"github.com/gotd/td/tgerr"
)

// onResult routes rpc_result by req_msg_id to the message in flight with
// that msg_id: a call (answer in handle_answer.go), get_future_salts or a
// ping. A result whose body cannot be decoded is asked for again with
// msg_resend_req; one for a msg_id not in flight is counted and dropped.
func (s *Session) onResult(r *receiver, msgID int64, b *bin.Buffer) {
	_ = b.ConsumeID(proto.ResultTypeID)
	req, err := b.Long()
	if err != nil {
		r.malformed(msgID, "rpc_result", err)
		return
	}
	body := b.Buf
	if id, err := b.PeekID(); err == nil && id == proto.GZIPTypeID {
		var g proto.GZIP
		if err := g.Decode(b); err != nil {
			// The answer is lost: the call stays unanswered, and a
			// msg_resend_req asks the server for it again.
			r.malformed(msgID, "rpc_result gzip_packed", err)
			s.resendReq = append(s.resendReq, msgID)
			return
		}
		body = g.Data
	}
	o := s.inflight.get(req)
	if o == nil {
		// Late answer to a resent or cancelled call, or a server bug:
		// counted and dropped, never routed to the wrong call.
		s.stats.UnknownResults++
		return
	}
	var rpcErr *tgerr.Error
	if id, err := (&bin.Buffer{Buf: body}).PeekID(); err == nil && id == mt.RPCErrorTypeID {
		var e mt.RPCError
		if err := e.Decode(&bin.Buffer{Buf: body}); err != nil {
			r.malformed(msgID, "rpc_error", err)
			s.resendReq = append(s.resendReq, msgID)
			return
		}
		rpcErr = tgerr.New(e.ErrorCode, e.ErrorMessage)
	}
	switch o.kind {
	case kindFutureSalts:
		s.onFutureSaltsResult(r, msgID, o, body, rpcErr)
	case kindPing:
		// Servers answer a ping with a bare pong or, on some paths, with a
		// pong inside rpc_result: both are the same answer.
		var p mt.Pong
		if rpcErr == nil && decode(r, msgID, "pong", body, &p) {
			s.pong(r, o, p.PingID)
		} else {
			s.forget(o)
		}
	case kindStateReq:
		// msgs_state_req is answered by msgs_state_info, never inside
		// rpc_result: a server that answers it so (gotd's tgtest, with an
		// rpc_error) does not implement it, and its calls are resent.
		s.stateReqUnanswered(r, o)
	default:
		s.answer(r, o, req, body, rpcErr)
	}
}
