package mtproto

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/gotd/td/bin"
	"github.com/gotd/td/mt"
	"github.com/gotd/td/proto"
	"github.com/gotd/td/tg"
)

// msgsOf returns the messages of the frames with constructor typeID.
func msgsOf(sfs []sentFrame, typeID uint32) []inMsg {
	var out []inMsg
	for _, sf := range sfs {
		for _, m := range sf.Msgs {
			if id, _ := (&bin.Buffer{Buf: m.Body}).PeekID(); id == typeID {
				out = append(out, m)
			}
		}
	}
	return out
}

func flushAt(t *testing.T, s *Session, srv *fakeServer, now time.Time) ([]sentFrame, error) {
	t.Helper()
	out, err := s.Flush(now)
	var sfs []sentFrame
	for _, f := range out.Frames {
		sfs = append(sfs, srv.open(f))
	}
	return sfs, err
}

func TestSilentConnectionPingsThenDies(t *testing.T) {
	s, srv := newPair(t, Config{})
	sendAndOpen(t, s, srv, calls(1, 3))
	// Nothing arrives. After BusyPingAfter a ping goes out, and
	// NextDeadline said so.
	at, ok := s.NextDeadline()
	if !ok || !at.Equal(testNow.Add(4*time.Second)) {
		t.Fatalf("deadline %v %v, want the busy ping at +4s", at, ok)
	}
	sfs, err := flushAt(t, s, srv, at)
	if err != nil || len(msgsOf(sfs, mt.PingDelayDisconnectRequestTypeID)) != 1 {
		t.Fatalf("want one ping_delay_disconnect at +4s: %v", err)
	}
	// One ping is enough: no second one while it is in flight.
	sfs, _ = flushAt(t, s, srv, testNow.Add(10*time.Second))
	if len(msgsOf(sfs, mt.PingDelayDisconnectRequestTypeID)) != 0 {
		t.Fatal("second ping while the first is unanswered")
	}
	if at, _ := s.NextDeadline(); !at.Equal(testNow.Add(12 * time.Second)) {
		t.Fatalf("deadline %v, want death at +12s", at)
	}
	if _, err := flushAt(t, s, srv, testNow.Add(12*time.Second)); !errors.Is(err, ErrSilent) {
		t.Fatalf("after 12 s of silence: %v, want ErrSilent", err)
	}
}

func TestPongKeepsConnectionAlive(t *testing.T) {
	s, srv := newPair(t, Config{})
	sendAndOpen(t, s, srv, calls(1, 1))
	sfs, _ := flushAt(t, s, srv, testNow.Add(5*time.Second))
	ping := msgsOf(sfs, mt.PingDelayDisconnectRequestTypeID)
	if len(ping) != 1 {
		t.Fatal("no ping")
	}
	// The pong comes inside rpc_result (Telegram does that on some paths).
	srv.now = testNow.Add(6 * time.Second)
	rcv, err := s.Receive(srv.now, srv.send(s, result(t, ping[0].ID, &mt.Pong{MsgID: ping[0].ID, PingID: 1})))
	if err != nil || len(rcv.Events) != 1 {
		t.Fatalf("pong in rpc_result: %v %+v", err, rcv)
	}
	if p, ok := rcv.Events[0].(Pong); !ok || p.RTT != time.Second {
		t.Fatalf("%+v", rcv.Events)
	}
	// Silence now counts from the pong: alive at +12 s, dead at +18 s.
	if _, err := flushAt(t, s, srv, testNow.Add(12*time.Second)); err != nil {
		t.Fatalf("alive connection declared dead: %v", err)
	}
	if _, err := flushAt(t, s, srv, testNow.Add(18*time.Second)); !errors.Is(err, ErrSilent) {
		t.Fatalf("want ErrSilent 12 s after the pong: %v", err)
	}
}

func TestIdleConnectionPingsEveryInterval(t *testing.T) {
	s, srv := newPair(t, Config{PingInterval: time.Minute})
	if _, err := s.Receive(testNow, srv.send(s, encode(t, &tg.UpdatesTooLong{}))); err != nil {
		t.Fatal(err)
	}
	flushAt(t, s, srv, testNow.Add(2*time.Second)) // the ack
	if at, _ := s.NextDeadline(); !at.Equal(testNow.Add(time.Minute)) {
		t.Fatalf("idle deadline %v, want +1m", at)
	}
	sfs, err := flushAt(t, s, srv, testNow.Add(time.Minute))
	if err != nil || len(msgsOf(sfs, mt.PingDelayDisconnectRequestTypeID)) != 1 {
		t.Fatalf("idle ping: %v", err)
	}
	// With the ping out, the next deadline is the silence check, not the
	// idle ping again (which would spin the owner's timer).
	if at, _ := s.NextDeadline(); !at.Equal(testNow.Add(time.Minute + 12*time.Second)) {
		t.Fatalf("deadline after the idle ping %v, want +1m12s", at)
	}
	var p mt.PingDelayDisconnectRequest
	_ = p.Decode(&bin.Buffer{Buf: msgsOf(sfs, mt.PingDelayDisconnectRequestTypeID)[0].Body})
	if p.DisconnectDelay != 75 {
		t.Fatalf("disconnect_delay %d, want 75", p.DisconnectDelay)
	}
}

func TestReplayWindowRefusesEveryRepeat(t *testing.T) {
	s, srv := newPair(t, Config{})
	var frames [][]byte
	for range 3 {
		frames = append(frames, srv.send(s, encode(t, &tg.UpdatesTooLong{})))
	}
	for _, f := range frames {
		if _, err := s.Receive(testNow, f); err != nil {
			t.Fatal(err)
		}
	}
	// Replays of a and b, not only of the last frame, are refused, and
	// acknowledged again.
	for _, f := range frames[:2] {
		rcv, err := s.Receive(testNow, f)
		if !errors.Is(err, ErrReplay) || len(rcv.Events) != 0 {
			t.Fatalf("replay accepted: %v %+v", err, rcv)
		}
	}
	if st := s.Stats(); st.Duplicates != 2 || st.Updates != 3 {
		t.Fatalf("stats %+v", st)
	}
	sfs, _ := flushAt(t, s, srv, testNow.Add(time.Hour/60))
	acks := msgsOf(sfs, mt.MsgsAckTypeID)
	var ack mt.MsgsAck
	if len(acks) != 1 || ack.Decode(&bin.Buffer{Buf: acks[0].Body}) != nil || len(ack.MsgIDs) != 5 {
		t.Fatalf("want 3 acks and 2 acks of the duplicates, got %+v", ack.MsgIDs)
	}
}

func TestDuplicateAnswerInsideContainerIgnored(t *testing.T) {
	s, srv := newPair(t, Config{})
	sf := sendAndOpen(t, s, srv, calls(1, 2))
	us := srv.calls(sf)
	ans := result(t, us[0].msg.ID, sentOK(1))
	// The answer, then a container that carries it again (same msg_id) with
	// the other answer: the call gets one Result.
	id := srv.nextID(proto.MessageServerResponse)
	if rcv, _ := s.Receive(testNow, srv.frame(s.ID(), id, 1, ans)); len(rcv.Results) != 1 {
		t.Fatalf("%+v", rcv)
	}
	var b bin.Buffer
	b.PutID(proto.MessageContainerTypeID)
	b.PutInt(2)
	for i, m := range []struct {
		id   int64
		body []byte
	}{{id, ans}, {srv.nextID(proto.MessageServerResponse), result(t, us[1].msg.ID, sentOK(2))}} {
		b.PutLong(m.id)
		b.PutInt(2*i + 1)
		b.PutInt(len(m.body))
		b.Put(m.body)
	}
	rcv, err := s.Receive(testNow, srv.frame(s.ID(), srv.nextID(proto.MessageServerResponse), 0, b.Buf))
	if err != nil || len(rcv.Results) != 1 || rcv.Results[0].Call != 2 {
		t.Fatalf("want only call 2's answer: %v %+v", err, rcv)
	}
	if s.Stats().Duplicates != 1 {
		t.Fatalf("stats %+v", s.Stats())
	}
}

func TestTimeWindow(t *testing.T) {
	s, srv := newPair(t, Config{})
	// The first frame of a session sets the offset, even far off.
	srv.now = testNow.Add(10 * time.Minute)
	if _, err := s.Receive(testNow, srv.send(s, encode(t, &tg.UpdatesTooLong{}))); err != nil {
		t.Fatal(err)
	}
	if off := s.TimeOffset(); off < 9*time.Minute || off > 11*time.Minute {
		t.Fatalf("offset %v, want about 10m", off)
	}
	// Then a frame 400 s older than the server's clock is refused...
	srv.now = testNow.Add(10*time.Minute - 400*time.Second)
	srv.lastID = 0
	if _, err := s.Receive(testNow, srv.send(s, encode(t, &tg.UpdatesTooLong{}))); !errors.Is(err, ErrTimeWindow) {
		t.Fatalf("old frame: %v, want ErrTimeWindow", err)
	}
	// ...and one 60 s ahead too; the third in a row means the server's
	// clock moved, and the session follows it.
	srv.now = testNow.Add(11 * time.Minute)
	if _, err := s.Receive(testNow, srv.send(s, encode(t, &tg.UpdatesTooLong{}))); !errors.Is(err, ErrTimeWindow) {
		t.Fatalf("future frame: %v, want ErrTimeWindow", err)
	}
	if _, err := s.Receive(testNow, srv.send(s, encode(t, &tg.UpdatesTooLong{}))); err != nil {
		t.Fatalf("third frame off the window: %v, want the clock followed", err)
	}
	if st := s.Stats(); st.TimeRejected != 2 || st.Updates != 2 {
		t.Fatalf("stats %+v", st)
	}
}

func TestNewSessionCreatedNamingOurAck(t *testing.T) {
	s, srv := newPair(t, Config{MaxMessages: 3})
	sendAndOpen(t, s, srv, calls(1, 2))
	// An update to acknowledge: the next frame starts with our msgs_ack.
	if _, err := s.Receive(testNow, srv.send(s, encode(t, &tg.UpdatesTooLong{}))); err != nil {
		t.Fatal(err)
	}
	sf := sendAndOpen(t, s, srv, calls(3, 2))
	if id, _ := (&bin.Buffer{Buf: sf.Msgs[0].Body}).PeekID(); id != mt.MsgsAckTypeID {
		t.Fatal("the second frame does not start with the ack")
	}
	// The server's new session began with our ack: calls 1 and 2 (the
	// first frame) are resent, 3 and 4 are not.
	rcv, _ := s.Receive(testNow, srv.sendService(s, encode(t, &mt.NewSessionCreated{FirstMsgID: sf.Msgs[0].ID, ServerSalt: 7})))
	var resent []CallID
	for _, e := range rcv.Events {
		if r, ok := e.(Resent); ok {
			resent = append(resent, r.Calls...)
		}
	}
	slices.Sort(resent)
	if !slices.Equal(resent, []CallID{1, 2}) {
		t.Fatalf("resent %v, want [1 2]", resent)
	}
}

func TestResumeAsksAndResendsOnlyWhatTheServerLacks(t *testing.T) {
	s, srv := newPair(t, Config{})
	sf := sendAndOpen(t, s, srv, calls(1, 3))
	us := srv.calls(sf)
	// A new connection, the same session.
	s.Resume(testNow.Add(time.Second))
	sfs, err := flushAt(t, s, srv, testNow.Add(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	req := msgsOf(sfs, mt.MsgsStateReqTypeID)
	if len(req) != 1 || len(msgsOf(sfs, tg.MessagesSendMessageRequestTypeID)) != 0 {
		t.Fatal("want one msgs_state_req and no resent call")
	}
	var q mt.MsgsStateReq
	_ = q.Decode(&bin.Buffer{Buf: req[0].Body})
	if len(q.MsgIDs) != 3 || q.MsgIDs[0] != us[0].msg.ID {
		t.Fatalf("asked about %v", q.MsgIDs)
	}
	// Call 1 never arrived; call 2 is running; call 3's answer exists.
	info := mt.MsgsStateInfo{ReqMsgID: req[0].ID, Info: []byte{2, 4 + 32, 4 + 32 + 64}}
	rcv, err := s.Receive(testNow, srv.sendService(s, encode(t, &info)))
	if err != nil {
		t.Fatal(err)
	}
	if len(rcv.Events) != 1 || !slices.Equal(rcv.Events[0].(Resent).Calls, []CallID{1}) {
		t.Fatalf("%+v, want call 1 resent", rcv.Events)
	}
	sfs, _ = flushAt(t, s, srv, testNow.Add(time.Second))
	var sent []int64
	for _, sf := range sfs {
		for _, u := range srv.calls(sf) {
			if u.typeID == tg.MessagesSendMessageRequestTypeID {
				sent = append(sent, randomID(t, u.query))
			}
		}
	}
	if !slices.Equal(sent, []int64{1}) {
		t.Fatalf("resent %v, want call 1 alone", sent)
	}
	ans := msgsOf(sfs, msgResendAnsReqTypeID)
	if len(ans) != 1 {
		t.Fatal("no msg_resend_ans_req for call 3")
	}
	if s.InFlight() != 3 {
		t.Fatalf("in flight %d", s.InFlight())
	}
}

func TestStaleCallIsAskedAbout(t *testing.T) {
	s, srv := newPair(t, Config{})
	sendAndOpen(t, s, srv, calls(1, 1))
	// The connection stays alive (pongs), but the answer never comes.
	for sec := 5; sec < 30; sec += 5 {
		now := testNow.Add(time.Duration(sec) * time.Second)
		sfs, err := flushAt(t, s, srv, now)
		if err != nil {
			t.Fatal(err)
		}
		if len(msgsOf(sfs, mt.MsgsStateReqTypeID)) != 0 {
			t.Fatalf("asked at +%ds", sec)
		}
		for _, p := range msgsOf(sfs, mt.PingDelayDisconnectRequestTypeID) {
			srv.now = now
			if _, err := s.Receive(now, srv.sendService(s, encode(t, &mt.Pong{MsgID: p.ID}))); err != nil {
				t.Fatal(err)
			}
		}
	}
	sfs, _ := flushAt(t, s, srv, testNow.Add(30*time.Second))
	if len(msgsOf(sfs, mt.MsgsStateReqTypeID)) != 1 {
		t.Fatal("no msgs_state_req after StateReqAfter")
	}
}

func TestServerStateRequestAnswered(t *testing.T) {
	s, srv := newPair(t, Config{})
	got := srv.nextID(proto.MessageServerResponse)
	if _, err := s.Receive(testNow, srv.frame(s.ID(), got, 1, encode(t, &tg.UpdatesTooLong{}))); err != nil {
		t.Fatal(err)
	}
	never := got + 2 // an id between two we received
	req := encode(t, &mt.MsgsStateReq{MsgIDs: []int64{got, never, got + 1<<40}})
	if _, err := s.Receive(testNow, srv.send(s, req)); err != nil {
		t.Fatal(err)
	}
	sfs, _ := flushAt(t, s, srv, testNow)
	infos := msgsOf(sfs, mt.MsgsStateInfoTypeID)
	if len(infos) != 1 || infos[0].Seqno%2 != 0 {
		t.Fatal("want one msgs_state_info, not content-related")
	}
	var info mt.MsgsStateInfo
	_ = info.Decode(&bin.Buffer{Buf: infos[0].Body})
	if !slices.Equal(info.Info, []byte{12, 2, 3}) {
		t.Fatalf("info %v, want [12 2 3]", info.Info)
	}
}

func TestIgnoredStateRequestFallsBackToResend(t *testing.T) {
	s, srv := newPair(t, Config{})
	sendAndOpen(t, s, srv, calls(1, 2))
	s.Resume(testNow)
	s.Ping(9, 0)
	sfs, _ := flushAt(t, s, srv, testNow)
	ping := msgsOf(sfs, mt.PingRequestTypeID)
	if len(msgsOf(sfs, mt.MsgsStateReqTypeID)) != 1 || len(ping) != 1 {
		t.Fatal("want a state request and a ping")
	}
	// The server answers the ping but never the state request: once may
	// be a slow answer, so nothing yet.
	rcv, err := s.Receive(testNow, srv.sendService(s, encode(t, &mt.Pong{MsgID: ping[0].ID, PingID: 9})))
	if err != nil || len(rcv.Events) != 1 {
		t.Fatalf("%v %+v, want only the pong", err, rcv.Events)
	}
	s.Ping(10, 0)
	sfs, _ = flushAt(t, s, srv, testNow)
	ping = msgsOf(sfs, mt.PingRequestTypeID)
	rcv, err = s.Receive(testNow, srv.sendService(s, encode(t, &mt.Pong{MsgID: ping[0].ID, PingID: 10})))
	if err != nil {
		t.Fatal(err)
	}
	var resent []CallID
	for _, e := range rcv.Events {
		if r, ok := e.(Resent); ok {
			resent = append(resent, r.Calls...)
		}
	}
	slices.Sort(resent)
	if !slices.Equal(resent, []CallID{1, 2}) || s.Stats().StateReqIgnored != 1 {
		t.Fatalf("resent %v, stats %+v", resent, s.Stats())
	}
}

func TestCallWithoutRandomIDIsNeverSentTwice(t *testing.T) {
	s, srv := newPair(t, Config{})
	cs := calls(1, 3)
	cs[1].Resendable = false // a call the server cannot deduplicate
	sendAndOpen(t, s, srv, cs)
	// The session must start afresh (the server cannot resume it): the
	// resendable calls go again, the other may have run and is given up.
	ev, err := s.NewSession(ResendReconnect)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(ev.Calls)
	if !slices.Equal(ev.Calls, []CallID{1, 3}) {
		t.Fatalf("resent %v, want [1 3]", ev.Calls)
	}
	out, err := s.Flush(testNow)
	if err != nil {
		t.Fatal(err)
	}
	var mr *MaybeRanError
	if len(out.Failed) != 1 || out.Failed[0].Call != 2 || !errors.As(out.Failed[0].Err, &mr) {
		t.Fatalf("failed %+v, want call 2 with *MaybeRanError", out.Failed)
	}
	var sent []int64
	for _, f := range out.Frames {
		for _, u := range srv.calls(srv.open(f)) {
			if u.typeID == tg.MessagesSendMessageRequestTypeID {
				sent = append(sent, randomID(t, u.query))
			}
		}
	}
	slices.Sort(sent)
	if !slices.Equal(sent, []int64{1, 3}) {
		t.Fatalf("sent again %v, want [1 3]", sent)
	}
	// "Nothing known" in msgs_state_info is the same doubt.
	s2, srv2 := newPair(t, Config{})
	cs = calls(1, 2)
	cs[0].Resendable = false
	sendAndOpen(t, s2, srv2, cs)
	s2.Resume(testNow)
	sfs, _ := flushAt(t, s2, srv2, testNow)
	req := msgsOf(sfs, mt.MsgsStateReqTypeID)
	rcv, _ := s2.Receive(testNow, srv2.sendService(s2, encode(t, &mt.MsgsStateInfo{ReqMsgID: req[0].ID, Info: []byte{1, 1}})))
	var resent []CallID
	for _, e := range rcv.Events {
		resent = append(resent, e.(Resent).Calls...)
	}
	out, _ = s2.Flush(testNow)
	if !slices.Equal(resent, []CallID{2}) || len(out.Failed) != 1 || out.Failed[0].Call != 1 {
		t.Fatalf("resent %v, failed %+v: want 2 resent and 1 given up", resent, out.Failed)
	}
}

func TestAnswerThatNeverComesIsGivenUp(t *testing.T) {
	s, srv := newPair(t, Config{})
	cs := calls(1, 2)
	cs[1].Resendable = false
	sendAndOpen(t, s, srv, cs)
	var failed []Result
	var resent []CallID
	for round := range maxAnswerAsks + 1 {
		s.Resume(testNow)
		sfs, _ := flushAt(t, s, srv, testNow)
		req := msgsOf(sfs, mt.MsgsStateReqTypeID)
		if len(req) != 1 {
			t.Fatalf("round %d: no msgs_state_req", round+1)
		}
		// "Received, answered": but the answer never arrives.
		rcv, _ := s.Receive(testNow, srv.sendService(s, encode(t, &mt.MsgsStateInfo{ReqMsgID: req[0].ID, Info: []byte{4 + 32 + 64, 4 + 32 + 64}})))
		for _, e := range rcv.Events {
			resent = append(resent, e.(Resent).Calls...)
		}
		out, _ := s.Flush(testNow)
		failed = append(failed, out.Failed...)
		if round < maxAnswerAsks && (len(resent) > 0 || len(failed) > 0) {
			t.Fatalf("round %d: gave up too early", round+1)
		}
	}
	if !slices.Equal(resent, []CallID{1}) || len(failed) != 1 || failed[0].Call != 2 {
		t.Fatalf("resent %v failed %+v: want 1 resent (random_id) and 2 given up", resent, failed)
	}
}
