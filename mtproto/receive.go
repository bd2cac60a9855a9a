package mtproto

import (
	"errors"
	"fmt"
	"time"

	"github.com/gotd/td/bin"
	"github.com/gotd/td/mt"
	"github.com/gotd/td/proto"
)

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
// to another session, repeats a msg_id (replay window, replay.go) or lies
// outside the time window (checkTime) is rejected as a whole with an error
// wrapping ErrDecrypt, ErrWrongSession, ErrReplay or ErrTimeWindow, and
// changes nothing but the acknowledgement a content-related duplicate gets.
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
	if !s.window.fresh(msg.MessageID) {
		// A duplicate (the server or the network sent it twice) or a
		// replay: acknowledged again if content-related, never processed.
		s.stats.Duplicates++
		if msg.SeqNo&1 == 1 {
			s.queueAck(now, msg.MessageID)
		}
		return Received{}, fmt.Errorf("%w: %d", ErrReplay, msg.MessageID)
	}
	if err := s.checkTime(now, msg.MessageID); err != nil {
		return Received{}, err
	}
	s.window.add(msg.MessageID)
	s.heard(now)
	r := receiver{now: now, frameID: msg.MessageID}
	s.handle(&r, msg.MessageID, msg.SeqNo, msg.Data(), 0)
	s.stats.Malformed += len(r.errs)
	return r.out, errors.Join(r.errs...)
}

func (s *Session) handle(r *receiver, msgID int64, seqno int32, body []byte, depth int) {
	if depth > 0 {
		// MTProto: every message's msg_id, inside containers too, is
		// checked against the ones received; a repeat (a redelivered
		// answer, say) is acknowledged and ignored.
		if !s.window.fresh(msgID) {
			s.stats.Duplicates++
			if seqno&1 == 1 {
				s.queueAck(r.now, msgID)
			}
			return
		}
		s.window.add(msgID)
	}
	// MTProto: content-related messages (odd seqno) must be acknowledged.
	if seqno&1 == 1 {
		s.queueAck(r.now, msgID)
	}
	s.dispatch(r, msgID, body, depth, 0)
}

// dispatch routes one message by its constructor to its handler, one
// handle_*.go file per kind. depth is 1 inside a container; gz counts the
// gzip_packed layers removed.
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
		s.onContainer(r, msgID, b, depth)
	case proto.GZIPTypeID:
		s.onGzip(r, msgID, b, depth, gz)
	case proto.ResultTypeID:
		s.onResult(r, msgID, b)
	case mt.MsgsAckTypeID:
		s.onAck(r, msgID, body)
	case mt.BadServerSaltTypeID:
		s.onBadServerSalt(r, msgID, body)
	case mt.BadMsgNotificationTypeID:
		s.onBadMsg(r, msgID, body)
	case mt.NewSessionCreatedTypeID:
		s.onNewSession(r, msgID, body)
	case mt.PongTypeID:
		s.onPong(r, msgID, body)
	case mt.FutureSaltsTypeID:
		s.onFutureSalts(r, msgID, body)
	case mt.MsgDetailedInfoTypeID:
		s.onDetailedInfo(r, msgID, body)
	case mt.MsgNewDetailedInfoTypeID:
		s.onNewDetailedInfo(r, msgID, body)
	case mt.MsgResendReqTypeID:
		s.onResendReq(r, msgID, body)
	case mt.MsgsStateInfoTypeID:
		s.onStateInfo(r, msgID, body)
	case mt.MsgsStateReqTypeID:
		s.onStateReq(r, msgID, body)
	case mt.MsgsAllInfoTypeID,
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
