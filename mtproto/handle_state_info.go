package mtproto

import (
	"time"

	"github.com/gotd/td/bin"
	"github.com/gotd/td/mt"

	"github.com/tlsched/tlsched/mtproto/spec"
)

// Asking the server about calls (MTProto, "Service Messages about Messages",
// "Request for Message Status Information"): msgs_state_req names our
// msg_ids, msgs_state_info answers one status byte per id. The session asks
// after a reconnect that keeps the session (Resume), and about a call that
// stayed unanswered for StateReqAfter on a live connection (its answer may
// have been lost). Then, per call:
//
//   - 2, 3 (the server certainly did not get it): resent with a fresh msg_id;
//   - 1 (nothing known: too old, maybe forgotten): resent if Resendable,
//     else answered with *MaybeRanError;
//   - 4 with +64 (received, answer generated): the answer is asked for
//     again with msg_resend_ans_req;
//   - 4 with +32 only (received, being processed): wait;
//   - 4 with neither (received, but no query known): as 1.

// msgResendAnsReqTypeID is msg_resend_ans_req#8610baeb msg_ids:Vector<long>
// = MsgResendReq, which gotd's mt package does not define.
const msgResendAnsReqTypeID = 0x8610baeb

// msgResendAnsReq encodes msg_resend_ans_req.
type msgResendAnsReq struct{ ids []int64 }

func (m msgResendAnsReq) Encode(b *bin.Buffer) error {
	b.PutID(msgResendAnsReqTypeID)
	b.PutVectorHeader(len(m.ids))
	for _, id := range m.ids {
		b.PutLong(id)
	}
	return nil
}

// maxAnswerAsks is how many times the session asks for an answer the
// server says it generated before it stops waiting for it.
const maxAnswerAsks = 2

// Status byte of msgs_state_info.
const (
	stateUnknown     = 1  // nothing known (msg_id too low, maybe forgotten)
	stateNotReceived = 2  // within the window, certainly not received
	stateTooHigh     = 3  // msg_id too high, not received yet
	stateReceived    = 4  // received
	stateRunning     = 32 // +32: an RPC query being processed or done
	stateAnswered    = 64 // +64: a content-related answer was generated
)

// stateDue is when the server should be asked about the call m.
func stateDue(m *outMsg, after time.Duration) time.Time {
	if m.stateAt != 0 {
		return later(m.sentAt, time.Unix(0, m.stateAt)).Add(after)
	}
	return m.sentAt.Add(after)
}

// askStale asks about every call in flight that is due, once the oldest is.
func (s *Session) askStale(now time.Time) {
	o := s.inflight.first()
	if o == nil || o.kind != kindCall || now.Before(stateDue(o, s.cfg.StateReqAfter)) {
		return
	}
	var ask []*outMsg
	for _, m := range s.inflight.all() {
		if m.kind == kindCall && !now.Before(stateDue(m, s.cfg.StateReqAfter)) {
			ask = append(ask, m)
		}
	}
	s.askState(now, ask)
}

// askState queues msgs_state_req about ms, at most spec.MaxAckIDs ids each.
func (s *Session) askState(now time.Time, ms []*outMsg) {
	for len(ms) > 0 {
		n := min(len(ms), spec.MaxAckIDs)
		ids := make([]int64, n)
		for i, m := range ms[:n] {
			ids[i] = m.msgID
			m.stateAt = now.UnixNano()
		}
		ms = ms[n:]
		s.queue = append(s.queue, &outMsg{kind: kindStateReq, body: &mt.MsgsStateReq{MsgIDs: ids}, queued: true})
		s.stats.StateRequests++
	}
}

// onStateInfo applies msgs_state_info to the calls our request named.
func (s *Session) onStateInfo(r *receiver, msgID int64, body []byte) {
	var m mt.MsgsStateInfo
	if !decode(r, msgID, "msgs_state_info", body, &m) {
		return
	}
	req := s.inflight.get(m.ReqMsgID)
	if req == nil || req.kind != kindStateReq {
		s.stats.IgnoredService++
		return
	}
	s.forget(req)
	var resend, unknown []*outMsg
	for i, id := range req.asked() {
		if i >= len(m.Info) {
			break
		}
		o := s.inflight.get(id)
		if o == nil || o.kind != kindCall {
			continue // answered, or resent, since we asked
		}
		st := m.Info[i]
		switch st & 7 {
		case stateUnknown:
			// Forgotten: it may have run.
			unknown = append(unknown, o)
		case stateNotReceived, stateTooHigh:
			resend = append(resend, o)
		case stateReceived:
			o.acked = true
			if st&(stateRunning|stateAnswered) == 0 {
				// Received, but no query running or done: the server
				// forgot the call (it keeps only so many); it may have run.
				unknown = append(unknown, o)
				continue
			}
			if st&stateAnswered != 0 {
				// Asked for the answer twice already and it never came:
				// the server no longer has it. Sent again if Resendable,
				// else given up as "may have run".
				if o.ansAsks++; o.ansAsks > maxAnswerAsks {
					unknown = append(unknown, o)
					continue
				}
				s.resendAns = append(s.resendAns, id)
			}
		}
	}
	s.emitResent(r, s.requeue(resend, ResendNotReceived))
	s.emitResent(r, s.requeueOrFail(unknown, ResendNotReceived))
}
