package mtproto

import (
	"fmt"
	"time"

	"github.com/tlsched/tlsched/mtproto/spec"
)

// Liveness. TCP does not notice a connection that went silent (a NAT entry
// expired, a middlebox dropped the flow): both ends stay open and nothing
// arrives. The session notices instead, from what it receives:
//
//   - nothing received for PingInterval: ping_delay_disconnect, so an idle
//     connection is checked about once a minute and the server drops it if
//     we vanish (TDLib and gotd do the same);
//   - an answer awaited and nothing received for BusyPingAfter: a ping at
//     once, so a live server proves itself within a round trip;
//   - an answer awaited and nothing received for DeadAfter: Flush fails with
//     ErrSilent, and the owner reconnects (Resume keeps the session).
//
// "An answer awaited" is any call, ping or service request in flight; the
// silence is counted from the later of the last frame received and the
// oldest such message's send.

// liveness is the session's view of its connection.
type liveness struct {
	lastRecv    time.Time // last frame accepted, or the connection's start
	pingSeq     int64
	ping        *outMsg // the last liveness ping
	timeTrusted bool    // a frame was accepted since the offset was last set
	timeBad     int     // frames refused by the time check in a row
}

// start counts silence from now if nothing was counted yet (a new
// session's first Pack or Flush).
func (l *liveness) start(now time.Time) {
	if l.lastRecv.IsZero() {
		l.lastRecv = now
	}
}

// heard records a frame accepted at now.
func (s *Session) heard(now time.Time) {
	s.live.lastRecv = now
	s.live.timeTrusted = true
	s.live.timeBad = 0
}

// timeBadLimit is how many frames in a row may fail the time check before
// the session takes the server's clock instead: the server's clock moved.
// A replay cannot cause it, as replays are refused by the window first.
const timeBadLimit = 3

// checkTime applies MTProto's check of a server msg_id against our clock
// corrected by the offset ("Important checks": more than 300 s in the past
// or 30 s in the future is refused). Until a frame has been accepted with
// the current offset (a new session, a new connection), a frame outside the
// window sets the offset instead: it decrypted with our key in our session,
// and a skewed clock must not make every frame look wrong.
func (s *Session) checkTime(now time.Time, msgID int64) error {
	server := time.Unix(msgID>>32, 0)
	d := server.Sub(now.Add(s.timeOffset))
	if d >= -spec.MsgIDMaxPast && d <= spec.MsgIDMaxFuture {
		return nil
	}
	if !s.live.timeTrusted || s.live.timeBad+1 >= timeBadLimit {
		s.timeOffset = server.Sub(now.Truncate(time.Second))
		return nil
	}
	s.live.timeBad++
	s.stats.TimeRejected++
	return fmt.Errorf("%w: server msg_id %d is %v off our clock", ErrTimeWindow, msgID, d.Round(time.Second))
}

// silentSince returns when the current silence started, if an answer is
// awaited.
func (s *Session) silentSince() (time.Time, bool) {
	o := s.inflight.first()
	if o == nil {
		return time.Time{}, false
	}
	return later(o.sentAt, s.live.lastRecv), true
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// livenessDeadline is the next time the liveness rules want a Flush.
func (s *Session) livenessDeadline() (time.Time, bool) {
	if s.cfg.PingInterval < 0 || s.live.lastRecv.IsZero() {
		return time.Time{}, false
	}
	at := time.Time{}
	if !s.pingSince(s.live.lastRecv) {
		at = s.live.lastRecv.Add(s.cfg.PingInterval) // else the ping is out
	}
	if since, ok := s.silentSince(); ok {
		if !s.pingSince(since) {
			at = earlier(at, since.Add(s.cfg.BusyPingAfter))
		}
		at = earlier(at, since.Add(s.cfg.DeadAfter))
	}
	if o := s.inflight.first(); o != nil && o.kind == kindCall && !s.noStateReq {
		at = earlier(at, stateDue(o, s.cfg.StateReqAfter))
	}
	return at, !at.IsZero()
}

func earlier(a, b time.Time) time.Time {
	if a.IsZero() {
		return b
	}
	if a.Before(b) {
		return a
	}
	return b
}

// pingSince reports whether the last ping is queued, or in flight and sent
// at or after t.
func (s *Session) pingSince(t time.Time) bool {
	p := s.live.ping
	switch {
	case p == nil:
		return false
	case p.queued:
		return true
	}
	return s.inflight.get(p.msgID) == p && !p.sentAt.Before(t)
}

// checkLiveness is run by Flush: it queues the pings that are due, and
// reports ErrSilent once the connection has been silent for DeadAfter.
func (s *Session) checkLiveness(now time.Time) error {
	if s.cfg.PingInterval < 0 {
		return nil
	}
	since, waiting := s.silentSince()
	if waiting && now.Sub(since) >= s.cfg.DeadAfter {
		return fmt.Errorf("%w: nothing received for %v with %d calls awaiting an answer",
			ErrSilent, now.Sub(since).Round(time.Millisecond), s.InFlight())
	}
	due := now.Sub(s.live.lastRecv) >= s.cfg.PingInterval ||
		(waiting && now.Sub(since) >= s.cfg.BusyPingAfter)
	if due && !s.pingSince(since) {
		s.live.pingSeq++
		s.live.ping = s.ping(s.live.pingSeq, s.cfg.PingDisconnectDelay)
	}
	if !s.noStateReq {
		s.askStale(now)
	}
	return nil
}

// Resume continues the session on a new connection to the same server
// (MTProto: a session outlives connections; the server keeps its answers
// for it and delivers them on the new one). Silence is counted from now;
// the next frame may set the time offset again; pings in flight are
// dropped; every call the server may hold is asked about with
// msgs_state_req, and is resent only if the server says it never got it
// (handle_state_info.go). Calls queued and never sent simply go with the
// next Pack or Flush. Use NewSession instead when the server forgot the
// session or the key changed.
//
// A server that does not take msgs_state_req (it answers a later ping
// first, or answers with rpc_error) is not asked again in this session:
// its calls are resent instead (or given up as "may have run" if not
// Resendable).
func (s *Session) Resume(now time.Time) Resent {
	s.live = liveness{lastRecv: now, pingSeq: s.live.pingSeq}
	s.dropService()
	var ms []*outMsg
	for _, m := range s.inflight.all() {
		if m.kind == kindCall {
			ms = append(ms, m)
		}
	}
	if s.noStateReq {
		return s.requeueOrFail(ms, ResendReconnect)
	}
	s.askState(now, ms)
	return Resent{Reason: ResendReconnect}
}

// dropService forgets pings and state requests, in flight or queued: their
// answers, if any come, are ignored. Used when the connection or the
// session they were about is gone.
func (s *Session) dropService() {
	for _, m := range s.inflight.all() {
		if m.kind == kindPing || m.kind == kindStateReq {
			s.forget(m)
		}
	}
	keep := s.queue[:0]
	for _, m := range s.queue {
		if m.kind == kindPing || m.kind == kindStateReq {
			m.queued = false
			continue
		}
		keep = append(keep, m)
	}
	clear(s.queue[len(keep):])
	s.queue = keep
}
