package tgsim_test

import (
	"slices"
	"testing"
	"time"

	"github.com/gotd/td/bin"
	"github.com/gotd/td/mt"
	"github.com/gotd/td/tg"

	"github.com/tlsched/tlsched/tgsim"
)

// slowSim serves users.getFullUser slowly and acknowledges at once, so a
// test can see a call read (its msgs_ack) long before it is answered.
func slowSim(t *testing.T, slow time.Duration) *tgsim.Server {
	return startSim(t, tgsim.Config{
		MethodLatency: map[string]tgsim.Latency{"users.getFullUser": {Base: slow}},
		AckDelay:      5 * time.Millisecond,
	})
}

// callRead sends a slow call and waits for the server's msgs_ack of it.
func (c *rawClient) callRead() int64 {
	c.t.Helper()
	id := c.call(&tg.UsersGetFullUserRequest{ID: &tg.InputUserSelf{}})
	c.next("msgs_ack of the slow call", func(m srvMsg) bool {
		var a mt.MsgsAck
		return m.typ == mt.MsgsAckTypeID && a.Decode(&bin.Buffer{Buf: m.body}) == nil && slices.Contains(a.MsgIDs, id)
	})
	return id
}

func newSession(t *testing.T, m srvMsg) mt.NewSessionCreated {
	t.Helper()
	var n mt.NewSessionCreated
	if err := n.Decode(&bin.Buffer{Buf: m.body}); err != nil {
		t.Fatal(err)
	}
	return n
}

// ForgetSessions: the next message of the session starts it afresh with
// new_session_created{first_msg_id = that message}, and the answer of a
// call the old session was still running is never sent.
func TestForgetSessions(t *testing.T) {
	t.Parallel()
	srv := slowSim(t, 300*time.Millisecond)
	c := dialRaw(t, srv, 2)
	c.init()
	first := newSession(t, c.next("new_session_created", ofType(mt.NewSessionCreatedTypeID)))
	slow := c.callRead()

	srv.ForgetSessions()
	id := c.call(&tg.HelpGetNearestDCRequest{})
	n := newSession(t, c.next("second new_session_created", ofType(mt.NewSessionCreatedTypeID)))
	if n.FirstMsgID != id || n.UniqueID == first.UniqueID {
		t.Fatalf("new_session_created %+v: first_msg_id want %d, unique_id want other than %d", n, id, first.UniqueID)
	}
	c.ok(id, nil)
	poll(t, "the old session's answer dropped", func() bool { return srv.Counters().DroppedResults == 1 })
	c.roundTrip()
	for _, m := range c.backlog {
		if m.typ == mt.RPCResultTypeID && reqOf(m) == slow {
			t.Fatal("the forgotten session's answer was delivered")
		}
	}
	if got := srv.Counters().NewSessions; got != 2 {
		t.Fatalf("NewSessions = %d, want 2", got)
	}
}

// A session outlives its TCP connection: a client reconnecting with the
// same session id continues it (no new_session_created) and gets the
// answer of a call read on the old connection.
func TestSessionSurvivesReconnect(t *testing.T) {
	t.Parallel()
	srv := slowSim(t, time.Second)
	c := dialRaw(t, srv, 2)
	c.init()
	slow := c.callRead()
	srv.DropConnections()
	for range c.msgs {
	}
	c2 := redial(t, srv, 2, c, true)
	c2.roundTrip()
	c2.ok(slow, nil)
	if got := srv.Counters().NewSessions; got != 1 {
		t.Fatalf("NewSessions = %d, want 1: the session must survive the reconnect", got)
	}
}

// A message with a msg_id lower than the session's first gets another
// new_session_created naming it, with the same unique_id (MTProto "Service
// Messages": new session creation notification).
func TestNewSessionCreatedForLowerMsgID(t *testing.T) {
	t.Parallel()
	srv := startSim(t, tgsim.Config{})
	c := dialRaw(t, srv, 2)
	early := c.nextID()
	c.init()
	n := newSession(t, c.next("new_session_created", ofType(mt.NewSessionCreatedTypeID)))
	c.sendRaw(c.salt, early, c.plainSeq(), encode(t, &mt.PingRequest{PingID: 3}))
	again := newSession(t, c.next("second new_session_created", ofType(mt.NewSessionCreatedTypeID)))
	if again.FirstMsgID != early || again.UniqueID != n.UniqueID || n.FirstMsgID <= early {
		t.Fatalf("new_session_created %+v after %+v, want first_msg_id %d and the same unique_id", again, n, early)
	}
	c.next("pong", ofType(mt.PongTypeID))
	if got := srv.Counters().NewSessions; got != 1 {
		t.Fatalf("NewSessions = %d, want 1 (one session)", got)
	}
}
