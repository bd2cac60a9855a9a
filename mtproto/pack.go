package mtproto

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/gotd/td/bin"
	"github.com/gotd/td/crypto"
	"github.com/gotd/td/mt"
	"github.com/gotd/td/proto"

	"github.com/tlsched/tlsched/mtproto/spec"
)

// msgHeaderLen is msg_id (long) + seqno (int) + bytes (int) of a container's
// inner message (MTProto: message msg_id:long seqno:int bytes:int body:Object).
const msgHeaderLen = 16

// containerHeaderLen is the msg_container constructor and the vector length.
const containerHeaderLen = 8

var zeroHeader [msgHeaderLen]byte

// Pack packs the queued resends and service requests, then calls, into as few
// frames as the caps allow: a bare message when a frame carries one message,
// else a msg_container. Pending acks ride in the first frame. Every call is
// either in a frame or answered in Packed.Failed. The error is non-nil only
// when the random source or the cipher fails; the calls then stay queued.
func (s *Session) Pack(now time.Time, calls []Call) (Packed, error) {
	var out Packed
	s.live.start(now)
	s.takeFailed(&out)
	work := s.queue
	s.queue = nil
	// One allocation for the batch's records instead of one per call.
	slab := make([]outMsg, len(calls))
	for i, c := range calls {
		if err := s.admit(c); err != nil {
			out.Failed = append(out.Failed, Result{Call: c.ID, Err: &CallError{Call: c.ID, Err: err}})
			continue
		}
		m := &slab[i]
		*m = outMsg{kind: kindCall, call: c.ID, body: c.Body, after: c.After, resend: c.Resendable, queued: true}
		s.calls[c.ID] = m
		work = append(work, m)
	}
	err := s.pack(now, work, false, &out)
	return out, err
}

// Flush packs what is queued (resends, pings, resend requests) and every
// pending ack, even with no calls to carry them. Call it when NextDeadline
// passes.
//
// Flush also runs the liveness rules (liveness.go): it queues the pings and
// msgs_state_req that are due, and fails with an error wrapping ErrSilent
// when the connection has been silent for Config.DeadAfter while an answer
// was awaited. Nothing is lost then: the owner reconnects and calls Resume.
func (s *Session) Flush(now time.Time) (Packed, error) {
	var out Packed
	s.live.start(now)
	s.takeFailed(&out)
	if err := s.checkLiveness(now); err != nil {
		return out, err
	}
	work := s.queue
	s.queue = nil
	err := s.pack(now, work, true, &out)
	return out, err
}

// takeFailed moves the calls requeueOrFail gave up into out.Failed.
func (s *Session) takeFailed(out *Packed) {
	if len(s.failed) > 0 {
		out.Failed = append(out.Failed, s.failed...)
		s.failed = s.failed[:0]
	}
}

func (s *Session) admit(c Call) error {
	switch {
	case c.ID == 0:
		return errors.New("call id 0 is reserved")
	case c.Body == nil:
		return errors.New("nil request body")
	}
	if _, dup := s.calls[c.ID]; dup {
		return errors.New("call id already in flight")
	}
	return nil
}

// frame is the plaintext being assembled in s.buf.
type frame struct {
	count    int // messages in the frame
	firstID  int64
	firstSeq int32
	calls    []SentCall
	hasInit  bool
	msgs     []*outMsg
}

func (s *Session) pack(now time.Time, work []*outMsg, force bool, out *Packed) error {
	var f frame
	s.startFrame(&f)
	stalled := 0
	for i := 0; i < len(work); i++ {
		m := work[i]
		if !m.queued { // cancelled while queued
			continue
		}
		// A dependent goes after its predecessor when both are in this pack
		// (MTProto: invokeAfterMsg names an earlier msg_id).
		if p := s.pred(m); p != nil && p.queued && stalled <= len(work)-i {
			work = append(work, m)
			stalled++
			continue
		}
		stalled = 0
		if f.count == 0 && (len(s.acks) > 0 || s.servicePending()) {
			s.addServiceAcks(now, &f)
		}
		ok, err := s.addMsg(now, &f, m, out)
		if err != nil {
			s.queue = append(work[i:], s.queue...)
			return err
		}
		if !ok { // did not fit: seal and retry in a fresh frame
			if err := s.seal(now, &f, out); err != nil {
				s.queue = append(work[i:], s.queue...)
				return err
			}
			s.startFrame(&f)
			i--
		}
	}
	if force && f.count == 0 && (len(s.acks) > 0 || s.servicePending()) {
		s.addServiceAcks(now, &f)
	}
	if f.count > 0 {
		if err := s.seal(now, &f, out); err != nil {
			return err
		}
	}
	// Acks that did not fit (more than a frame's worth) wait for the next
	// Flush, which NextDeadline asks for at once.
	return nil
}

func (s *Session) pred(m *outMsg) *outMsg {
	if m.kind != kindCall || m.after == 0 {
		return nil
	}
	return s.calls[m.after]
}

func (s *Session) startFrame(f *frame) {
	*f = frame{msgs: f.msgs[:0]}
	s.buf.Reset()
	s.buf.PutID(proto.MessageContainerTypeID)
	s.buf.PutInt(0) // patched by seal
}

// addServiceAcks adds msgs_ack and msg_resend_req messages at the head of a
// fresh frame, as many ids as fit.
func (s *Session) addServiceAcks(now time.Time, f *frame) {
	room := func() int {
		return (s.cfg.MaxBytes - len(s.buf.Buf) - msgHeaderLen - 16) / 8
	}
	if n := min(len(s.acks), spec.MaxAckIDs, room()); n > 0 && f.count < s.cfg.MaxMessages {
		s.putService(now, f, &mt.MsgsAck{MsgIDs: s.acks[:n]}, false)
		s.acks = append(s.acks[:0], s.acks[n:]...)
		s.stats.AcksSent += n
	}
	if n := min(len(s.resendReq), spec.MaxAckIDs, room()); n > 0 && f.count < s.cfg.MaxMessages {
		// msg_resend_req expects an answer: a content message.
		s.putService(now, f, &mt.MsgResendReq{MsgIDs: s.resendReq[:n]}, true)
		s.resendReq = append(s.resendReq[:0], s.resendReq[n:]...)
	}
	if n := min(len(s.resendAns), spec.MaxAckIDs, room()); n > 0 && f.count < s.cfg.MaxMessages {
		// msg_resend_ans_req expects the answers again: content-related.
		s.putService(now, f, msgResendAnsReq{ids: s.resendAns[:n]}, true)
		s.resendAns = append(s.resendAns[:0], s.resendAns[n:]...)
	}
	for len(s.stateInfos) > 0 && f.count < s.cfg.MaxMessages && room()*8 > len(s.stateInfos[0].Info)+16 {
		// MTProto: msgs_state_info needs no acknowledgement: not content.
		s.putService(now, f, &s.stateInfos[0], false)
		s.stateInfos = s.stateInfos[1:]
	}
}

func (s *Session) putService(now time.Time, f *frame, body bin.Encoder, content bool) {
	off := len(s.buf.Buf)
	s.buf.Buf = append(s.buf.Buf, zeroHeader[:]...)
	_ = body.Encode(&s.buf) // acks and resend requests encode infallibly
	id, seq := s.nextIDs(now, content)
	s.patchHeader(off, id, seq)
	s.noteFirst(f, id, seq)
}

// addMsg encodes m into the frame. It reports false when m does not fit and
// the frame already holds messages; m is then left untouched.
func (s *Session) addMsg(now time.Time, f *frame, m *outMsg, out *Packed) (bool, error) {
	if f.count >= s.cfg.MaxMessages {
		return false, nil
	}
	off := len(s.buf.Buf)
	s.buf.Buf = append(s.buf.Buf, zeroHeader[:]...)

	var after int64
	if m.kind == kindCall && m.after != 0 {
		switch p := s.pred(m); {
		case p != nil && !p.queued:
			after = p.msgID
		case m.afterMsg != 0:
			after = m.afterMsg
		default:
			// Nothing to name: held back for the owner (Call.After).
			s.buf.Buf = s.buf.Buf[:off]
			s.fail(m, ErrPredecessorUnknown, out)
			return true, nil
		}
		m.afterMsg = after
	}
	init := m.kind == kindCall && !s.initDone && !s.cfg.NoInit && !f.hasInit
	if err := s.encodeBody(m, after, init); err != nil {
		s.buf.Buf = s.buf.Buf[:off]
		s.fail(m, fmt.Errorf("encode %T: %w", m.body, err), out)
		return true, nil
	}
	bodyLen := len(s.buf.Buf) - off - msgHeaderLen
	if bodyLen > MaxMessageBytes {
		s.buf.Buf = s.buf.Buf[:off]
		s.fail(m, fmt.Errorf("request is %d bytes, over the %d-byte MTProto limit", bodyLen, MaxMessageBytes), out)
		return true, nil
	}
	if f.count > 0 && len(s.buf.Buf) > s.cfg.MaxBytes {
		s.buf.Buf = s.buf.Buf[:off]
		return false, nil
	}

	id, seq := s.nextIDs(now, true)
	s.patchHeader(off, id, seq)
	s.noteFirst(f, id, seq)

	m.queued = false
	m.msgID = id
	m.acked = false
	m.init = init
	m.attempts++
	m.ansAsks = 0
	m.sentAt = now
	s.inflight.add(id, m)
	f.msgs = append(f.msgs, m)
	if init {
		f.hasInit = true
	}
	if m.kind == kindCall {
		s.stats.CallsSent++
		f.calls = append(f.calls, SentCall{Call: m.call, MsgID: id, Seqno: seq, Attempt: m.attempts, After: after, Init: init})
	}
	return true, nil
}

func (s *Session) fail(m *outMsg, err error, out *Packed) {
	m.queued = false
	s.forget(m)
	if m.kind == kindCall {
		out.Failed = append(out.Failed, Result{Call: m.call, Err: &CallError{Call: m.call, Err: err}, Attempts: m.attempts})
	}
}

// encodeBody writes the call with its wrappers. MTProto, "Calling methods":
// invokeAfterMsg must be the outermost wrapper, outside invokeWithLayer.
func (s *Session) encodeBody(m *outMsg, after int64, init bool) error {
	if after == 0 && !init {
		return m.body.Encode(&s.buf)
	}
	var obj bin.Encoder = m.body
	if init {
		obj = s.initWrapper(obj)
	}
	if after != 0 {
		s.buf.PutID(invokeAfterMsgTypeID)
		s.buf.PutLong(after)
	}
	return obj.Encode(&s.buf)
}

func (s *Session) nextIDs(now time.Time, content bool) (int64, int32) {
	id := s.newMsgID(now)
	// MTProto: seqno is twice the content messages sent before, plus one for
	// a content message.
	seq := 2 * s.content
	if content {
		seq++
		s.content++
	}
	return id, seq
}

// newMsgID returns a client msg_id: about unixtime·2^32 in server time,
// divisible by 4, strictly increasing within the session.
func (s *Session) newMsgID(now time.Time) int64 {
	id := int64(proto.NewMessageID(now.Add(s.timeOffset), proto.MessageFromClient))
	if id <= s.lastMsgID {
		id = s.lastMsgID + 4
	}
	s.lastMsgID = id
	return id
}

func (s *Session) patchHeader(off int, id int64, seq int32) {
	b := s.buf.Buf[off:]
	binary.LittleEndian.PutUint64(b[0:], uint64(id))
	binary.LittleEndian.PutUint32(b[8:], uint32(seq))
	binary.LittleEndian.PutUint32(b[12:], uint32(len(s.buf.Buf)-off-msgHeaderLen))
}

func (s *Session) noteFirst(f *frame, id int64, seq int32) {
	if f.count == 0 {
		f.firstID, f.firstSeq = id, seq
	}
	f.count++
}

// seal encrypts the frame in s.buf and appends it to out.
func (s *Session) seal(now time.Time, f *frame, out *Packed) error {
	var (
		payload []byte
		outerID int64
		seq     int32
	)
	if f.count == 1 {
		// One message goes bare: no container around it.
		payload = s.buf.Buf[containerHeaderLen+msgHeaderLen:]
		outerID, seq = f.firstID, f.firstSeq
	} else {
		binary.LittleEndian.PutUint32(s.buf.Buf[4:], uint32(f.count))
		payload = s.buf.Buf
		// MTProto: the container's msg_id is greater than its messages', its
		// seqno even and not lower than theirs.
		outerID, seq = s.nextIDs(now, false)
	}
	var enc bin.Buffer
	data := crypto.EncryptedMessageData{
		Salt:                   s.currentSalt(now),
		SessionID:              s.sessionID,
		MessageID:              outerID,
		SeqNo:                  seq,
		MessageDataLen:         int32(len(payload)),
		MessageDataWithPadding: payload,
	}
	if err := s.cipher.Encrypt(s.key, data, &enc); err != nil {
		// Undo: the frame's calls go back to the queue for the next attempt.
		for _, m := range f.msgs {
			s.inflight.remove(m.msgID, m)
			m.queued = true
			m.attempts--
			s.queue = append(s.queue, m)
		}
		return fmt.Errorf("mtproto: encrypt frame: %w", err)
	}
	for _, m := range f.msgs {
		m.frameID = outerID
	}
	s.frames.add(f.firstID, outerID)
	s.stats.Frames++
	if f.count > 1 {
		s.stats.Containers++
	}
	out.Frames = append(out.Frames, Frame{
		Data:      enc.Buf,
		MsgID:     outerID,
		Container: f.count > 1,
		Calls:     f.calls, // the next frame starts a new slice
		Messages:  f.count,
		Bytes:     len(payload),
	})
	return nil
}

// currentSalt picks the newest future salt valid at server time now, if
// future salts are known, else the last salt the server gave.
func (s *Session) currentSalt(now time.Time) int64 {
	if len(s.future) == 0 {
		return s.salt
	}
	t := int(now.Add(s.timeOffset).Unix())
	keep := s.future[:0]
	for _, fs := range s.future {
		if fs.ValidUntil > t {
			keep = append(keep, fs)
		}
	}
	s.future = keep
	for i := len(s.future) - 1; i >= 0; i-- {
		if s.future[i].ValidSince <= t {
			s.salt = s.future[i].Salt
			break
		}
	}
	return s.salt
}
