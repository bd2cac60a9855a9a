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
	"github.com/gotd/td/tgerr"

	"github.com/tlsched/tlsched/mtproto/spec"
)

// sendAndOpen packs calls and returns the frame as the server sees it.
func sendAndOpen(t *testing.T, s *Session, srv *fakeServer, cs []Call) sentFrame {
	t.Helper()
	out, err := s.Pack(testNow, cs)
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Frames) != 1 {
		t.Fatalf("%d frames", len(out.Frames))
	}
	return srv.open(out.Frames[0])
}

func flushOpen(t *testing.T, s *Session, srv *fakeServer) []sentFrame {
	t.Helper()
	out, err := s.Flush(testNow)
	if err != nil {
		t.Fatal(err)
	}
	var sfs []sentFrame
	for _, f := range out.Frames {
		sfs = append(sfs, srv.open(f))
	}
	return sfs
}

func resentRandomIDs(t *testing.T, srv *fakeServer, sfs []sentFrame) []int64 {
	var ids []int64
	for _, sf := range sfs {
		for _, u := range srv.calls(sf) {
			ids = append(ids, randomID(t, u.query))
		}
	}
	slices.Sort(ids)
	return ids
}

func TestResultsRoutedInContainerAndGzip(t *testing.T) {
	s, srv := newPair(t, Config{})
	sf := sendAndOpen(t, s, srv, calls(1, 3))
	us := srv.calls(sf)
	gz := encode(t, &proto.Result{RequestMessageID: us[1].msg.ID, Result: encode(t, proto.GZIP{Data: encode(t, sentOK(2))})})
	errBody := result(t, us[2].msg.ID, &mt.RPCError{ErrorCode: 420, ErrorMessage: "FLOOD_WAIT_7"})
	// The whole container gzip-packed, holding a gzip-packed result.
	inner := srv.container(result(t, us[0].msg.ID, sentOK(1)), gz, errBody)
	frame := srv.frame(s.ID(), srv.nextID(proto.MessageServerResponse), 0, encode(t, proto.GZIP{Data: inner}))
	evs, err := s.Receive(testNow, frame)
	if err != nil {
		t.Fatal(err)
	}
	rs := results(evs)
	if resultID(t, rs[1].Body) != 1 || resultID(t, rs[2].Body) != 2 {
		t.Fatalf("results misrouted: %+v", rs)
	}
	d, ok := tgerr.AsFloodWait(rs[3].Err)
	if !ok || d != 7*time.Second {
		t.Fatalf("call 3: want FLOOD_WAIT 7s, got %v", rs[3].Err)
	}
	if len(s.Unanswered()) != 0 || s.InFlight() != 0 {
		t.Fatalf("unanswered %v", s.Unanswered())
	}
	if st := s.Stats(); st.Results != 3 {
		t.Fatalf("stats %+v", st)
	}
}

func TestBadServerSaltResendsWholeContainer(t *testing.T) {
	s, srv := newPair(t, Config{})
	sf := sendAndOpen(t, s, srv, calls(1, 5))
	evs, err := s.Receive(testNow, srv.sendService(s, encode(t, &mt.BadServerSalt{BadMsgID: sf.MsgID, ErrorCode: spec.BadMsgServerSalt, NewServerSalt: 777})))
	if err != nil {
		t.Fatal(err)
	}
	if len(evs.Events) != 1 || evs.Events[0].(Resent).Reason != ResendBadSalt || len(evs.Events[0].(Resent).Calls) != 5 {
		t.Fatalf("events %+v", evs)
	}
	sfs := flushOpen(t, s, srv)
	if len(sfs) != 1 || sfs[0].Salt != 777 {
		t.Fatalf("resend must use the new salt: %+v", sfs)
	}
	if got := resentRandomIDs(t, srv, sfs); !slices.Equal(got, []int64{1, 2, 3, 4, 5}) {
		t.Fatalf("resent %v", got)
	}
	for _, m := range sfs[0].Msgs {
		if m.ID <= sf.MsgID {
			t.Fatalf("resend reuses an old msg_id: %d <= %d", m.ID, sf.MsgID)
		}
	}
	// Naming one inner message resends only that call.
	us := srv.calls(sfs[0])
	evs, _ = s.Receive(testNow, srv.sendService(s, encode(t, &mt.BadServerSalt{BadMsgID: us[2].msg.ID, ErrorCode: spec.BadMsgServerSalt, NewServerSalt: 778})))
	if r := evs.Events[0].(Resent); len(r.Calls) != 1 || r.Calls[0] != 3 {
		t.Fatalf("resent %+v", r)
	}
}

func TestBadMsgTimeSync(t *testing.T) {
	s, srv := newPair(t, Config{})
	srv.now = testNow.Add(2 * time.Hour) // server clock ahead
	sf := sendAndOpen(t, s, srv, calls(1, 2))
	evs, _ := s.Receive(testNow, srv.sendService(s, encode(t, &mt.BadMsgNotification{BadMsgID: sf.MsgID, ErrorCode: spec.BadMsgIDTooLow})))
	if r, ok := evs.Events[0].(Resent); !ok || r.Reason != ResendTimeSync || len(r.Calls) != 2 {
		t.Fatalf("events %+v", evs)
	}
	if off := s.TimeOffset(); off < 2*time.Hour-time.Second || off > 2*time.Hour+time.Second {
		t.Fatalf("offset %v", off)
	}
	sfs := flushOpen(t, s, srv)
	for _, m := range sfs[0].Msgs {
		if d := proto.MessageID(m.ID).Time().Sub(srv.now); d < -2*time.Second || d > 2*time.Second {
			t.Fatalf("resent msg_id is %v off server time", d)
		}
	}
}

func TestBadMsgTimeTooHighStartsFreshSession(t *testing.T) {
	s, srv := newPair(t, Config{})
	srv.now = testNow.Add(-time.Hour) // server clock behind
	sf := sendAndOpen(t, s, srv, calls(1, 2))
	old := s.ID()
	evs, _ := s.Receive(testNow, srv.sendService(s, encode(t, &mt.BadMsgNotification{BadMsgID: sf.MsgID, ErrorCode: spec.BadMsgIDTooHigh})))
	if s.ID() == old {
		t.Fatal("msg_ids cannot go back within a session: want a fresh session")
	}
	if r := evs.Events[0].(Resent); len(r.Calls) != 2 {
		t.Fatalf("events %+v", evs)
	}
	sfs := flushOpen(t, s, srv)
	if sfs[0].SessionID != s.ID() || sfs[0].Msgs[0].Seqno != 1 {
		t.Fatalf("fresh session must restart seqno: %+v", sfs[0])
	}
	if d := proto.MessageID(sfs[0].MsgID).Time().Sub(srv.now); d < -2*time.Second || d > 2*time.Second {
		t.Fatalf("msg_id %v off server time", d)
	}
}

func TestBadMsgSeqnoShiftsThenStartsFreshSession(t *testing.T) {
	for _, code := range []int{spec.BadMsgSeqNoLow, spec.BadMsgSeqNoHigh} {
		s, srv := newPair(t, Config{})
		sf := sendAndOpen(t, s, srv, calls(1, 3))
		old := s.ID()
		// The first notifications keep the session (and the answers the
		// server owes it): only the named call goes again, with a seqno
		// moved as Telethon moves it.
		for i := range seqnoShiftLimit {
			evs, _ := s.Receive(testNow, srv.sendService(s, encode(t, &mt.BadMsgNotification{BadMsgID: sf.Msgs[1].ID, ErrorCode: code})))
			if s.ID() != old {
				t.Fatalf("code %d: session dropped at notification %d", code, i+1)
			}
			if r := evs.Events[0].(Resent); r.Reason != ResendSeqno || !slices.Equal(r.Calls, []CallID{2}) {
				t.Fatalf("code %d: %+v", code, evs)
			}
			sfs := flushOpen(t, s, srv)
			if got := resentRandomIDs(t, srv, sfs); !slices.Equal(got, []int64{2}) {
				t.Fatalf("resent %v", got)
			}
			sf = sfs[0]
			sf.Msgs = append([]inMsg{{}}, sf.Msgs...) // keep index 1 the call
		}
		// Guessing did not help: a fresh session, everything resent.
		evs, _ := s.Receive(testNow, srv.sendService(s, encode(t, &mt.BadMsgNotification{BadMsgID: sf.Msgs[1].ID, ErrorCode: code})))
		if s.ID() == old {
			t.Fatalf("code %d: session kept after %d shifts", code, seqnoShiftLimit)
		}
		if r := evs.Events[0].(Resent); r.Reason != ResendSeqno || len(r.Calls) != 3 {
			t.Fatalf("code %d: %+v", code, evs)
		}
		sfs := flushOpen(t, s, srv)
		if got := resentRandomIDs(t, srv, sfs); !slices.Equal(got, []int64{1, 2, 3}) {
			t.Fatalf("resent %v", got)
		}
		if !srv.calls(sfs[0])[0].init {
			t.Fatal("fresh session must send initConnection again")
		}
	}
}

func TestBadMsgFatalCodesFailCalls(t *testing.T) {
	for _, code := range []int{spec.BadMsgIDNotDivisible, spec.BadMsgSeqNoEvenWanted, spec.BadMsgSeqNoOddWanted, spec.BadMsgInvalidContainer} {
		s, srv := newPair(t, Config{})
		sf := sendAndOpen(t, s, srv, calls(1, 3))
		evs, _ := s.Receive(testNow, srv.sendService(s, encode(t, &mt.BadMsgNotification{BadMsgID: sf.MsgID, ErrorCode: code})))
		rs := results(evs)
		if len(rs) != 3 {
			t.Fatalf("code %d: %+v", code, evs)
		}
		var bm *BadMsgError
		if !errors.As(rs[2].Err, &bm) || bm.Code != code {
			t.Fatalf("code %d: err %v", code, rs[2].Err)
		}
		if len(s.Unanswered()) != 0 {
			t.Fatal("failed calls still pending")
		}
	}
}

func TestBadMsgResendCodes(t *testing.T) {
	for code, reason := range map[int]ResendReason{spec.BadMsgContainerIDDup: ResendDuplicateID, spec.BadMsgTooOld: ResendTooOld} {
		s, srv := newPair(t, Config{})
		sf := sendAndOpen(t, s, srv, calls(1, 2))
		evs, _ := s.Receive(testNow, srv.sendService(s, encode(t, &mt.BadMsgNotification{BadMsgID: sf.MsgID, ErrorCode: code})))
		if r := evs.Events[0].(Resent); r.Reason != reason || len(r.Calls) != 2 {
			t.Fatalf("code %d: %+v", code, evs)
		}
	}
}

func TestNewSessionCreated(t *testing.T) {
	s, srv := newPair(t, Config{MaxMessages: 2})
	out, _ := s.Pack(testNow, calls(1, 6)) // three frames of two
	f := []sentFrame{srv.open(out.Frames[0]), srv.open(out.Frames[1]), srv.open(out.Frames[2])}
	// The server's new session began with the second frame: the first is lost.
	evs, _ := s.Receive(testNow, srv.sendService(s, encode(t, &mt.NewSessionCreated{FirstMsgID: f[1].MsgID, UniqueID: 9, ServerSalt: 555})))
	if s.Salt() != 555 {
		t.Fatal("salt not stored")
	}
	var resent []CallID
	for _, e := range evs.Events {
		if r, ok := e.(Resent); ok {
			resent = r.Calls
		}
	}
	slices.Sort(resent)
	if !slices.Equal(resent, []CallID{1, 2}) {
		t.Fatalf("resent %v, want the first frame's calls", resent)
	}
	// An id we never sent: nothing to compare with, nothing resent.
	evs, _ = s.Receive(testNow, srv.sendService(s, encode(t, &mt.NewSessionCreated{FirstMsgID: 12345, ServerSalt: 556})))
	if len(evs.Events) != 1 {
		t.Fatalf("events %+v", evs)
	}
}

func TestServerResendReqAndDetailedInfo(t *testing.T) {
	s, srv := newPair(t, Config{})
	sf := sendAndOpen(t, s, srv, calls(1, 3))
	us := srv.calls(sf)
	evs, _ := s.Receive(testNow, srv.sendService(s, encode(t, &mt.MsgResendReq{MsgIDs: []int64{us[1].msg.ID}})))
	if r := evs.Events[0].(Resent); r.Reason != ResendServerRequest || !slices.Equal(r.Calls, []CallID{2}) {
		t.Fatalf("%+v", evs)
	}
	// msg_detailed_info for an unanswered call: ask for the answer.
	s.Receive(testNow, srv.sendService(s, encode(t, &mt.MsgDetailedInfo{MsgID: us[0].msg.ID, AnswerMsgID: 999, Bytes: 10})))
	// ... and for an answered one: acknowledge it.
	s.Receive(testNow, srv.send(s, result(t, us[2].msg.ID, sentOK(3))))
	s.Receive(testNow, srv.sendService(s, encode(t, &mt.MsgDetailedInfo{MsgID: us[2].msg.ID, AnswerMsgID: 1001, Bytes: 10})))
	sfs := flushOpen(t, s, srv)
	var acked, asked []int64
	for _, m := range sfs[0].Msgs {
		b := &bin.Buffer{Buf: m.Body}
		id, _ := b.PeekID()
		switch id {
		case mt.MsgsAckTypeID:
			var a mt.MsgsAck
			_ = a.Decode(b)
			acked = a.MsgIDs
		case mt.MsgResendReqTypeID:
			var r mt.MsgResendReq
			_ = r.Decode(b)
			asked = r.MsgIDs
		}
	}
	if !slices.Equal(asked, []int64{999}) || !slices.Contains(acked, 1001) {
		t.Fatalf("asked %v acked %v", asked, acked)
	}
}

func TestServerAcksMarkCalls(t *testing.T) {
	s, srv := newPair(t, Config{MaxMessages: 3})
	cs := calls(1, 3)
	for i := range cs {
		cs[i].Resendable = false
	}
	sf := sendAndOpen(t, s, srv, cs)
	us := srv.calls(sf)
	s.Receive(testNow, srv.sendService(s, encode(t, &mt.MsgsAck{MsgIDs: []int64{us[0].msg.ID, us[2].msg.ID}})))
	// The server lost the session after the frame: the acknowledged calls
	// may have run and are given up; the other goes again.
	later := sendAndOpen(t, s, srv, calls(4, 1))
	rcv, _ := s.Receive(testNow, srv.sendService(s, encode(t, &mt.NewSessionCreated{FirstMsgID: later.MsgID, ServerSalt: 1})))
	var resent []CallID
	for _, e := range rcv.Events {
		if r, ok := e.(Resent); ok {
			resent = append(resent, r.Calls...)
		}
	}
	out, _ := s.Flush(testNow)
	var failed []CallID
	for _, r := range out.Failed {
		failed = append(failed, r.Call)
	}
	slices.Sort(failed)
	if !slices.Equal(resent, []CallID{2}) || !slices.Equal(failed, []CallID{1, 3}) {
		t.Fatalf("resent %v, failed %v: want 2 resent, 1 and 3 given up", resent, failed)
	}
}

func TestPingPongAndFutureSalts(t *testing.T) {
	s, srv := newPair(t, Config{})
	s.Ping(42, 75*time.Second)
	s.RequestFutureSalts(2)
	sfs := flushOpen(t, s, srv)
	var pingMsg, saltsMsg int64
	for _, m := range sfs[0].Msgs {
		id, _ := (&bin.Buffer{Buf: m.Body}).PeekID()
		switch id {
		case mt.PingDelayDisconnectRequestTypeID:
			pingMsg = m.ID
		case mt.GetFutureSaltsRequestTypeID:
			saltsMsg = m.ID
		}
	}
	if pingMsg == 0 || saltsMsg == 0 {
		t.Fatal("ping or get_future_salts not sent")
	}
	later := testNow.Add(30 * time.Millisecond)
	now := int(testNow.Unix())
	body := srv.container(
		encode(t, &mt.Pong{MsgID: pingMsg, PingID: 42}),
		encode(t, &mt.FutureSalts{ReqMsgID: saltsMsg, Now: now, Salts: []mt.FutureSalt{
			{ValidSince: now - 10, ValidUntil: now + 10, Salt: 1001},
			{ValidSince: now + 10, ValidUntil: now + 3600, Salt: 1002},
		}}))
	evs, err := s.Receive(later, srv.frame(s.ID(), srv.nextID(proto.MessageServerResponse), 0, body))
	if err != nil {
		t.Fatal(err)
	}
	if p, ok := evs.Events[0].(Pong); !ok || p.PingID != 42 || p.RTT != 30*time.Millisecond {
		t.Fatalf("%+v", evs)
	}
	if sf := sendAndOpen(t, s, srv, calls(1, 1)); sf.Salt != 1001 {
		t.Fatalf("salt %d, want the valid future salt", sf.Salt)
	}
	out, _ := s.Pack(testNow.Add(20*time.Second), calls(2, 1))
	if sf := srv.open(out.Frames[0]); sf.Salt != 1002 {
		t.Fatalf("salt %d after rotation, want 1002", sf.Salt)
	}
}

func TestUpdatesAndUnknownResults(t *testing.T) {
	s, srv := newPair(t, Config{})
	evs, err := s.Receive(testNow, srv.send(s, encode(t, &tg.UpdatesTooLong{})))
	if err != nil || len(evs.Events) != 1 {
		t.Fatalf("%v %+v", err, evs)
	}
	if _, ok := evs.Events[0].(Update); !ok {
		t.Fatalf("%+v", evs)
	}
	evs, err = s.Receive(testNow, srv.send(s, result(t, 123456, sentOK(1))))
	if err != nil || len(evs.Results)+len(evs.Events) != 0 || s.Stats().UnknownResults != 1 {
		t.Fatalf("unknown result: %v %+v %+v", err, evs, s.Stats())
	}
}

func TestReceiveRejectsBadFrames(t *testing.T) {
	s, srv := newPair(t, Config{})
	good := srv.send(s, encode(t, &tg.UpdatesTooLong{}))

	corrupt := slices.Clone(good)
	corrupt[len(corrupt)-1] ^= 0xff
	if _, err := s.Receive(testNow, corrupt); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("corrupt: %v", err)
	}
	if _, err := s.Receive(testNow, good[:10]); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("short: %v", err)
	}
	other := srv.frame(s.ID()+1, srv.nextID(proto.MessageServerResponse), 1, encode(t, &tg.UpdatesTooLong{}))
	if _, err := s.Receive(testNow, other); !errors.Is(err, ErrWrongSession) {
		t.Fatalf("other session: %v", err)
	}
	if _, err := s.Receive(testNow, good); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Receive(testNow, good); !errors.Is(err, ErrReplay) {
		t.Fatalf("replay: %v", err)
	}
}

func TestTruncatedContainerKeepsWhatDecoded(t *testing.T) {
	s, srv := newPair(t, Config{})
	sf := sendAndOpen(t, s, srv, calls(1, 2))
	us := srv.calls(sf)
	body := srv.container(result(t, us[0].msg.ID, sentOK(1)), result(t, us[1].msg.ID, sentOK(2)))
	body = body[:len(body)-12] // cut into the second message
	evs, err := s.Receive(testNow, srv.frame(s.ID(), srv.nextID(proto.MessageServerResponse), 0, body))
	var me *MalformedError
	if !errors.As(err, &me) {
		t.Fatalf("want MalformedError, got %v", err)
	}
	if rs := results(evs); len(rs) != 1 || resultID(t, rs[1].Body) != 1 {
		t.Fatalf("results %+v", evs)
	}
	if u := s.Unanswered(); !slices.Equal(u, []CallID{2}) {
		t.Fatalf("call 2 must stay unanswered, got %v", u)
	}
}

func TestNewSessionResendsEverything(t *testing.T) {
	s, srv := newPair(t, Config{})
	sf := sendAndOpen(t, s, srv, calls(1, 4))
	us := srv.calls(sf)
	s.Receive(testNow, srv.send(s, result(t, us[1].msg.ID, sentOK(2))))
	old := s.ID()
	r, err := s.NewSession(ResendReconnect)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(r.Calls)
	if !slices.Equal(r.Calls, []CallID{1, 3, 4}) || s.ID() == old {
		t.Fatalf("resent %v", r.Calls)
	}
	// A late answer on the old session is not ours any more.
	if _, err := s.Receive(testNow, srv.frame(old, srv.nextID(proto.MessageServerResponse), 1, result(t, us[0].msg.ID, sentOK(1)))); !errors.Is(err, ErrWrongSession) {
		t.Fatalf("old session frame: %v", err)
	}
	if s.Cancel(3) != true || s.Cancel(3) != false {
		t.Fatal("cancel")
	}
	sfs := flushOpen(t, s, srv)
	if got := resentRandomIDs(t, srv, sfs); !slices.Equal(got, []int64{1, 4}) {
		t.Fatalf("resent %v", got)
	}
}
