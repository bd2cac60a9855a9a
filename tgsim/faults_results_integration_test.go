package tgsim_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/gotd/td/bin"
	"github.com/gotd/td/mt"
	"github.com/gotd/td/tg"

	"github.com/tlsched/tlsched/tgsim"
)

func sendTo(peer tg.InputPeerClass, randomID int64) *tg.MessagesSendMessageRequest {
	return &tg.MessagesSendMessageRequest{Peer: peer, Message: "hi", RandomID: randomID}
}

// Faults.DropResults: the call runs (the message is stored) but its answer
// is lost; msgs_state_req says it was answered, and a resend with the same
// random_id gets the original's result without storing a second message.
func TestDropResults(t *testing.T) {
	t.Parallel()
	srv := startSim(t, tgsim.Config{})
	bot := srv.Bot().ID
	c := dialRaw(t, srv, 2)
	c.init()

	srv.SetFaults(tgsim.Faults{DropResults: 1})
	id := c.call(sendTo(&tg.InputPeerSelf{}, 77))
	poll(t, "dropped result", func() bool { return srv.Counters().DroppedResults == 1 })
	if got := c.stateOf(id); got[0] != 4|8|32|64 {
		t.Fatalf("msgs_state_info of the lost call: %d, want 108 (received, acked, query, answered)", got[0])
	}

	srv.SetFaults(tgsim.Faults{})
	c.ok(c.call(sendTo(&tg.InputPeerSelf{}, 77)), nil)
	got := srv.Counters()
	if got.Duplicates != 1 || got.MessagesStored != 1 || srv.HistoryLen(bot, &tg.PeerUser{UserID: bot}) != 1 {
		t.Fatalf("Duplicates %d (want 1), MessagesStored %d (want 1), history %d (want 1)",
			got.Duplicates, got.MessagesStored, srv.HistoryLen(bot, &tg.PeerUser{UserID: bot}))
	}
}

// random_id is per account and peer: the same random_id to two peers is two
// messages; a repeat to the same peer is the original (same result); a
// repeat read while the first copy still runs gets 500 RANDOM_ID_DUPLICATE.
func TestRandomIDPerPeer(t *testing.T) {
	t.Parallel()
	srv := startSim(t, tgsim.Config{
		MethodLatency: map[string]tgsim.Latency{"messages.sendMessage": {Base: 200 * time.Millisecond}},
	})
	bot := srv.Bot().ID
	c := dialRaw(t, srv, 2)
	c.init()
	self, group := &tg.InputPeerSelf{}, &tg.InputPeerChat{ChatID: 5001}

	// Two copies in one container: the second is read while the first runs.
	ids := c.container(sendTo(self, 5), sendTo(self, 5))
	c.fails(ids[1], 500, "RANDOM_ID_DUPLICATE")
	first, _ := c.result(ids[0])

	again, _ := c.result(c.call(sendTo(self, 5)))
	if !bytes.Equal(first, again) {
		t.Fatal("a repeat of a random_id did not get the original's result")
	}
	c.ok(c.call(sendTo(group, 5)), nil) // another peer: a new message

	got := srv.Counters()
	if got.Duplicates != 1 || got.RandomIDBusy != 1 || got.MessagesStored != 2 {
		t.Fatalf("Duplicates %d (want 1), RandomIDBusy %d (want 1), MessagesStored %d (want 2)", got.Duplicates, got.RandomIDBusy, got.MessagesStored)
	}
	if a, b := srv.HistoryLen(bot, &tg.PeerUser{UserID: bot}), srv.HistoryLen(bot, &tg.PeerChat{ChatID: 5001}); a != 1 || b != 1 {
		t.Fatalf("histories: self %d, group %d; want 1 and 1", a, b)
	}
}

// Faults.DetailedInfo: the answer is announced with msg_detailed_info and
// comes on msg_resend_req{answer_msg_id}.
func TestDetailedInfo(t *testing.T) {
	t.Parallel()
	srv := startSim(t, tgsim.Config{})
	c := dialRaw(t, srv, 2)
	c.init()
	srv.SetFaults(tgsim.Faults{DetailedInfo: 1})
	id := c.call(&tg.HelpGetNearestDCRequest{})
	m := c.next("msg_detailed_info", ofType(mt.MsgDetailedInfoTypeID))
	var di mt.MsgDetailedInfo
	if err := di.Decode(&bin.Buffer{Buf: m.body}); err != nil {
		t.Fatal(err)
	}
	if di.MsgID != id || di.AnswerMsgID%4 != 1 || di.Bytes == 0 {
		t.Fatalf("msg_detailed_info %+v for call %d", di, id)
	}
	srv.SetFaults(tgsim.Faults{})
	c.sendRaw(c.salt, c.nextID(), c.plainSeq(), encode(t, &mt.MsgResendReq{MsgIDs: []int64{di.AnswerMsgID}}))
	c.ok(id, nil)
}

// Faults.PongInResult wraps pong in rpc_result; a bare pong needs no
// acknowledgement (even seqno) and answers the ping (msg_id ≡1 mod 4).
func TestPongInResult(t *testing.T) {
	t.Parallel()
	srv := startSim(t, tgsim.Config{})
	c := dialRaw(t, srv, 2)
	c.init()
	pid := c.nextID()
	c.sendRaw(c.salt, pid, c.contentSeq(), encode(t, &mt.PingRequest{PingID: 7}))
	bare := c.next("pong", ofType(mt.PongTypeID))
	if bare.seqno%2 != 0 || bare.id%4 != 1 {
		t.Fatalf("bare pong: seqno %d, msg_id mod 4 = %d; want even and 1", bare.seqno, bare.id%4)
	}

	srv.SetFaults(tgsim.Faults{PongInResult: true})
	pid = c.nextID()
	c.sendRaw(c.salt, pid, c.contentSeq(), encode(t, &mt.PingRequest{PingID: 8}))
	var pong mt.Pong
	c.ok(pid, &pong)
	if pong.MsgID != pid || pong.PingID != 8 {
		t.Fatalf("pong in rpc_result: %+v for ping %d", pong, pid)
	}
}

// Server msg_ids: ≡1 mod 4 for answers to client messages (rpc_result,
// bad_msg_notification), ≡3 for the rest (msgs_ack, new_session_created);
// rpc_result is content-related (odd seqno).
func TestServerMsgIDParity(t *testing.T) {
	t.Parallel()
	srv := startSim(t, tgsim.Config{
		MethodLatency: map[string]tgsim.Latency{"users.getFullUser": {Base: 300 * time.Millisecond}},
		AckDelay:      5 * time.Millisecond,
	})
	c := dialRaw(t, srv, 2)
	id := c.call(wrapInit(&tg.HelpGetConfigRequest{}))
	nsc := c.next("new_session_created", ofType(mt.NewSessionCreatedTypeID))
	res := c.resultMsg(id)
	slow := c.call(&tg.UsersGetFullUserRequest{ID: &tg.InputUserSelf{}})
	ack := c.next("msgs_ack", ofType(mt.MsgsAckTypeID))
	bad := c.nextID() + 1
	c.sendRaw(c.salt, bad, c.contentSeq(), encode(t, &tg.HelpGetNearestDCRequest{}))
	badm := badMsgFor(c, bad)
	c.sendRaw(c.salt+1, c.nextID(), c.contentSeq(), encode(t, &tg.HelpGetNearestDCRequest{}))
	salt := c.next("bad_server_salt", ofType(mt.BadServerSaltTypeID))
	c.resultMsg(slow)
	for _, tc := range []struct {
		name   string
		m      srvMsg
		parity int64
	}{
		{"new_session_created", nsc, 3},
		{"msgs_ack", ack, 3},
		{"rpc_result", res, 1},
		{"bad_msg_notification", badm.srvMsg, 1},
		{"bad_server_salt", salt, 1},
	} {
		if tc.m.id%4 != tc.parity {
			t.Errorf("%s: msg_id mod 4 = %d, want %d", tc.name, tc.m.id%4, tc.parity)
		}
	}
	if res.seqno%2 != 1 || ack.seqno%2 != 0 {
		t.Errorf("seqnos: rpc_result %d (want odd), msgs_ack %d (want even)", res.seqno, ack.seqno)
	}
}

// msgs_state_req: one byte per msg_id as "Service Messages about Messages"
// defines them.
func TestMsgsStateInfo(t *testing.T) {
	t.Parallel()
	srv := startSim(t, tgsim.Config{})
	c := dialRaw(t, srv, 2)
	c.init()
	gap := c.nextID() // never sent: within the range of received ids
	done := c.call(&tg.HelpGetNearestDCRequest{})
	c.ok(done, nil)
	old := int64(time.Now().Add(-time.Hour).Unix()) << 32
	high := c.nextID() + 1<<32 // a second ahead of anything sent
	got := c.stateOf(done, gap, old, high)
	want := []byte{4 | 8 | 32 | 64, 2, 1, 3}
	if !bytes.Equal(got, want) {
		t.Fatalf("msgs_state_info %v, want %v", got, want)
	}
}

// A clock jump at run time (Faults.ClockSkew): msg_id checks and the
// server's own msg_ids follow at once.
func TestClockJump(t *testing.T) {
	t.Parallel()
	srv := startSim(t, tgsim.Config{})
	c := dialRaw(t, srv, 2)
	c.init()
	srv.SetFaults(tgsim.Faults{ClockSkew: 10 * time.Minute})
	id := c.call(&tg.HelpGetNearestDCRequest{})
	m := badMsgFor(c, id)
	if m.code != 16 {
		t.Fatalf("bad_msg %d after the server's clock jumped 10 min ahead, want 16", m.code)
	}
	if ahead := time.Unix(m.id>>32, 0).Sub(time.Now()); ahead < 9*time.Minute {
		t.Fatalf("server msg_id is %v ahead of real time, want about 10 min", ahead)
	}
	srv.SetFaults(tgsim.Faults{})
	c.roundTrip()
}

type badMsgSeen struct {
	srvMsg
	code int
}

func badMsgFor(c *rawClient, id int64) badMsgSeen {
	c.t.Helper()
	var n mt.BadMsgNotification
	m := c.next("bad_msg_notification", func(m srvMsg) bool {
		return m.typ == mt.BadMsgNotificationTypeID && n.Decode(&bin.Buffer{Buf: m.body}) == nil && n.BadMsgID == id
	})
	return badMsgSeen{m, n.ErrorCode}
}
