package tgsim

import (
	"fmt"
	"time"

	"github.com/gotd/td/bin"
	"github.com/gotd/td/mt"
	"github.com/gotd/td/proto"

	"github.com/tlsched/tlsched/mtproto/spec"
)

// inMsg is one received message that is not a container, as its handler
// sees it.
type inMsg struct {
	conn  *conn
	now   time.Time
	id    int64
	seqno int32
	b     *bin.Buffer // the body, gzip unpacked, at its type id
}

// serviceHandlers answer MTProto's service messages ("Service Messages",
// "Service Messages about Messages") by type id; a message of any other
// type is an RPC query (session.query). s.mu is held.
var serviceHandlers = map[uint32]func(s *session, m inMsg){
	proto.MessageContainerTypeID:        (*session).nestedContainer,
	mt.MsgsAckTypeID:                    evenSeqno(decoded((*session).onAck)),
	mt.PingRequestTypeID:                decoded((*session).onPing),
	mt.PingDelayDisconnectRequestTypeID: decoded((*session).onPingDelayDisconnect),
	mt.GetFutureSaltsRequestTypeID:      decoded((*session).onGetFutureSalts),
	mt.MsgResendReqTypeID:               decoded((*session).onResendReq),
	mt.MsgsStateReqTypeID:               decoded((*session).onStateReq),
	msgResendAnsReqTypeID:               decoded((*session).onResendAnsReq),
	mt.MsgsStateInfoTypeID:              evenSeqno(decoded((*session).onStateInfo)),
	mt.RPCDropAnswerRequestTypeID:       decoded((*session).onDropAnswer),
	mt.DestroySessionRequestTypeID:      decoded((*session).onDestroySession),
}

// decoded wraps the handler of service message type M: it decodes the
// message first, and counts and drops one that does not decode.
func decoded[M any, P interface {
	*M
	bin.Decoder
}](h func(s *session, in inMsg, m P)) func(*session, inMsg) {
	return func(s *session, in inMsg) {
		m := P(new(M))
		if err := m.Decode(in.b); err != nil {
			s.srv.count.err("malformed_message")
			return
		}
		h(s, in, m)
	}
}

// evenSeqno wraps the handler of a message that is not content-related:
// MTProto wants its seqno even (bad_msg 34), checked before it is read.
func evenSeqno(h func(*session, inMsg)) func(*session, inMsg) {
	return func(s *session, in inMsg) {
		if code := checkServiceSeqno(in.seqno); code != 0 {
			s.badMsg(in.id, in.seqno, code)
			return
		}
		h(s, in)
	}
}

// nestedContainer: MTProto containers never nest (bad_msg 64).
func (s *session) nestedContainer(in inMsg) {
	s.badMsg(in.id, in.seqno, spec.BadMsgInvalidContainer)
}

// onAck forgets the acknowledged messages: they will not be resent.
func (s *session) onAck(_ inMsg, m *mt.MsgsAck) {
	s.srv.count.acksIn.Add(int64(len(m.MsgIDs)))
	for _, mid := range m.MsgIDs {
		delete(s.unacked, mid)
	}
}

func (s *session) onPing(in inMsg, m *mt.PingRequest) {
	s.pong(in, m.PingID)
}

// pong answers a ping. MTProto: pong needs no acknowledgement (even
// seqno); Telegram sends it bare or, on some paths, as an rpc_result
// (Faults.PongInResult).
func (s *session) pong(in inMsg, pingID int64) {
	s.srv.count.pings.Add(1)
	p := &mt.Pong{MsgID: in.id, PingID: pingID}
	if s.srv.faults.Load().PongInResult {
		s.queueResult(in.id, p)
		return
	}
	s.queue(p, serviceMsg)
}

// onPingDelayDisconnect answers like ping and closes the connection unless
// another ping_delay_disconnect comes within the delay (MTProto "Service
// Messages": a new one resets the timer; a plain ping does not).
func (s *session) onPingDelayDisconnect(in inMsg, m *mt.PingDelayDisconnectRequest) {
	s.pong(in, m.PingID)
	in.conn.armDisconnect(time.Duration(m.DisconnectDelay) * time.Second)
}

func (s *session) onGetFutureSalts(in inMsg, m *mt.GetFutureSaltsRequest) {
	// MTProto: future_salts needs no acknowledgement.
	s.queue(s.srv.futureSalts(s.key, in.now, in.id, m.Num), serviceMsg)
}

// onResendReq resends the content messages still unacknowledged; the
// others are forgotten (remember keeps the last rememberSent).
func (s *session) onResendReq(_ inMsg, m *mt.MsgResendReq) {
	for _, mid := range m.MsgIDs {
		if om, ok := s.unacked[mid]; ok {
			delete(s.unacked, mid)
			s.srv.count.resent.Add(1)
			s.queueRaw(om)
		}
	}
}

// msgResendAnsReqTypeID is msg_resend_ans_req#8610baeb msg_ids:Vector<long>
// = MsgResendReq, which gotd's mt package does not define.
const msgResendAnsReqTypeID = 0x8610baeb

// msgResendAnsReq decodes msg_resend_ans_req.
type msgResendAnsReq struct{ MsgIDs []int64 }

func (m *msgResendAnsReq) Decode(b *bin.Buffer) error {
	if err := b.ConsumeID(msgResendAnsReqTypeID); err != nil {
		return err
	}
	n, err := b.VectorHeader()
	if err != nil {
		return err
	}
	if n < 0 || n > spec.MaxAckIDs {
		return fmt.Errorf("msg_resend_ans_req: %d ids", n)
	}
	m.MsgIDs = make([]int64, n)
	for i := range m.MsgIDs {
		if m.MsgIDs[i], err = b.Long(); err != nil {
			return err
		}
	}
	return nil
}

// onResendAnsReq answers msg_resend_ans_req (MTProto, "Explicit Request to
// Re-Send Answers"): the answers to the named queries are sent again, and
// msgs_state_info is returned for all of them "as if the MsgResendReq query
// had been a MsgsStateReq query as well".
func (s *session) onResendAnsReq(in inMsg, m *msgResendAnsReq) {
	for _, req := range m.MsgIDs {
		if ans, ok := s.answerOf[req]; ok {
			if om, ok := s.unacked[ans]; ok {
				s.srv.count.resent.Add(1)
				s.queueRaw(om)
			}
		}
	}
	s.onStateReq(in, &mt.MsgsStateReq{MsgIDs: m.MsgIDs})
}

// onStateReq answers msgs_state_req. MTProto: msgs_state_info needs no
// acknowledgement; it acknowledges the request itself.
func (s *session) onStateReq(in inMsg, m *mt.MsgsStateReq) {
	info := make([]byte, len(m.MsgIDs))
	for i, mid := range m.MsgIDs {
		info[i] = s.msgState(mid, in.now)
	}
	s.queue(&mt.MsgsStateInfo{ReqMsgID: in.id, Info: info}, serviceMsg)
}

// The values of a msgs_state_info byte (MTProto "Service Messages about
// Messages": request for message status): one of the first four, plus
// flags when the message was received.
const (
	msgStateForgotten   = 1   // nothing known: msg_id too low, maybe forgotten
	msgStateNotReceived = 2   // msg_id within the stored range, never received
	msgStateTooHigh     = 3   // msg_id too high, not received yet
	msgStateReceived    = 4   // received (this answer also acknowledges it)
	msgStateAcked       = 8   // + already acknowledged
	msgStateNoAck       = 16  // + needs no acknowledgement
	msgStateRunning     = 32  // + an RPC query being processed or done
	msgStateAnswered    = 64  // + its content-related answer was generated
	msgStateKnown       = 128 // + the other party knows it was received
)

// msgState is MTProto's msgs_state_info byte for a client msg_id. s.mu is
// held.
func (s *session) msgState(id int64, now time.Time) byte {
	st := s.calls[id]
	switch {
	case st != nil && st.present:
		b := byte(msgStateReceived | msgStateRunning)
		if _, waiting := s.pendingAcks[id]; !waiting {
			b |= msgStateAcked // by msgs_ack or by its answer
		}
		if st.isDone() {
			b |= msgStateAnswered
		}
		return b
	case s.seen.has(id):
		return msgStateReceived // a service message, or a call forgotten
	case checkMsgID(id, now) == spec.BadMsgIDTooLow || s.seen.belowWindow(id):
		return msgStateForgotten
	case id > s.seen.max:
		return msgStateTooHigh
	default:
		return msgStateNotReceived
	}
}

// onDropAnswer answers rpc_drop_answer: dropped_running for a call still
// running, unknown otherwise (tgsim does not cancel the call).
func (s *session) onDropAnswer(in inMsg, m *mt.RPCDropAnswerRequest) {
	var ans bin.Encoder = &mt.RPCAnswerUnknown{}
	if st := s.calls[m.ReqMsgID]; st != nil && st.present && !st.isDone() {
		ans = &mt.RPCAnswerDroppedRunning{}
	}
	s.queueResult(in.id, ans)
}

func (s *session) onDestroySession(_ inMsg, m *mt.DestroySessionRequest) {
	s.queue(s.key.destroySession(m.SessionID, s), contentMsg)
}
