package tgsim

import (
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
	s.srv.count.pings.Add(1)
	s.queue(&mt.Pong{MsgID: in.id, PingID: m.PingID}, contentMsg)
}

// onPingDelayDisconnect answers like ping and closes the connection unless
// another ping comes within the delay.
func (s *session) onPingDelayDisconnect(in inMsg, m *mt.PingDelayDisconnectRequest) {
	s.srv.count.pings.Add(1)
	s.queue(&mt.Pong{MsgID: in.id, PingID: m.PingID}, contentMsg)
	if m.DisconnectDelay > 0 {
		in.conn.armDisconnect(time.Duration(m.DisconnectDelay) * time.Second)
	}
}

func (s *session) onGetFutureSalts(in inMsg, m *mt.GetFutureSaltsRequest) {
	s.queue(s.srv.futureSalts(s.key, in.now, in.id, m.Num), contentMsg)
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

func (s *session) onStateReq(in inMsg, m *mt.MsgsStateReq) {
	info := make([]byte, len(m.MsgIDs))
	for i, mid := range m.MsgIDs {
		info[i] = s.msgState(mid)
	}
	s.queue(&mt.MsgsStateInfo{ReqMsgID: in.id, Info: info}, contentMsg)
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
