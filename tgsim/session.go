package tgsim

import (
	"sync"
	"sync/atomic"

	"github.com/gotd/td/bin"
	"github.com/gotd/td/mt"
	"github.com/gotd/td/proto"
)

// session is the server side of one MTProto session (auth key + session
// id). It outlives connections: results of calls read on a connection that
// dropped are delivered on the session's next connection.
type session struct {
	srv *Server
	key *authKey
	id  int64

	mu   sync.Mutex
	conn *conn // current connection; nil while detached
	// attached mirrors conn != nil for evictDetached, which holds k.mu and
	// so may not take s.mu: the lock order is s.mu, then k.mu (a query
	// reads the key's state under s.mu).
	attached atomic.Bool
	fresh    bool // new_session_created not sent yet
	// The lowest msg_id received, and the session's unique_id, for
	// new_session_created.
	firstID  int64
	uniqueID int64
	// forgotten is set by ForgetSessions: the session is gone from its
	// key, and what it would still send is dropped.
	forgotten bool
	seen      idSet

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
	answerOf     map[int64]int64 // client query msg_id → msg_id of its rpc_result, for msg_resend_ans_req
	stateAsking  bool            // our msgs_state_req awaits msgs_state_info (faults_state.go)
	stateAsked   map[int64][]int64
}

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
	// Attached from here on, for evictDetached: a session found or made
	// for a connection is not forgotten before the connection binds it.
	s.attached.Store(true)
	k.mu.Unlock()

	s.mu.Lock()
	if s.conn != c {
		s.conn = c
		s.attached.Store(true)
		c.bind(s)
		if len(s.outq) > 0 {
			c.wake()
		}
	}
	s.mu.Unlock()
	return s
}

// What an auth key and its sessions remember, at most.
const (
	maxSessionsPerKey = 256     // beyond it, detached sessions are forgotten
	rememberCalls     = 1 << 16 // finished calls kept for invokeAfterMsg
	rememberSent      = 1 << 14 // unacknowledged messages kept for msg_resend_req
	replayWindow      = 1 << 14 // msg_ids remembered against replays
)

// evictDetached forgets sessions that have no connection. k.mu is held.
func (k *authKey) evictDetached() {
	for id, s := range k.sessions {
		if !s.attached.Load() {
			delete(k.sessions, id)
		}
	}
}

func (s *session) detach(c *conn) {
	s.mu.Lock()
	if s.conn == c {
		s.conn = nil
		s.attached.Store(false)
	}
	s.mu.Unlock()
}

// ForgetSessions makes every DC forget every session, as a Telegram server
// that lost its session state: the next message of a session starts it
// afresh (new_session_created with that message as first_msg_id), and
// answers the old session had not delivered, or calls still running, are
// never sent. Auth keys, logins and the world survive.
func (s *Server) ForgetSessions() {
	for _, d := range s.dcs {
		d.mu.RLock()
		keys := make([]*authKey, 0, len(d.keys))
		for _, k := range d.keys {
			keys = append(keys, k)
		}
		d.mu.RUnlock()
		for _, k := range keys {
			k.mu.Lock()
			ss := k.sessions
			k.sessions = map[int64]*session{}
			k.mu.Unlock()
			for _, sess := range ss {
				sess.forget()
			}
		}
	}
}

// forget drops what the session would still send and detaches it.
func (s *session) forget() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.forgotten = true
	s.outq = nil
	s.pendingAcks = map[int64]struct{}{}
	s.unacked = map[int64]outMsg{}
	s.unackedOrder = nil
	s.answerOf = nil
	s.stateAsking = false
	s.stateAsked = nil
	s.conn = nil
	s.attached.Store(false)
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
