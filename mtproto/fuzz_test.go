package mtproto

import (
	"testing"

	"github.com/gotd/td/mt"
	"github.com/gotd/td/proto"
	"github.com/gotd/td/tg"

	"github.com/tlsched/tlsched/mtproto/spec"
)

// fuzzSession is a session with three calls in flight, in a deterministic
// state (fixed clock and random source), so seeds can name its msg_ids.
func fuzzSession(t testing.TB) (*Session, *fakeServer, []int64) {
	s, srv := newPair(t, Config{})
	out, err := s.Pack(testNow, calls(1, 3))
	if err != nil {
		t.Fatal(err)
	}
	sf := srv.open(out.Frames[0])
	ids := []int64{sf.MsgID}
	for _, m := range sf.Msgs {
		ids = append(ids, m.ID)
	}
	return s, srv, ids
}

// FuzzReceive feeds the receive path. With encrypt set, the input is the
// plaintext of a server message, encrypted properly so the decoders behind
// decryption are reached; otherwise it is a raw frame. The seeds below run in
// every `go test`; `go test -fuzz=FuzzReceive ./mtproto` explores further.
func FuzzReceive(f *testing.F) {
	_, srv, ids := fuzzSession(f)
	frame, c1, c2, c3 := ids[0], ids[1], ids[2], ids[3]
	seeds := [][]byte{
		srv.container(result(f, c1, sentOK(1)), result(f, c2, sentOK(2))),
		encode(f, &proto.Result{RequestMessageID: c3, Result: encode(f, proto.GZIP{Data: encode(f, sentOK(3))})}),
		encode(f, proto.GZIP{Data: srv.container(result(f, c1, &mt.RPCError{ErrorCode: 420, ErrorMessage: "FLOOD_WAIT_3"}))}),
		encode(f, &mt.BadServerSalt{BadMsgID: frame, ErrorCode: spec.BadMsgServerSalt, NewServerSalt: 9}),
		encode(f, &mt.BadMsgNotification{BadMsgID: frame, ErrorCode: spec.BadMsgIDTooLow}),
		encode(f, &mt.BadMsgNotification{BadMsgID: c2, ErrorCode: spec.BadMsgSeqNoLow}),
		encode(f, &mt.BadMsgNotification{BadMsgID: c1, ErrorCode: spec.BadMsgInvalidContainer}),
		encode(f, &mt.NewSessionCreated{FirstMsgID: c2, ServerSalt: 5}),
		encode(f, &mt.MsgDetailedInfo{MsgID: c1, AnswerMsgID: 77}),
		encode(f, &mt.MsgResendReq{MsgIDs: []int64{c1, c3}}),
		encode(f, &mt.MsgsAck{MsgIDs: []int64{c1}}),
		encode(f, &mt.FutureSalts{ReqMsgID: 1, Salts: []mt.FutureSalt{{ValidSince: 1, ValidUntil: 2, Salt: 3}}}),
		encode(f, &tg.UpdatesTooLong{}),
		srv.container(result(f, c1, sentOK(1)), srv.container(result(f, c2, sentOK(2)))),                      // nested container
		srv.container(result(f, c1, sentOK(1)))[:30],                                                          // truncated
		encode(f, &proto.Result{RequestMessageID: c1, Result: []byte{0xa1, 0xcf, 0x72, 0x30, 4, 1, 2, 3, 4}}), // broken gzip
		{},
	}
	for _, s := range seeds {
		f.Add(s, true)
	}
	f.Add(srv.frame(0, 1, 1, seeds[0]), false)
	f.Add([]byte{1, 2, 3}, false)

	f.Fuzz(func(t *testing.T, data []byte, encrypt bool) {
		s, srv, _ := fuzzSession(t)
		in := data
		if encrypt {
			if len(data)%4 != 0 {
				// MTProto payloads are whole 32-bit words.
				data = append(data, make([]byte, 4-len(data)%4)...)
			}
			in = srv.frame(s.ID(), srv.nextID(proto.MessageServerResponse), 1, data)
		}
		evs, _ := s.Receive(testNow, in)

		// Every call is answered once or still unanswered, never both.
		answered := map[CallID]int{}
		for _, r := range evs.Results {
			answered[r.Call]++
		}
		pending := map[CallID]bool{}
		for _, id := range s.Unanswered() {
			pending[id] = true
		}
		for id := CallID(1); id <= 3; id++ {
			n := answered[id]
			if n > 1 || (n == 1) == pending[id] {
				t.Fatalf("call %d: answered %d times, pending %v", id, n, pending[id])
			}
		}
		// The session keeps working.
		if _, err := s.Flush(testNow); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Pack(testNow, calls(10, 2)); err != nil {
			t.Fatal(err)
		}
	})
}
