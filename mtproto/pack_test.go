package mtproto

import (
	"errors"
	"testing"
	"time"

	"github.com/gotd/td/bin"
	"github.com/gotd/td/mt"
	"github.com/gotd/td/tg"

	"github.com/tlsched/tlsched/mtproto/spec"
)

func TestPackSingleCallIsBare(t *testing.T) {
	s, srv := newPair(t, Config{})
	out, err := s.Pack(testNow, calls(1, 1))
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Frames) != 1 || out.Frames[0].Container {
		t.Fatalf("want one bare frame, got %+v", out.Frames)
	}
	sf := srv.open(out.Frames[0])
	if sf.Container || len(sf.Msgs) != 1 {
		t.Fatalf("server sees container=%v msgs=%d", sf.Container, len(sf.Msgs))
	}
	if sf.Salt != 100 || sf.SessionID != s.ID() {
		t.Fatalf("salt %d session %d", sf.Salt, sf.SessionID)
	}
	if sf.Seqno != 1 {
		t.Fatalf("first content message seqno = %d, want 1", sf.Seqno)
	}
	u := srv.calls(sf)[0]
	if !u.init || u.layer != tg.Layer || u.typeID != tg.MessagesSendMessageRequestTypeID {
		t.Fatalf("first call must be invokeWithLayer(initConnection(sendMessage)): %+v", u)
	}
}

func TestPackContainerIDsAndSeqnos(t *testing.T) {
	s, srv := newPair(t, Config{})
	var lastID int64
	var lastSeq int32 = -1
	for round := 0; round < 5; round++ {
		// Same now for every round: ids must still increase.
		out, err := s.Pack(testNow, calls(1+round*100, 100))
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Frames) != 1 {
			t.Fatalf("round %d: %d frames", round, len(out.Frames))
		}
		sf := srv.open(out.Frames[0])
		if !sf.Container || len(sf.Msgs) != 100 {
			t.Fatalf("round %d: container=%v with %d msgs", round, sf.Container, len(sf.Msgs))
		}
		for _, m := range sf.Msgs {
			if m.ID%4 != 0 {
				t.Fatalf("msg_id %d not divisible by 4", m.ID)
			}
			if m.ID <= lastID {
				t.Fatalf("msg_id %d not above %d", m.ID, lastID)
			}
			if m.ID >= sf.MsgID {
				t.Fatalf("inner msg_id %d not below container %d", m.ID, sf.MsgID)
			}
			if m.Seqno%2 != 1 || m.Seqno <= lastSeq {
				t.Fatalf("content seqno %d after %d", m.Seqno, lastSeq)
			}
			lastID, lastSeq = m.ID, m.Seqno
		}
		if sf.Seqno%2 != 0 || sf.Seqno < lastSeq {
			t.Fatalf("container seqno %d (highest inner %d)", sf.Seqno, lastSeq)
		}
		lastID = sf.MsgID
		// Init wrapper only until a wrapped call is answered; here on the
		// first call of each frame.
		if u := srv.calls(sf); !u[0].init || u[1].init {
			t.Fatalf("round %d: init on first call only", round)
		}
	}
}

func TestPackCaps(t *testing.T) {
	t.Run("messages", func(t *testing.T) {
		s, srv := newPair(t, Config{MaxMessages: 10})
		out, err := s.Pack(testNow, calls(1, 25))
		if err != nil {
			t.Fatal(err)
		}
		var sizes []int
		for _, f := range out.Frames {
			sizes = append(sizes, len(srv.open(f).Msgs))
		}
		if len(sizes) != 3 || sizes[0] != 10 || sizes[1] != 10 || sizes[2] != 5 {
			t.Fatalf("frame sizes %v, want [10 10 5]", sizes)
		}
	})
	t.Run("bytes", func(t *testing.T) {
		s, srv := newPair(t, Config{MaxBytes: 1000})
		out, err := s.Pack(testNow, calls(1, 40))
		if err != nil {
			t.Fatal(err)
		}
		total := 0
		for _, f := range out.Frames {
			if f.Bytes > 1000 {
				t.Fatalf("frame of %d bytes over cap", f.Bytes)
			}
			total += len(srv.calls(srv.open(f)))
		}
		if total != 40 || len(out.Frames) < 2 {
			t.Fatalf("%d calls in %d frames", total, len(out.Frames))
		}
	})
	t.Run("protocol cap", func(t *testing.T) {
		s, _ := newPair(t, Config{MaxMessages: 5000})
		out, _ := s.Pack(testNow, calls(1, 2000))
		if out.Frames[0].Messages != MaxContainerMessages {
			t.Fatalf("first frame has %d messages, want %d", out.Frames[0].Messages, MaxContainerMessages)
		}
	})
	t.Run("oversize call alone then failed", func(t *testing.T) {
		s, _ := newPair(t, Config{MaxBytes: 2000})
		big := &tg.MessagesSendMessageRequest{Peer: &tg.InputPeerSelf{}, Message: string(make([]byte, 5000))}
		huge := &tg.MessagesSendMessageRequest{Peer: &tg.InputPeerSelf{}, Message: string(make([]byte, MaxMessageBytes+10))}
		out, err := s.Pack(testNow, []Call{{ID: 1, Body: sendMsg(1)}, {ID: 2, Body: big}, {ID: 3, Body: huge}, {ID: 4, Body: sendMsg(4)}})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Failed) != 1 || out.Failed[0].Call != 3 {
			t.Fatalf("failed: %+v", out.Failed)
		}
		var ce *CallError
		if !errors.As(out.Failed[0].Err, &ce) {
			t.Fatalf("want CallError, got %v", out.Failed[0].Err)
		}
		n := 0
		for _, f := range out.Frames {
			n += len(f.Calls)
		}
		if n != 3 {
			t.Fatalf("%d calls packed, want 3", n)
		}
		if len(s.Unanswered()) != 3 {
			t.Fatalf("unanswered %v", s.Unanswered())
		}
	})
	t.Run("bad ids", func(t *testing.T) {
		s, _ := newPair(t, Config{})
		out, _ := s.Pack(testNow, []Call{{ID: 0, Body: sendMsg(1)}, {ID: 1, Body: sendMsg(1)}, {ID: 1, Body: sendMsg(2)}, {ID: 2}})
		if len(out.Failed) != 3 {
			t.Fatalf("want 3 failures (zero id, duplicate, nil body), got %+v", out.Failed)
		}
	})
}

func TestPackInvokeAfterMsg(t *testing.T) {
	s, srv := newPair(t, Config{NoInit: true})
	chain := []Call{{ID: 1, Body: sendMsg(1)}, {ID: 2, Body: sendMsg(2), After: 1}, {ID: 3, Body: sendMsg(3), After: 2}}
	// Given in reverse: dependents must still follow their predecessors.
	out, err := s.Pack(testNow, []Call{chain[2], chain[1], chain[0]})
	if err != nil {
		t.Fatal(err)
	}
	us := srv.calls(srv.open(out.Frames[0]))
	if len(us) != 3 {
		t.Fatalf("%d calls", len(us))
	}
	byRandom := map[int64]unwrapped{}
	for _, u := range us {
		byRandom[randomID(t, u.query)] = u
	}
	if byRandom[1].after != 0 || byRandom[2].after != byRandom[1].msg.ID || byRandom[3].after != byRandom[2].msg.ID {
		t.Fatalf("chain not wrapped after predecessors: %+v", byRandom)
	}
	// A later call after an unanswered one names its current msg_id.
	out, _ = s.Pack(testNow, []Call{{ID: 4, Body: sendMsg(4), After: 3}})
	u4 := srv.calls(srv.open(out.Frames[0]))[0]
	if u4.after != byRandom[3].msg.ID {
		t.Fatalf("after = %d, want %d", u4.after, byRandom[3].msg.ID)
	}
	wrapped4 := u4.msg.ID
	// After an answered call the session has nothing to name: the call is
	// not sent, and goes back to the owner, who knows the outcome.
	s.Receive(testNow, srv.send(s, result(t, byRandom[1].msg.ID, sentOK(1))))
	out, _ = s.Pack(testNow, []Call{{ID: 5, Body: sendMsg(5), After: 1}})
	sent := 0
	for _, f := range out.Frames {
		sent += len(srv.calls(srv.open(f)))
	}
	if sent != 0 || len(out.Failed) != 1 || out.Failed[0].Call != 5 || !errors.Is(out.Failed[0].Err, ErrPredecessorUnknown) {
		t.Fatalf("dependent of an answered call: %d calls sent, failed %+v", sent, out.Failed)
	}
	// A dependent resent after its predecessor was answered is wrapped
	// after the attempt it named: never unwrapped.
	s.Receive(testNow, srv.send(s, result(t, byRandom[3].msg.ID, sentOK(3))))
	if _, err := s.Receive(testNow, srv.sendService(s, encode(t, &mt.BadServerSalt{BadMsgID: wrapped4, ErrorCode: spec.BadMsgServerSalt, NewServerSalt: 778}))); err != nil {
		t.Fatal(err)
	}
	out, _ = s.Flush(testNow)
	var resent []unwrapped
	for _, f := range out.Frames {
		resent = append(resent, srv.calls(srv.open(f))...)
	}
	found := false
	for _, u := range resent {
		if randomID(t, u.query) == 4 {
			found = true
			if u.after != byRandom[3].msg.ID {
				t.Fatalf("resent dependent wrapped after %d, want %d", u.after, byRandom[3].msg.ID)
			}
		}
	}
	if !found {
		t.Fatalf("call 4 not resent on Resume: %+v", resent)
	}
}

func TestInitWithAfterIsOutermost(t *testing.T) {
	s, srv := newPair(t, Config{MaxMessages: 1})
	out, _ := s.Pack(testNow, []Call{{ID: 1, Body: sendMsg(1)}, {ID: 2, Body: sendMsg(2), After: 1}})
	if len(out.Frames) != 2 {
		t.Fatalf("%d frames", len(out.Frames))
	}
	u := srv.calls(srv.open(out.Frames[1]))[0] // unwrap checks the nesting
	if !u.init || u.after == 0 {
		t.Fatalf("second frame's call: init=%v after=%d", u.init, u.after)
	}
}

func TestInitConfirmedByResult(t *testing.T) {
	s, srv := newPair(t, Config{})
	out, _ := s.Pack(testNow, calls(1, 1))
	m := srv.open(out.Frames[0]).Msgs[0]
	s.Receive(testNow, srv.send(s, result(t, m.ID, sentOK(1))))
	out, _ = s.Pack(testNow, calls(2, 1))
	if u := srv.calls(srv.open(out.Frames[0]))[0]; u.init {
		t.Fatal("init wrapper after it was confirmed")
	}
}

func TestConnectionNotInitedResendsWrapped(t *testing.T) {
	s, srv := newPair(t, Config{})
	out, _ := s.Pack(testNow, calls(1, 1))
	s.Receive(testNow, srv.send(s, result(t, srv.open(out.Frames[0]).Msgs[0].ID, sentOK(1))))
	out, _ = s.Pack(testNow, calls(2, 1))
	m := srv.calls(srv.open(out.Frames[0]))[0].msg
	evs, _ := s.Receive(testNow, srv.send(s, result(t, m.ID, &mt.RPCError{ErrorCode: 400, ErrorMessage: "CONNECTION_NOT_INITED"})))
	if len(results(evs)) != 0 {
		t.Fatalf("CONNECTION_NOT_INITED must not reach the caller: %+v", evs)
	}
	out, _ = s.Flush(testNow)
	us := srv.calls(srv.open(out.Frames[0]))
	if len(us) != 1 || !us[0].init {
		t.Fatalf("resend not wrapped in init: %+v", us)
	}
}

func TestConnectionNotInitedLoopIsBounded(t *testing.T) {
	s, srv := newPair(t, Config{})
	out, _ := s.Pack(testNow, calls(1, 1))
	s.Receive(testNow, srv.send(s, result(t, srv.open(out.Frames[0]).Msgs[0].ID, sentOK(1))))
	// A second call, packed behind another so it goes unwrapped each time,
	// meets CONNECTION_NOT_INITED again and again.
	out, _ = s.Pack(testNow, calls(2, 1))
	for round := 0; ; round++ {
		var m int64
		for _, f := range out.Frames {
			for _, u := range srv.calls(srv.open(f)) {
				m = u.msg.ID
			}
		}
		s.initDone = true // as if another call confirmed init meanwhile
		evs, _ := s.Receive(testNow, srv.send(s, result(t, m, &mt.RPCError{ErrorCode: 400, ErrorMessage: "CONNECTION_NOT_INITED"})))
		if r := results(evs); len(r) == 1 {
			if round != maxNotInits {
				t.Fatalf("error after %d rounds, want %d", round, maxNotInits)
			}
			return
		}
		if round > maxNotInits {
			t.Fatal("CONNECTION_NOT_INITED resent without end")
		}
		s.initDone = true
		out, _ = s.Flush(testNow)
	}
}

func TestAcksPiggyBackAndFlush(t *testing.T) {
	s, srv := newPair(t, Config{AckDelay: time.Second})
	out, _ := s.Pack(testNow, calls(1, 2))
	sf := srv.open(out.Frames[0])
	body := srv.container(result(t, sf.Msgs[0].ID, sentOK(1)), result(t, sf.Msgs[1].ID, sentOK(2)))
	frame := srv.frame(s.ID(), srv.nextID(1), 0, body)
	evs, err := s.Receive(testNow, frame)
	if err != nil {
		t.Fatal(err)
	}
	if len(results(evs)) != 2 {
		t.Fatalf("results: %+v", evs)
	}
	when, ok := s.NextDeadline()
	if !ok || !when.Equal(testNow.Add(time.Second)) {
		t.Fatalf("ack deadline %v %v", when, ok)
	}
	// Acks ride with the next call.
	out, _ = s.Pack(testNow, calls(3, 1))
	sf = srv.open(out.Frames[0])
	if !sf.Container || len(sf.Msgs) != 2 {
		t.Fatalf("want container of ack + call, got %d msgs", len(sf.Msgs))
	}
	var ack mt.MsgsAck
	if err := ack.Decode(&bin.Buffer{Buf: sf.Msgs[0].Body}); err != nil {
		t.Fatalf("first message is not msgs_ack: %v", err)
	}
	if len(ack.MsgIDs) != 2 || sf.Msgs[0].Seqno%2 != 0 {
		t.Fatalf("ack %v seqno %d", ack.MsgIDs, sf.Msgs[0].Seqno)
	}
	// With the acks sent, only the liveness rules are left: call 3 awaits
	// its answer, so a ping is due after BusyPingAfter.
	if when, ok := s.NextDeadline(); !ok || !when.Equal(testNow.Add(4*time.Second)) {
		t.Fatalf("want only the busy ping pending, got %v %v", when, ok)
	}
	// An ack alone goes out with Flush, not with an empty Pack.
	s.Receive(testNow, srv.send(s, encode(t, &tg.Updates{})))
	if out, _ := s.Pack(testNow, nil); len(out.Frames) != 0 {
		t.Fatal("empty Pack sent a frame")
	}
	out, _ = s.Flush(testNow)
	if len(out.Frames) != 1 || out.Frames[0].Container {
		t.Fatalf("flush: %+v", out.Frames)
	}
}

func TestAckBatchDueAtOnce(t *testing.T) {
	s, srv := newPair(t, Config{AckBatch: 3})
	for i := 0; i < 3; i++ {
		s.Receive(testNow, srv.send(s, encode(t, &tg.Updates{})))
	}
	when, ok := s.NextDeadline()
	if !ok || !when.IsZero() {
		t.Fatalf("deadline %v %v, want immediate", when, ok)
	}
}
