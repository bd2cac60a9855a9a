package tgsim

import (
	"encoding/binary"
	"math/rand/v2"

	"github.com/gotd/td/bin"
	"github.com/gotd/td/crypto"
	"github.com/gotd/td/mt"
	"github.com/gotd/td/proto"

	"github.com/tlsched/tlsched/mtproto/spec"
)

// msgClass is MTProto's split of messages: a content-related one gets an
// odd seqno and is acknowledged by the receiver (tgsim keeps it for
// msg_resend_req until then); a service message (acks, containers,
// notifications, pong, future_salts, msgs_state_info) gets an even seqno.
// MTProto ("Mobile Protocol": message identifier) also splits server
// msg_ids: ≡1 mod 4 for a response to a client message, ≡3 mod 4 for any
// other message; noticeMsg is a service message that answers nothing
// (msgs_ack, new_session_created).
type msgClass uint8

const (
	serviceMsg msgClass = iota // not content-related; answers a client message
	contentMsg                 // content-related; answers a client message
	noticeMsg                  // not content-related; answers nothing
	pushMsg                    // content-related; answers nothing (updates)
)

// content reports whether messages of class c are content-related.
func (c msgClass) content() bool { return c == contentMsg || c == pushMsg }

// answers reports whether messages of class c answer a client message.
func (c msgClass) answers() bool { return c == serviceMsg || c == contentMsg }

// outMsg is one message waiting to be sent.
type outMsg struct {
	body  []byte
	class msgClass
}

// queue adds a message for the session's connection. s.mu is held.
func (s *session) queue(m bin.Encoder, class msgClass) {
	var b bin.Buffer
	if err := m.Encode(&b); err != nil {
		s.srv.logf("tgsim: encode %T: %v", m, err)
		return
	}
	s.queueRaw(outMsg{body: b.Buf, class: class})
}

func (s *session) queueRaw(m outMsg) {
	if s.forgotten {
		return // ForgetSessions: nobody will ever read it
	}
	s.outq = append(s.outq, m)
	if s.conn != nil {
		s.conn.wake()
	}
}

// flushMode says when flush has something to send.
type flushMode uint8

const (
	// flushAll: whenever messages or acknowledgements are queued.
	flushAll flushMode = iota
	// flushAcks: only when acknowledgements have waited (the ack timer);
	// the messages queued by then go with them.
	flushAcks
)

// flush sends what the session has queued on c, in as few containers as
// the limits allow. Returns an error when the connection failed.
func (s *session) flush(c *conn, mode flushMode) error {
	srv := s.srv
	s.mu.Lock()
	if s.conn != c || (mode == flushAcks && len(s.pendingAcks) == 0) || (mode == flushAll && len(s.outq) == 0 && len(s.pendingAcks) == 0) {
		s.mu.Unlock()
		return nil
	}
	msgs := s.outq
	s.outq = nil
	if len(s.pendingAcks) > 0 {
		ack := &mt.MsgsAck{MsgIDs: make([]int64, 0, len(s.pendingAcks))}
		for id := range s.pendingAcks {
			ack.MsgIDs = append(ack.MsgIDs, id)
			if len(ack.MsgIDs) == spec.MaxAckIDs {
				break
			}
		}
		for _, id := range ack.MsgIDs {
			delete(s.pendingAcks, id)
		}
		srv.count.acksOut.Add(int64(len(ack.MsgIDs)))
		var b bin.Buffer
		_ = ack.Encode(&b)
		msgs = append(msgs, outMsg{body: b.Buf, class: noticeMsg})
	}
	if srv.faults.Load().Reorder {
		rand.Shuffle(len(msgs), func(i, j int) { msgs[i], msgs[j] = msgs[j], msgs[i] })
	}
	frames := s.pack(msgs)
	s.askState()
	salt := srv.currentSalt(s.key, srv.now())
	s.mu.Unlock()

	for _, f := range frames {
		if err := srv.sendFrame(c, s.key, salt, s.id, f); err != nil {
			// Put the messages back for the session's next connection.
			s.mu.Lock()
			s.outq = append(f.msgs, s.outq...)
			s.mu.Unlock()
			return err
		}
	}
	return nil
}

// outFrame is one encrypted message to send: a bare message or a container.
type outFrame struct {
	id    int64
	seqno int32
	body  []byte
	msgs  []outMsg // what it carries, to requeue on failure
}

// Containers sent by the server follow the same limits as clients': at most
// 1020 messages and about 1 MiB.
const (
	maxOutMessages = 1020
	maxOutBytes    = 1 << 20
	// containerHeader is what a container adds per message: msg_id (8),
	// seqno (4), length (4).
	containerHeader = 16
)

// pack assigns msg_ids and seqnos and groups msgs into frames. s.mu is held.
func (s *session) pack(msgs []outMsg) []outFrame {
	var frames []outFrame
	for len(msgs) > 0 {
		n, size := 0, 0
		for n < len(msgs) && n < maxOutMessages && (n == 0 || size+len(msgs[n].body)+containerHeader <= maxOutBytes) {
			size += len(msgs[n].body) + containerHeader
			n++
		}
		part := msgs[:n]
		msgs = msgs[n:]
		if n == 1 {
			id, seq := s.nextID(part[0].class)
			s.remember(id, part[0])
			frames = append(frames, outFrame{id: id, seqno: seq, body: part[0].body, msgs: part})
			continue
		}
		var b bin.Buffer
		b.PutID(proto.MessageContainerTypeID)
		b.PutInt(n)
		// A container is a response when it carries one.
		cclass := noticeMsg
		for _, m := range part {
			if m.class.answers() {
				cclass = serviceMsg
			}
			id, seq := s.nextID(m.class)
			s.remember(id, m)
			b.PutLong(id)
			b.PutInt32(seq)
			b.PutInt(len(m.body))
			b.Put(m.body)
		}
		id, seq := s.nextID(cclass)
		frames = append(frames, outFrame{id: id, seqno: seq, body: b.Buf, msgs: part})
	}
	return frames
}

// nextID assigns the msg_id and seqno of the next message sent. MTProto:
// seqno is twice the content messages sent before, plus one for a content
// message; a server msg_id is ≡1 mod 4 for a response, ≡3 otherwise.
func (s *session) nextID(class msgClass) (int64, int32) {
	typ := proto.MessageServerResponse
	if !class.answers() {
		typ = proto.MessageFromServer
	}
	id := s.ids.New(typ)
	seq := s.sentContent * 2
	if class.content() {
		seq++
		s.sentContent++
	}
	return id, seq
}

// remember keeps a content message until the client acknowledges it.
func (s *session) remember(id int64, m outMsg) {
	if !m.class.content() {
		return
	}
	s.unacked[id] = m
	s.unackedOrder = append(s.unackedOrder, id)
	if len(m.body) >= 4 && binary.LittleEndian.Uint32(m.body) == mt.MsgsStateReqTypeID {
		s.rememberStateReq(id, m.body)
	}
	if len(m.body) >= 12 && binary.LittleEndian.Uint32(m.body) == proto.ResultTypeID {
		if s.answerOf == nil {
			s.answerOf = map[int64]int64{}
		}
		s.answerOf[int64(binary.LittleEndian.Uint64(m.body[4:]))] = id
	}
	if len(s.unackedOrder) > 2*rememberSent {
		keep := s.unackedOrder[:0]
		for _, old := range s.unackedOrder {
			if _, ok := s.unacked[old]; ok {
				keep = append(keep, old)
			}
		}
		for len(keep) > rememberSent {
			delete(s.unacked, keep[0])
			keep = keep[1:]
		}
		s.unackedOrder = append([]int64(nil), keep...)
		for req, ans := range s.answerOf {
			if _, ok := s.unacked[ans]; !ok {
				delete(s.answerOf, req)
			}
		}
	}
}

// queueResult queues rpc_result; a result over the threshold goes
// gzip-packed, as Telegram does. s.mu is held.
func (s *session) queueResult(reqMsgID int64, res bin.Encoder) {
	s.queueRaw(s.encodeResult(reqMsgID, res))
}

// encodeResult makes the rpc_result message for reqMsgID.
func (s *session) encodeResult(reqMsgID int64, res bin.Encoder) outMsg {
	srv := s.srv
	var r bin.Buffer
	if err := res.Encode(&r); err != nil {
		srv.logf("tgsim: encode result %T: %v", res, err)
		r.Reset()
		_ = (&mt.RPCError{ErrorCode: 500, ErrorMessage: "INTERNAL"}).Encode(&r)
	}
	var b bin.Buffer
	b.PutID(mt.RPCResultTypeID)
	b.PutLong(reqMsgID)
	if t := srv.cfg.GzipThreshold; t > 0 && r.Len() > t {
		srv.count.gzippedOut.Add(1)
		if err := (proto.GZIP{Data: r.Buf}).Encode(&b); err != nil {
			b.Put(r.Buf)
		}
	} else {
		b.Put(r.Buf)
	}
	return outMsg{body: b.Buf, class: contentMsg}
}

// sendFrame encrypts one frame for the session and writes it.
func (srv *Server) sendFrame(c *conn, k *authKey, salt, sessionID int64, f outFrame) error {
	var b bin.Buffer
	err := srv.cipher.Encrypt(k.key, crypto.EncryptedMessageData{
		Salt: salt, SessionID: sessionID, MessageID: f.id, SeqNo: f.seqno,
		MessageDataLen: int32(len(f.body)), MessageDataWithPadding: f.body,
	}, &b)
	if err != nil {
		return err
	}
	if err := c.tc.Send(srv.ctx, &b); err != nil {
		return err
	}
	if err := c.echoFaults(b.Buf); err != nil {
		// The frame itself went out: do not requeue its messages.
		c.close()
	}
	srv.count.framesOut.Add(1)
	srv.count.messagesOut.Add(int64(len(f.msgs)))
	if len(f.msgs) > 1 {
		srv.count.containersOut.Add(1)
	}
	return nil
}
