package mtproto

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/gotd/td/bin"
	"github.com/gotd/td/crypto"
	"github.com/gotd/td/mt"
)

// Call is one outgoing request.
type Call struct {
	// ID is the owner's handle for the call; see CallID.
	ID CallID
	// Body is the TL request (a *tg.MessagesSendMessageRequest, say). The
	// session encodes it at every attempt, so it must not change until the
	// call is answered.
	Body bin.Encoder
	// After names a predecessor call. If the session holds the predecessor
	// unanswered (or it is packed in the same Pack before this call), the
	// call is wrapped in invokeAfterMsg with the predecessor's current
	// msg_id. A call is never sent unwrapped: if the session does not hold
	// the predecessor when the call is first packed (it was answered
	// meanwhile, or went out in another session: a msg_id names a message
	// of one session only), the call is not sent and is answered in
	// Packed.Failed with ErrPredecessorUnknown; the owner knows whether
	// the predecessor succeeded. A resend after the predecessor was
	// answered is wrapped after the msg_id it named last: the server runs
	// it if that attempt succeeded, and answers MSG_WAIT_FAILED or
	// MSG_WAIT_TIMEOUT otherwise.
	After CallID
	// Resendable says the call may be sent again after the server-side
	// session that ran it is gone: it carries a random_id the server
	// deduplicates, or it changes nothing. A call that is not is never
	// sent twice where the server may have run it already: it is answered
	// with a *MaybeRanError instead (see ResendAnyway).
	Resendable bool
}

// Frame is one encrypted packet: hand Data to the transport codec.
type Frame struct {
	// Data is auth_key_id | msg_key | encrypted_data.
	Data []byte
	// MsgID is the outer msg_id: the container's, or the single message's.
	MsgID int64
	// Container reports whether the frame is a msg_container.
	Container bool
	// Calls lists the calls the frame carries, in packing order.
	Calls []SentCall
	// Messages counts the messages in the frame, service messages included.
	Messages int
	// Bytes is the plaintext payload size before encryption.
	Bytes int
}

// SentCall records one attempt of a call.
type SentCall struct {
	Call    CallID
	MsgID   int64
	Seqno   int32
	Attempt int   // 1 for the first send
	After   int64 // msg_id it was wrapped after, 0 if unwrapped
	Init    bool  // wrapped in invokeWithLayer(initConnection(...))
}

// Packed is what Pack and Flush produce.
type Packed struct {
	Frames []Frame
	// Failed holds Results for calls that could not be packed (bad id,
	// duplicate id, oversize or unencodable body). They are answered here and
	// never sent.
	Failed []Result
}

// Stats counts what the session did. Read it with Session.Stats.
type Stats struct {
	Frames, Containers int
	CallsSent          int // attempts, resends included
	Results            int
	Resends            map[ResendReason]int
	AcksSent           int
	UnknownResults     int // rpc_result for a msg_id we do not wait for: ignored
	Malformed          int // undecodable parts of decrypted frames: ignored
	Updates            int
	IgnoredService     int // service messages we have no use for
	SessionResets      int
	Duplicates         int // server messages received again: acked, ignored
	TimeRejected       int // frames outside the msg_id time window: ignored
	Pings, Pongs       int
	StateRequests      int // msgs_state_req sent
	StateReqIgnored    int // msgs_state_req the server passed over (a later ping was answered)
}

// windowSize is how many recent server msg_ids the replay check keeps.
const windowSize = 2048

type kind uint8

const (
	kindCall kind = iota
	kindPing
	kindFutureSalts
	kindStateReq
)

// outMsg is a call or tracked service request, queued or in flight.
type outMsg struct {
	kind     kind
	call     CallID
	body     bin.Encoder
	after    CallID
	afterMsg int64 // msg_id of the predecessor it was last wrapped after
	resend   bool  // Call.Resendable
	pingID   int64
	msgID    int64 // current attempt; 0 while queued and never sent
	frameID  int64 // frame of the current attempt
	queued   bool
	acked    bool // server acknowledged the current attempt
	init     bool // current attempt carries initConnection
	attempts int
	sentAt   time.Time
	stateAt  int64 // when the server was last asked about this attempt (unix ns; 0: never)
	ansAsks  int   // msg_resend_ans_req sent for this attempt
	notInits int   // CONNECTION_NOT_INITED answers met (handle_answer.go)
}

// Session is the client state of one MTProto session on one auth key. It is
// not safe for concurrent use: one owner drives it.
type Session struct {
	cfg    Config
	key    crypto.AuthKey
	cipher crypto.Cipher

	sessionID    int64
	salt         int64
	future       []mt.FutureSalt
	saltsAskedAt time.Time // last get_future_salts queued by RefreshSalts
	timeOffset   time.Duration
	lastMsgID    int64
	content      int32 // content messages sent in this session
	seqShifts    int   // seqno guesses after bad_msg 32/33 (badmsg.go)
	noStateReq   bool  // the server does not take msgs_state_req (liveness.go)
	initDone     bool

	calls    map[CallID]*outMsg // unanswered calls
	inflight inflight           // in flight, by current msg_id
	queue    []*outMsg          // to be sent (again) at the next Pack/Flush

	acks      []int64 // server content messages to acknowledge
	ackSince  time.Time
	resendReq []int64 // server messages to ask again

	resendAns []int64  // our msg_ids whose answers to ask again
	failed    []Result // calls given up by requeueOrFail, for the next Packed
	// stateInfos answer the server's msgs_state_req (handle_state_req.go).
	stateInfos []mt.MsgsStateInfo

	window *msgWindow // server msg_ids received (replay.go)
	frames frameLog   // msg_id ranges of the frames sent (frames.go)
	live   liveness   // pings and the silence check (liveness.go)
	stats  Stats
	buf    bin.Buffer
}

// New starts a session on an auth key with the server salt from the key
// exchange (or a saved one). It draws a fresh session id from cfg.Rand.
func New(cfg Config, key crypto.AuthKey, salt int64) (*Session, error) {
	cfg = cfg.withDefaults()
	if key.Value.Zero() {
		return nil, errors.New("mtproto: zero auth key")
	}
	s := &Session{
		cfg:    cfg,
		key:    key,
		cipher: crypto.NewClientCipher(cfg.Rand),
		salt:   salt,
		calls:  make(map[CallID]*outMsg),
		window: newMsgWindow(windowSize),
		stats:  Stats{Resends: make(map[ResendReason]int)},
	}
	if err := s.newSessionID(); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Session) newSessionID() error {
	id, err := crypto.NewSessionID(s.cfg.Rand)
	if err != nil {
		return fmt.Errorf("mtproto: new session id: %w", err)
	}
	s.sessionID = id
	s.content = 0
	s.seqShifts = 0
	s.lastMsgID = 0
	s.initDone = false
	s.window = newMsgWindow(windowSize)
	s.frames.reset()
	s.live.timeTrusted = false
	return nil
}

// ID returns the current session id.
func (s *Session) ID() int64 { return s.sessionID }

// AuthKey returns the session's auth key, for persistence.
func (s *Session) AuthKey() crypto.AuthKey { return s.key }

// Salt returns the server salt in use, for persistence.
func (s *Session) Salt() int64 { return s.salt }

// TimeOffset returns the learned server time minus local time.
func (s *Session) TimeOffset() time.Duration { return s.timeOffset }

// SetTimeOffset restores a saved time offset.
func (s *Session) SetTimeOffset(d time.Duration) { s.timeOffset = d }

// Stats returns a copy of the session's counters.
func (s *Session) Stats() Stats {
	st := s.stats
	st.Resends = make(map[ResendReason]int, len(s.stats.Resends))
	for k, v := range s.stats.Resends {
		st.Resends[k] = v
	}
	return st
}

// InFlight returns the number of calls sent and not yet answered.
func (s *Session) InFlight() int {
	n := 0
	for _, m := range s.inflight.all() {
		if m.kind == kindCall {
			n++
		}
	}
	return n
}

// Unanswered returns every call that has no Result yet: in flight or queued
// for a resend. Order is unspecified.
func (s *Session) Unanswered() []CallID {
	out := make([]CallID, 0, len(s.calls))
	for id := range s.calls {
		out = append(out, id)
	}
	return out
}

// Cancel forgets an unanswered call: a late result for it is ignored. It
// reports whether the call was known. (MTProto has rpc_drop_answer, but the
// server may have run the call anyway; the owner decides whether to send it.)
func (s *Session) Cancel(id CallID) bool {
	m, ok := s.calls[id]
	if !ok {
		return false
	}
	s.forget(m)
	s.unqueue(m)
	return true
}

// NewSession drops the server-side session: a fresh session id, seqno from
// zero, initConnection again, and every unanswered call (and tracked service
// request) queued to be resent. Use it after a reconnect to a server that
// lost the session, or when the session state is beyond repair.
func (s *Session) NewSession(reason ResendReason) (Resent, error) {
	if err := s.newSessionID(); err != nil {
		return Resent{}, err
	}
	s.stats.SessionResets++
	s.acks = s.acks[:0]
	s.resendReq = s.resendReq[:0]
	s.resendAns = s.resendAns[:0]
	s.stateInfos = s.stateInfos[:0]
	s.dropService()
	return s.requeueOrFail(s.inflight.all(), reason), nil
}

// requeueOrFail is requeue for messages the server may have run under a
// session it no longer has: calls that were sent and are not Resendable
// are answered with a *MaybeRanError (delivered with the next Pack or
// Flush, in Packed.Failed) instead of being sent again.
func (s *Session) requeueOrFail(ms []*outMsg, reason ResendReason, rejected ...*outMsg) Resent {
	keep := ms[:0:0]
	for _, m := range ms {
		// A message the server rejected (bad_msg names it) did not run.
		if m.kind == kindCall && m.attempts > 0 && !m.resend && !m.queued && !slices.Contains(rejected, m) {
			s.forget(m)
			s.failed = append(s.failed, Result{Call: m.call, MsgID: m.msgID, Attempts: m.attempts,
				Err: &MaybeRanError{Call: m.call, Reason: reason}})
			continue
		}
		keep = append(keep, m)
	}
	return s.requeue(keep, reason)
}

// NextDeadline reports when Flush should next be called: at once when
// resends or service requests are queued or enough acks are pending, after
// AckDelay for fewer acks. ok is false when nothing is pending.
func (s *Session) NextDeadline() (t time.Time, ok bool) {
	if len(s.queue) > 0 || s.servicePending() || len(s.failed) > 0 || len(s.acks) >= s.cfg.AckBatch {
		return time.Time{}, true
	}
	t, ok = s.livenessDeadline()
	if len(s.acks) > 0 {
		at := s.ackSince.Add(s.cfg.AckDelay)
		if !ok || at.Before(t) {
			t = at
		}
		ok = true
	}
	return t, ok
}

// servicePending reports service messages waiting to go out at once.
func (s *Session) servicePending() bool {
	return len(s.resendReq) > 0 || len(s.resendAns) > 0 || len(s.stateInfos) > 0
}

// forget removes a message from the in-flight indexes.
func (s *Session) forget(m *outMsg) {
	if m.msgID != 0 {
		s.inflight.remove(m.msgID, m)
	}
	if m.kind == kindCall {
		delete(s.calls, m.call)
	}
}

func (s *Session) unqueue(m *outMsg) {
	if !m.queued {
		return
	}
	for i, q := range s.queue {
		if q == m {
			s.queue = append(s.queue[:i], s.queue[i+1:]...)
			break
		}
	}
	m.queued = false
}

// requeue takes in-flight messages out of flight and queues them to be sent
// with fresh msg_ids, in their original order.
func (s *Session) requeue(ms []*outMsg, reason ResendReason) Resent {
	sortByMsgID(ms)
	ev := Resent{Reason: reason}
	for _, m := range ms {
		if m.queued {
			continue
		}
		s.inflight.remove(m.msgID, m)
		m.queued = true
		m.acked = false
		s.queue = append(s.queue, m)
		if m.kind == kindCall {
			ev.Calls = append(ev.Calls, m.call)
			s.stats.Resends[reason]++
		}
	}
	return ev
}

// Ping queues a ping_delay_disconnect: the server answers with a Pong event
// and closes the connection if no further ping arrives within
// disconnectDelay (zero: a plain ping). The session pings by itself (see
// Config.PingInterval); this is for owners that want more.
func (s *Session) Ping(pingID int64, disconnectDelay time.Duration) { s.ping(pingID, disconnectDelay) }

func (s *Session) ping(pingID int64, disconnectDelay time.Duration) *outMsg {
	m := &outMsg{kind: kindPing, pingID: pingID, queued: true}
	if disconnectDelay > 0 {
		m.body = &mt.PingDelayDisconnectRequest{PingID: pingID, DisconnectDelay: int(disconnectDelay / time.Second)}
	} else {
		m.body = &mt.PingRequest{PingID: pingID}
	}
	s.queue = append(s.queue, m)
	s.stats.Pings++
	return m
}

// RequestFutureSalts queues get_future_salts for n salts; the session then
// switches salts by itself as they become valid.
func (s *Session) RequestFutureSalts(n int) {
	s.queue = append(s.queue, &outMsg{kind: kindFutureSalts, body: &mt.GetFutureSaltsRequest{Num: n}, queued: true})
}

func sortByMsgID(ms []*outMsg) {
	slices.SortFunc(ms, func(a, b *outMsg) int { return cmp.Compare(a.msgID, b.msgID) })
}

// WasSent reports whether an unanswered call has been packed into a frame
// at least once. A call that was never packed cannot have reached the
// server, so an owner that gives up on it may report it as not sent; any
// other unanswered call may have run.
func (s *Session) WasSent(id CallID) bool {
	m, ok := s.calls[id]
	return ok && m.attempts > 0
}

// asked returns the msg_ids a msgs_state_req m asked about.
func (m *outMsg) asked() []int64 {
	if q, ok := m.body.(*mt.MsgsStateReq); ok {
		return q.MsgIDs
	}
	return nil
}

// TakeFailed returns, and forgets, the calls given up as "may have run"
// (*MaybeRanError) that no Pack or Flush has delivered yet. An owner that
// drops the session calls it first, so that every call gets its Result.
func (s *Session) TakeFailed() []Result {
	out := s.failed
	s.failed = nil
	return out
}
