package tgsim

import (
	"container/heap"
	"encoding/binary"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/gotd/td/bin"
	"github.com/gotd/td/mt"
	"github.com/gotd/td/proto"

	"github.com/tlsched/tlsched/mtproto/spec"
)

// session is the server side of one MTProto session (auth key + session
// id). It outlives connections: results of calls read on a connection that
// dropped are delivered on the session's next connection.
type session struct {
	srv *Server
	key *authKey
	id  int64

	mu    sync.Mutex
	conn  *conn // current connection; nil while detached
	fresh bool  // new_session_created not sent yet
	seen  idSet

	// The content message with the highest msg_id so far, for the seqno
	// order rules (bad_msg 32/33).
	lastID  int64
	lastSeq int32

	calls    map[int64]*callState
	finished []int64 // ids of finished calls, oldest first, to forget them

	pendingAcks map[int64]struct{}
	outq        []outMsg
	sentContent int32
	ids         *proto.MessageIDGen

	unacked      map[int64]outMsg // content messages sent, kept for msg_resend_req
	unackedOrder []int64
}

// outMsg is one message waiting to be sent.
type outMsg struct {
	body    []byte
	content bool
}

const (
	maxSessionsPerKey = 256
	rememberCalls     = 1 << 16 // finished calls kept for invokeAfterMsg
	rememberSent      = 1 << 14 // unacknowledged messages kept for msg_resend_req
	replayWindow      = 1 << 14 // msg_ids remembered against replays
)

// session returns the session id of k, creating it, and makes c its
// connection.
func (k *authKey) session(id int64, c *conn) *session {
	k.mu.Lock()
	s := k.sessions[id]
	if s == nil {
		if len(k.sessions) >= maxSessionsPerKey {
			k.evictDetached()
		}
		srv := k.dc.srv
		s = &session{
			srv: srv, key: k, id: id, fresh: true,
			calls:       map[int64]*callState{},
			pendingAcks: map[int64]struct{}{},
			unacked:     map[int64]outMsg{},
			ids:         proto.NewMessageIDGen(srv.now),
		}
		k.sessions[id] = s
	}
	k.mu.Unlock()

	s.mu.Lock()
	if s.conn != c {
		s.conn = c
		c.bind(s)
		if len(s.outq) > 0 {
			c.wake()
		}
	}
	s.mu.Unlock()
	return s
}

// evictDetached forgets sessions that have no connection. k.mu is held.
func (k *authKey) evictDetached() {
	for id, s := range k.sessions {
		s.mu.Lock()
		detached := s.conn == nil
		s.mu.Unlock()
		if detached {
			delete(k.sessions, id)
		}
	}
}

func (s *session) detach(c *conn) {
	s.mu.Lock()
	if s.conn == c {
		s.conn = nil
	}
	s.mu.Unlock()
}

// queue adds a message for the session's connection. s.mu is held.
func (s *session) queue(m bin.Encoder, content bool) {
	var b bin.Buffer
	if err := m.Encode(&b); err != nil {
		s.srv.logf("tgsim: encode %T: %v", m, err)
		return
	}
	s.queueRaw(outMsg{body: b.Buf, content: content})
}

func (s *session) queueRaw(m outMsg) {
	s.outq = append(s.outq, m)
	if s.conn != nil {
		s.conn.wake()
	}
}

// checkMsgID applies MTProto's msg_id rules: divisible by 4, not more than
// spec.MsgIDMaxPast old or spec.MsgIDMaxFuture ahead of the server's clock.
// It returns the bad_msg code, or 0.
func checkMsgID(id int64, now time.Time) int {
	if id%4 != 0 {
		return spec.BadMsgIDNotDivisible
	}
	t := time.Unix(id>>32, 0)
	switch {
	case t.Before(now.Add(-spec.MsgIDMaxPast)):
		return spec.BadMsgIDTooLow
	case t.After(now.Add(spec.MsgIDMaxFuture)):
		return spec.BadMsgIDTooHigh
	}
	return 0
}

func (s *session) badMsg(id int64, seqno int32, code int) {
	s.srv.count.err("bad_msg_" + itoa(code))
	s.queue(&mt.BadMsgNotification{BadMsgID: id, BadMsgSeqno: int(seqno), ErrorCode: code}, false)
}

// innerMsg is one message of a received container.
type innerMsg struct {
	id    int64
	seqno int32
	body  []byte
}

// parseContainer splits a msg_container without copying. It returns false
// for anything MTProto calls an invalid container (bad_msg 64): a broken
// layout, more than spec.MaxContainerMessages messages, an inner msg_id not below the
// container's or repeated, a container inside it.
func parseContainer(id int64, body []byte) ([]innerMsg, bool) {
	b := bin.Buffer{Buf: body}
	if err := b.ConsumeID(proto.MessageContainerTypeID); err != nil {
		return nil, false
	}
	n, err := b.Int()
	if err != nil || n < 0 || n > spec.MaxContainerMessages {
		return nil, false
	}
	out := make([]innerMsg, 0, n)
	for range n {
		mid, err1 := b.Long()
		seq, err2 := b.Int()
		size, err3 := b.Int()
		if err1 != nil || err2 != nil || err3 != nil || size < 4 || size%4 != 0 || size > b.Len() {
			return nil, false
		}
		m := innerMsg{id: mid, seqno: int32(seq), body: b.Buf[:size]}
		b.Skip(size)
		if mid >= id || binary.LittleEndian.Uint32(m.body) == proto.MessageContainerTypeID {
			return nil, false
		}
		for _, o := range out {
			if o.id == mid {
				return nil, false
			}
		}
		out = append(out, m)
	}
	if b.Len() != 0 {
		return nil, false
	}
	return out, true
}

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

func (k *authKey) destroySession(id int64, current *session) bin.Encoder {
	if id == current.id {
		return &mt.DestroySessionNone{SessionID: id}
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if _, ok := k.sessions[id]; !ok {
		return &mt.DestroySessionNone{SessionID: id}
	}
	delete(k.sessions, id)
	return &mt.DestroySessionOk{SessionID: id}
}

// flush sends what the session has queued on c, in as few containers as
// the limits allow. With acksOnly it sends only acknowledgements that have
// waited. Returns an error when the connection failed.
func (s *session) flush(c *conn, acksOnly bool) error {
	srv := s.srv
	s.mu.Lock()
	if s.conn != c || (acksOnly && len(s.pendingAcks) == 0) || (!acksOnly && len(s.outq) == 0 && len(s.pendingAcks) == 0) {
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
		msgs = append(msgs, outMsg{body: b.Buf})
	}
	if srv.faults.Load().Reorder {
		rand.Shuffle(len(msgs), func(i, j int) { msgs[i], msgs[j] = msgs[j], msgs[i] })
	}
	frames := s.pack(msgs)
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
)

// pack assigns msg_ids and seqnos and groups msgs into frames. s.mu is held.
func (s *session) pack(msgs []outMsg) []outFrame {
	var frames []outFrame
	for len(msgs) > 0 {
		n, size := 0, 0
		for n < len(msgs) && n < maxOutMessages && (n == 0 || size+len(msgs[n].body)+16 <= maxOutBytes) {
			size += len(msgs[n].body) + 16
			n++
		}
		part := msgs[:n]
		msgs = msgs[n:]
		if n == 1 {
			id, seq := s.nextID(part[0].content)
			s.remember(id, part[0])
			frames = append(frames, outFrame{id: id, seqno: seq, body: part[0].body, msgs: part})
			continue
		}
		var b bin.Buffer
		b.PutID(proto.MessageContainerTypeID)
		b.PutInt(n)
		for _, m := range part {
			id, seq := s.nextID(m.content)
			s.remember(id, m)
			b.PutLong(id)
			b.PutInt32(seq)
			b.PutInt(len(m.body))
			b.Put(m.body)
		}
		id, seq := s.nextID(false)
		frames = append(frames, outFrame{id: id, seqno: seq, body: b.Buf, msgs: part})
	}
	return frames
}

func (s *session) nextID(content bool) (int64, int32) {
	id := s.ids.New(proto.MessageServerResponse)
	seq := s.sentContent * 2
	if content {
		seq++
		s.sentContent++
	}
	return id, seq
}

// remember keeps a content message until the client acknowledges it.
func (s *session) remember(id int64, m outMsg) {
	if !m.content {
		return
	}
	s.unacked[id] = m
	s.unackedOrder = append(s.unackedOrder, id)
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
	}
}

// idSet remembers the last replayWindow msg_ids of a session. MTProto
// (security guidelines): a msg_id equal to a stored one, or lower than all
// of them once the store is full, is ignored.
type idSet struct {
	set map[int64]struct{}
	h   int64Heap
}

func (s *idSet) has(id int64) bool { _, ok := s.set[id]; return ok }

func (s *idSet) add(id int64) bool {
	if s.set == nil {
		s.set = map[int64]struct{}{}
	}
	if _, ok := s.set[id]; ok {
		return false
	}
	if len(s.h) >= replayWindow {
		if id < s.h[0] {
			return false
		}
		delete(s.set, heap.Pop(&s.h).(int64))
	}
	s.set[id] = struct{}{}
	heap.Push(&s.h, id)
	return true
}

type int64Heap []int64

func (h int64Heap) Len() int           { return len(h) }
func (h int64Heap) Less(i, j int) bool { return h[i] < h[j] }
func (h int64Heap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *int64Heap) Push(x any)        { *h = append(*h, x.(int64)) }
func (h *int64Heap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
