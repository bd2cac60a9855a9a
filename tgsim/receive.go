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
		s.queue(&mt.BadServerSalt{BadMsgID: msgID, BadMsgSeqno: int(seqno), ErrorCode: spec.BadMsgServerSalt, NewServerSalt: srv.currentSalt(s.key, now)}, serviceMsg)
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
		// MTProto: a container is not content-related; its seqno is even.
		if code := checkServiceSeqno(seqno); code != 0 {
			s.badMsg(msgID, seqno, code)
			return
		}
	}
	first := msgID
	for _, m := range inner {
		first = min(first, m.id)
	}
	// MTProto ("Service Messages"): new_session_created names the first
	// message of a session the server had to create; a later message with
	// an even lower msg_id gets a similar notice with its id.
	if s.fresh || first < s.firstID {
		if s.fresh {
			s.fresh = false
			s.uniqueID = rand.Int64()
			srv.count.newSessions.Add(1)
		}
		s.firstID = first
		s.queue(&mt.NewSessionCreated{FirstMsgID: first, UniqueID: s.uniqueID, ServerSalt: srv.currentSalt(s.key, now)}, noticeMsg)
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
	in := inMsg{conn: c, now: now, id: id, seqno: seqno, b: b}
	if h := serviceHandlers[tid]; h != nil {
		h(s, in)
		return
	}
	s.query(in, start)
}

// query registers an RPC query for its call to start once s.mu is
// released. MTProto: a query is content-related, so its seqno is odd and
// grows with msg_ids.
func (s *session) query(in inMsg, start *[]*call) {
	if code := s.checkContentSeqno(in.id, in.seqno); code != 0 {
		s.badMsg(in.id, in.seqno, code)
		return
	}
	s.pendingAcks[in.id] = struct{}{}
	if cl := s.newCall(in.id, in.b.Buf); cl != nil {
		*start = append(*start, cl)
	}
}
