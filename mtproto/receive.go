package mtproto

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gotd/td/bin"
	"github.com/gotd/td/mt"
	"github.com/gotd/td/proto"
	"github.com/gotd/td/tgerr"

	"github.com/tlsched/tlsched/mtproto/spec"
)

// maxGzipDepth bounds gzip_packed inside gzip_packed. MTProto allows
// gzip_packed around any object; two levels (a gzipped container holding a
// gzipped result) is what servers send.
const maxGzipDepth = 2

// receiver collects the outcome of one Receive.
type receiver struct {
	now     time.Time
	frameID int64 // outer server msg_id of the frame
	out     Received
	errs    []error
}

func (r *receiver) malformed(msgID int64, what string, err error) {
	r.errs = append(r.errs, &MalformedError{MsgID: msgID, What: what, Err: err})
}

// Receive decrypts one frame (as read from the transport codec), updates the
// session and returns what happened. A frame that fails to decrypt, belongs
// to another session or replays a msg_id is rejected as a whole with an error
// wrapping ErrDecrypt, ErrWrongSession or ErrReplay, and changes nothing.
// Parts of a decrypted frame that fail to decode are skipped and reported as
// *MalformedError values joined in the error, next to the events of the parts
// that did decode. Receive never panics on any input.
func (s *Session) Receive(now time.Time, frame []byte) (Received, error) {
	msg, err := s.cipher.DecryptFromBuffer(s.key, &bin.Buffer{Buf: frame})
	if err != nil {
		return Received{}, fmt.Errorf("%w: %v", ErrDecrypt, err)
	}
	if msg.SessionID != s.sessionID {
		return Received{}, fmt.Errorf("%w: frame has session %d, ours is %d", ErrWrongSession, msg.SessionID, s.sessionID)
	}
	// MTProto: server msg_ids are odd (1 mod 4 for responses, 3 otherwise).
	if msg.MessageID%2 == 0 {
		s.stats.Malformed++
		return Received{}, &MalformedError{MsgID: msg.MessageID, What: "frame", Err: errors.New("server msg_id is even")}
	}
	if !s.seen.Consume(msg.MessageID) {
		return Received{}, fmt.Errorf("%w: %d", ErrReplay, msg.MessageID)
	}
	r := receiver{now: now, frameID: msg.MessageID}
	s.handle(&r, msg.MessageID, msg.SeqNo, msg.Data(), 0)
	s.stats.Malformed += len(r.errs)
	return r.out, errors.Join(r.errs...)
}

func (s *Session) handle(r *receiver, msgID int64, seqno int32, body []byte, depth int) {
	// MTProto: content-related messages (odd seqno) must be acknowledged.
	if seqno&1 == 1 {
		s.queueAck(r.now, msgID)
	}
	s.dispatch(r, msgID, body, depth, 0)
}

func (s *Session) queueAck(now time.Time, id int64) {
	if len(s.acks) == 0 {
		s.ackSince = now
	}
	s.acks = append(s.acks, id)
}

func (s *Session) dispatch(r *receiver, msgID int64, body []byte, depth, gz int) {
	// b stays on the stack on the hot paths (containers, results); service
	// messages decode from their own buffer in decode.
	b := &bin.Buffer{Buf: body}
	id, err := b.PeekID()
	if err != nil {
		r.malformed(msgID, "message", err)
		return
	}
	switch id {
	case proto.MessageContainerTypeID:
		if depth > 0 {
			// MTProto: containers never nest.
			r.malformed(msgID, "msg_container", errors.New("nested container"))
			return
		}
		s.onContainer(r, msgID, b)
	case proto.GZIPTypeID:
		if gz >= maxGzipDepth {
			r.malformed(msgID, "gzip_packed", errors.New("gzip nested too deep"))
			return
		}
		var g proto.GZIP
		if err := g.Decode(b); err != nil {
			r.malformed(msgID, "gzip_packed", err)
			return
		}
		s.dispatch(r, msgID, g.Data, depth, gz+1)
	case proto.ResultTypeID:
		s.onResult(r, msgID, b)
	case mt.MsgsAckTypeID:
		var m mt.MsgsAck
		if decode(r, msgID, "msgs_ack", body, &m) {
			for _, id := range m.MsgIDs {
				if o := s.inflight.get(id); o != nil {
					o.acked = true
				}
			}
		}
	case mt.BadServerSaltTypeID:
		var m mt.BadServerSalt
		if decode(r, msgID, "bad_server_salt", body, &m) {
			s.salt = m.NewServerSalt
			s.future = nil
			s.resendNamed(r, m.BadMsgID, ResendBadSalt)
		}
	case mt.BadMsgNotificationTypeID:
		s.onBadMsg(r, msgID, body)
	case mt.NewSessionCreatedTypeID:
		var m mt.NewSessionCreated
		if decode(r, msgID, "new_session_created", body, &m) {
			s.onNewSession(r, &m)
		}
	case mt.PongTypeID:
		var m mt.Pong
		if decode(r, msgID, "pong", body, &m) {
			s.onPong(r, &m)
		}
	case mt.FutureSaltsTypeID:
		var m mt.FutureSalts
		if decode(r, msgID, "future_salts", body, &m) {
			s.onFutureSalts(r, &m)
		}
	case mt.MsgDetailedInfoTypeID:
		var m mt.MsgDetailedInfo
		if decode(r, msgID, "msg_detailed_info", body, &m) {
			// MTProto: if the answer was not received, ask for it again;
			// otherwise acknowledge it.
			if s.inflight.get(m.MsgID) != nil {
				s.resendReq = append(s.resendReq, m.AnswerMsgID)
			} else {
				s.queueAck(r.now, m.AnswerMsgID)
			}
		}
	case mt.MsgNewDetailedInfoTypeID:
		var m mt.MsgNewDetailedInfo
		if decode(r, msgID, "msg_new_detailed_info", body, &m) {
			s.resendReq = append(s.resendReq, m.AnswerMsgID)
		}
	case mt.MsgResendReqTypeID:
		var m mt.MsgResendReq
		if decode(r, msgID, "msg_resend_req", body, &m) {
			var ms []*outMsg
			for _, id := range m.MsgIDs {
				if o := s.inflight.get(id); o != nil {
					ms = append(ms, o)
				}
			}
			s.emitResent(r, s.requeue(ms, ResendServerRequest))
		}
	case mt.MsgsStateReqTypeID, mt.MsgsStateInfoTypeID, mt.MsgsAllInfoTypeID,
		mt.DestroySessionOkTypeID, mt.DestroySessionNoneTypeID, mt.MsgCopyTypeID:
		s.stats.IgnoredService++
	default:
		// Updates and anything else the server pushes: the owner decodes it.
		s.stats.Updates++
		r.out.Events = append(r.out.Events, Update{MsgID: msgID, Body: body})
	}
}

type decoder interface{ Decode(*bin.Buffer) error }

func decode(r *receiver, msgID int64, what string, body []byte, v decoder) bool {
	if err := v.Decode(&bin.Buffer{Buf: body}); err != nil {
		r.malformed(msgID, what, err)
		return false
	}
	return true
}

// onContainer walks msg_container without copying the inner bodies. A
// truncated container yields the messages before the damage.
func (s *Session) onContainer(r *receiver, msgID int64, b *bin.Buffer) {
	_ = b.ConsumeID(proto.MessageContainerTypeID)
	n, err := b.Int()
	if err != nil {
		r.malformed(msgID, "msg_container", err)
		return
	}
	if n < 0 || n > spec.MaxContainerMessages {
		r.malformed(msgID, "msg_container", fmt.Errorf("%d messages", n))
		return
	}
	for i := 0; i < n; i++ {
		id, err := b.Long()
		if err != nil {
			r.malformed(msgID, "msg_container", fmt.Errorf("message %d of %d: %w", i+1, n, err))
			return
		}
		seq, err := b.Int32()
		if err != nil {
			r.malformed(msgID, "msg_container", fmt.Errorf("message %d of %d: %w", i+1, n, err))
			return
		}
		l, err := b.Int()
		if err != nil {
			r.malformed(msgID, "msg_container", fmt.Errorf("message %d of %d: %w", i+1, n, err))
			return
		}
		if l < 0 || l > b.Len() {
			r.malformed(msgID, "msg_container", fmt.Errorf("message %d of %d: length %d with %d bytes left", i+1, n, l, b.Len()))
			return
		}
		inner := b.Buf[:l:l]
		b.Skip(l)
		s.handle(r, id, seq, inner, 1)
	}
}

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
		var m mt.FutureSalts
		if rpcErr == nil && decode(r, msgID, "future_salts", body, &m) {
			s.onFutureSalts(r, &m)
		}
		s.forget(o)
		return
	case kindPing:
		s.forget(o)
		return
	}
	if rpcErr != nil && rpcErr.Type == "CONNECTION_NOT_INITED" && !o.init && !s.cfg.NoInit {
		// The server lost our initConnection (a new connection or key):
		// send the call again, wrapped.
		s.initDone = false
		s.emitResent(r, s.requeue([]*outMsg{o}, "connection_not_inited"))
		return
	}
	if o.init && (rpcErr == nil || !strings.HasPrefix(rpcErr.Type, "CONNECTION_")) {
		s.initDone = true
	}
	s.forget(o)
	s.stats.Results++
	res := Result{Call: o.call, MsgID: req, Attempts: o.attempts}
	if rpcErr != nil {
		res.Err = rpcErr
	} else {
		res.Body = body
	}
	r.out.Results = append(r.out.Results, res)
}

func (s *Session) emitResent(r *receiver, ev Resent) {
	if len(ev.Calls) > 0 {
		r.out.Events = append(r.out.Events, ev)
	}
}

// named returns the in-flight messages a service message names: the message
// itself, or every message of the frame (container) with that id.
func (s *Session) named(id int64) []*outMsg {
	if o := s.inflight.get(id); o != nil && o.frameID != id {
		return []*outMsg{o}
	}
	// Rare (service messages about a container): a scan is fine.
	var ms []*outMsg
	for _, o := range s.inflight.all() {
		if o.frameID == id {
			ms = append(ms, o)
		}
	}
	return ms
}

func (s *Session) resendNamed(r *receiver, id int64, reason ResendReason) {
	s.emitResent(r, s.requeue(s.named(id), reason))
}

// onNewSession: MTProto says to store the salt and resend what the new
// session did not see: the unanswered messages sent before first_msg_id.
// We apply that only when first_msg_id is one of ours; a server that names an
// id we never sent gives us nothing to compare with, and resending then would
// run calls twice. Such calls stay unanswered for the owner's timeout policy.
func (s *Session) onNewSession(r *receiver, m *mt.NewSessionCreated) {
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

func (s *Session) onPong(r *receiver, m *mt.Pong) {
	o := s.inflight.get(m.MsgID)
	if o == nil || o.kind != kindPing {
		s.stats.IgnoredService++
		return
	}
	s.forget(o)
	r.out.Events = append(r.out.Events, Pong{PingID: m.PingID, RTT: r.now.Sub(o.sentAt)})
}

func (s *Session) onFutureSalts(r *receiver, m *mt.FutureSalts) {
	if o := s.inflight.get(m.ReqMsgID); o != nil && o.kind == kindFutureSalts {
		s.forget(o)
	}
	s.future = append(s.future[:0], m.Salts...)
	r.out.Events = append(r.out.Events, FutureSalts{Count: len(m.Salts)})
}
