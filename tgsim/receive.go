package tgsim

import (
	"encoding/binary"
	"math/rand/v2"
	"time"

	"github.com/gotd/td/bin"
	"github.com/gotd/td/mt"
	"github.com/gotd/td/proto"

	"github.com/tlsched/tlsched/mtproto/spec"
)

// receive applies the session rules to one decrypted frame and starts the
// calls it carries.
func (s *session) receive(c *conn, salt, msgID int64, seqno int32, body []byte) {
	srv := s.srv
	now := srv.now()
	var start []*call
	s.mu.Lock()
	s.receiveLocked(c, now, salt, msgID, seqno, body, &start)
	s.mu.Unlock()
	for _, cl := range start {
		s.start(cl)
	}
}

func (s *session) receiveLocked(c *conn, now time.Time, salt, msgID int64, seqno int32, body []byte, start *[]*call) {
	srv := s.srv
	if code := checkMsgID(msgID, now); code != 0 {
		s.badMsg(msgID, seqno, code)
		return
	}
	if !srv.saltValid(s.key, salt, now) {
		srv.count.err("bad_server_salt")
		s.queue(&mt.BadServerSalt{BadMsgID: msgID, BadMsgSeqno: int(seqno), ErrorCode: spec.BadMsgServerSalt, NewServerSalt: srv.currentSalt(s.key, now)}, false)
		return
	}
	if !s.seen.add(msgID) {
		srv.count.err("replayed_msg_id")
		return
	}
	isContainer := len(body) >= 4 && binary.LittleEndian.Uint32(body) == proto.MessageContainerTypeID
	var inner []innerMsg
	if isContainer {
		srv.count.containersIn.Add(1)
		var ok bool
		if inner, ok = parseContainer(msgID, body); !ok {
			s.badMsg(msgID, seqno, spec.BadMsgInvalidContainer)
			return
		}
		if seqno%2 != 0 {
			// MTProto: a container is not content-related; its seqno is even.
			s.badMsg(msgID, seqno, spec.BadMsgSeqNoEvenWanted)
			return
		}
	}
	if s.fresh {
		s.fresh = false
		first := msgID
		for _, m := range inner {
			first = min(first, m.id)
		}
		srv.count.newSessions.Add(1)
		s.queue(&mt.NewSessionCreated{FirstMsgID: first, UniqueID: rand.Int64(), ServerSalt: srv.currentSalt(s.key, now)}, false)
	}
	if !isContainer {
		s.message(c, now, msgID, seqno, body, start)
		return
	}
	for _, m := range inner {
		if code := checkMsgID(m.id, now); code != 0 {
			s.badMsg(m.id, m.seqno, code)
			continue
		}
		if !s.seen.add(m.id) {
			srv.count.err("replayed_msg_id")
			continue
		}
		s.message(c, now, m.id, m.seqno, m.body, start)
	}
}

// message handles one message that is not a container.
func (s *session) message(c *conn, now time.Time, id int64, seqno int32, body []byte, start *[]*call) {
	srv := s.srv
	srv.count.messagesIn.Add(1)
	b := &bin.Buffer{Buf: body}
	tid, err := b.PeekID()
	if err != nil {
		srv.count.err("malformed_message")
		return
	}
	if tid == proto.GZIPTypeID {
		var g proto.GZIP
		if err := g.Decode(b); err != nil {
			srv.count.err("malformed_message")
			return
		}
		b = &bin.Buffer{Buf: g.Data}
		if tid, err = b.PeekID(); err != nil {
			srv.count.err("malformed_message")
			return
		}
	}
	switch tid {
	case proto.MessageContainerTypeID:
		s.badMsg(id, seqno, spec.BadMsgInvalidContainer)
	case mt.MsgsAckTypeID:
		if seqno%2 != 0 {
			s.badMsg(id, seqno, spec.BadMsgSeqNoEvenWanted)
			return
		}
		var m mt.MsgsAck
		if !s.decode(b, &m) {
			return
		}
		srv.count.acksIn.Add(int64(len(m.MsgIDs)))
		for _, mid := range m.MsgIDs {
			delete(s.unacked, mid)
		}
	case mt.PingRequestTypeID:
		var m mt.PingRequest
		if !s.decode(b, &m) {
			return
		}
		srv.count.pings.Add(1)
		s.queue(&mt.Pong{MsgID: id, PingID: m.PingID}, true)
	case mt.PingDelayDisconnectRequestTypeID:
		var m mt.PingDelayDisconnectRequest
		if !s.decode(b, &m) {
			return
		}
		srv.count.pings.Add(1)
		s.queue(&mt.Pong{MsgID: id, PingID: m.PingID}, true)
		if m.DisconnectDelay > 0 {
			c.armDisconnect(time.Duration(m.DisconnectDelay) * time.Second)
		}
	case mt.GetFutureSaltsRequestTypeID:
		var m mt.GetFutureSaltsRequest
		if !s.decode(b, &m) {
			return
		}
		s.queue(srv.futureSalts(s.key, now, id, m.Num), true)
	case mt.MsgResendReqTypeID:
		var m mt.MsgResendReq
		if !s.decode(b, &m) {
			return
		}
		for _, mid := range m.MsgIDs {
			if om, ok := s.unacked[mid]; ok {
				delete(s.unacked, mid)
				srv.count.resent.Add(1)
				s.queueRaw(om)
			}
		}
	case mt.MsgsStateReqTypeID:
		var m mt.MsgsStateReq
		if !s.decode(b, &m) {
			return
		}
		info := make([]byte, len(m.MsgIDs))
		for i, mid := range m.MsgIDs {
			info[i] = s.msgState(mid)
		}
		s.queue(&mt.MsgsStateInfo{ReqMsgID: id, Info: info}, true)
	case mt.RPCDropAnswerRequestTypeID:
		var m mt.RPCDropAnswerRequest
		if !s.decode(b, &m) {
			return
		}
		var ans bin.Encoder = &mt.RPCAnswerUnknown{}
		if st := s.calls[m.ReqMsgID]; st != nil && st.present && !st.isDone() {
			ans = &mt.RPCAnswerDroppedRunning{}
		}
		s.queueResult(id, ans)
	case mt.DestroySessionRequestTypeID:
		var m mt.DestroySessionRequest
		if !s.decode(b, &m) {
			return
		}
		s.queue(s.key.destroySession(m.SessionID, s), true)
	default:
		// An RPC query: content-related, so its seqno is odd (35 if even),
		// and seqnos grow with msg_ids (32 too low, 33 too high).
		if seqno%2 == 0 {
			s.badMsg(id, seqno, spec.BadMsgSeqNoOddWanted)
			return
		}
		switch {
		case id > s.lastID && s.lastID != 0 && seqno <= s.lastSeq:
			s.badMsg(id, seqno, spec.BadMsgSeqNoLow)
			return
		case id < s.lastID && seqno >= s.lastSeq:
			s.badMsg(id, seqno, spec.BadMsgSeqNoHigh)
			return
		case id > s.lastID:
			s.lastID, s.lastSeq = id, seqno
		}
		s.pendingAcks[id] = struct{}{}
		if cl := s.newCall(id, b.Buf); cl != nil {
			*start = append(*start, cl)
		}
	}
}
