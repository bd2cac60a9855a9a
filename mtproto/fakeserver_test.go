package mtproto

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/gotd/td/bin"
	"github.com/gotd/td/crypto"
	"github.com/gotd/td/mt"
	"github.com/gotd/td/proto"
	"github.com/gotd/td/tg"
)

// fakeServer is the server side of a session for pure tests: it decrypts what
// the session packs and encrypts what a server would answer, with gotd's
// server cipher. No sockets.
type fakeServer struct {
	t      testing.TB
	key    crypto.AuthKey
	cipher crypto.Cipher
	now    time.Time
	lastID int64
}

// seqRand is a deterministic io.Reader for reproducible tests.
type seqRand struct{ r *rand.ChaCha8 }

func newSeqRand(seed byte) *seqRand {
	var s [32]byte
	s[0] = seed
	return &seqRand{r: rand.NewChaCha8(s)}
}

func (s *seqRand) Read(p []byte) (int, error) { return s.r.Read(p) }

var testNow = time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)

func newTestKey(seed byte) crypto.AuthKey {
	var k crypto.Key
	_, _ = newSeqRand(seed).Read(k[:])
	return k.WithID()
}

func newPair(t testing.TB, cfg Config) (*Session, *fakeServer) {
	t.Helper()
	key := newTestKey(1)
	if cfg.Rand == nil {
		cfg.Rand = newSeqRand(2)
	}
	s, err := New(cfg, key, 100)
	if err != nil {
		t.Fatal(err)
	}
	return s, &fakeServer{t: t, key: key, cipher: crypto.NewServerCipher(newSeqRand(3)), now: testNow}
}

// inMsg is one message as the server saw it.
type inMsg struct {
	ID      int64
	Seqno   int32
	Body    []byte
	FrameID int64
}

// sentFrame is a decrypted client frame.
type sentFrame struct {
	Salt      int64
	SessionID int64
	MsgID     int64
	Seqno     int32
	Container bool
	Msgs      []inMsg
}

func (f *fakeServer) open(fr Frame) sentFrame {
	f.t.Helper()
	data, err := f.cipher.DecryptFromBuffer(f.key, &bin.Buffer{Buf: fr.Data})
	if err != nil {
		f.t.Fatalf("server cannot decrypt frame: %v", err)
	}
	out := sentFrame{Salt: data.Salt, SessionID: data.SessionID, MsgID: data.MessageID, Seqno: data.SeqNo}
	body := data.Data()
	b := &bin.Buffer{Buf: body}
	if id, _ := b.PeekID(); id == proto.MessageContainerTypeID {
		var c proto.MessageContainer
		if err := c.Decode(b); err != nil {
			f.t.Fatalf("decode container: %v", err)
		}
		out.Container = true
		for _, m := range c.Messages {
			out.Msgs = append(out.Msgs, inMsg{ID: m.ID, Seqno: int32(m.SeqNo), Body: m.Body, FrameID: data.MessageID})
		}
		return out
	}
	out.Msgs = []inMsg{{ID: data.MessageID, Seqno: data.SeqNo, Body: append([]byte(nil), body...), FrameID: data.MessageID}}
	return out
}

// calls returns the content messages that carry calls (not acks), unwrapped.
func (f *fakeServer) calls(sf sentFrame) []unwrapped {
	var out []unwrapped
	for _, m := range sf.Msgs {
		u := unwrap(f.t, m.Body)
		if u.typeID == mt.MsgsAckTypeID || u.typeID == mt.MsgResendReqTypeID {
			continue
		}
		u.msg = m
		out = append(out, u)
	}
	return out
}

type unwrapped struct {
	msg    inMsg
	after  int64
	init   bool
	layer  int
	typeID uint32
	query  []byte
}

type peekObject struct{ id uint32 }

func (p *peekObject) Decode(b *bin.Buffer) error {
	id, err := b.PeekID()
	p.id = id
	return err
}
func (p *peekObject) Encode(*bin.Buffer) error { panic("encode-only") }

// unwrap removes invokeAfterMsg, invokeWithLayer and initConnection, as a
// server does, checking that invokeAfterMsg is the outermost.
func unwrap(t testing.TB, body []byte) unwrapped {
	t.Helper()
	b := &bin.Buffer{Buf: body}
	var u unwrapped
	for depth := 0; ; depth++ {
		var p peekObject
		id, err := b.PeekID()
		if err != nil {
			t.Fatalf("peek: %v", err)
		}
		switch id {
		case tg.InvokeAfterMsgRequestTypeID:
			if depth != 0 {
				t.Fatalf("invokeAfterMsg at depth %d, must be outermost", depth)
			}
			r := tg.InvokeAfterMsgRequest{Query: &p}
			if err := r.Decode(b); err != nil {
				t.Fatal(err)
			}
			u.after = r.MsgID
		case tg.InvokeWithLayerRequestTypeID:
			r := tg.InvokeWithLayerRequest{Query: &p}
			if err := r.Decode(b); err != nil {
				t.Fatal(err)
			}
			u.layer = r.Layer
		case tg.InitConnectionRequestTypeID:
			r := tg.InitConnectionRequest{Query: &p}
			if err := r.Decode(b); err != nil {
				t.Fatal(err)
			}
			u.init = true
		default:
			u.typeID = id
			u.query = b.Buf
			return u
		}
	}
}

func (f *fakeServer) nextID(typ proto.MessageType) int64 {
	id := int64(proto.NewMessageID(f.now, typ))
	if id <= f.lastID {
		id = f.lastID + 4
	}
	f.lastID = id
	return id
}

// frame encrypts a server message with the given seqno.
func (f *fakeServer) frame(sessionID int64, msgID int64, seqno int32, body []byte) []byte {
	f.t.Helper()
	var b bin.Buffer
	err := f.cipher.Encrypt(f.key, crypto.EncryptedMessageData{
		Salt:                   100,
		SessionID:              sessionID,
		MessageID:              msgID,
		SeqNo:                  seqno,
		MessageDataLen:         int32(len(body)),
		MessageDataWithPadding: body,
	}, &b)
	if err != nil {
		f.t.Fatal(err)
	}
	return b.Buf
}

func encode(t testing.TB, e bin.Encoder) []byte {
	t.Helper()
	var b bin.Buffer
	if err := e.Encode(&b); err != nil {
		t.Fatal(err)
	}
	return b.Buf
}

// result encodes rpc_result for reqMsgID.
func result(t testing.TB, reqMsgID int64, obj bin.Encoder) []byte {
	return encode(t, &proto.Result{RequestMessageID: reqMsgID, Result: encode(t, obj)})
}

// container encodes msg_container of server messages with odd seqnos.
func (f *fakeServer) container(bodies ...[]byte) []byte {
	var b bin.Buffer
	b.PutID(proto.MessageContainerTypeID)
	b.PutInt(len(bodies))
	for i, body := range bodies {
		b.PutLong(f.nextID(proto.MessageServerResponse))
		b.PutInt(2*i + 1)
		b.PutInt(len(body))
		b.Put(body)
	}
	return b.Buf
}

// send is a server message as one frame (content: odd seqno).
func (f *fakeServer) send(s *Session, body []byte) []byte {
	return f.frame(s.ID(), f.nextID(proto.MessageServerResponse), 1, body)
}

func (f *fakeServer) sendService(s *Session, body []byte) []byte {
	return f.frame(s.ID(), f.nextID(proto.MessageFromServer), 0, body)
}

func sendMsg(id int64) *tg.MessagesSendMessageRequest {
	return &tg.MessagesSendMessageRequest{Peer: &tg.InputPeerSelf{}, Message: "hi", RandomID: id}
}

func calls(from, n int) []Call {
	out := make([]Call, n)
	for i := range out {
		id := from + i
		out[i] = Call{ID: CallID(id), Body: sendMsg(int64(id)), Resendable: true} // random_id
	}
	return out
}

func randomID(t testing.TB, query []byte) int64 {
	t.Helper()
	var r tg.MessagesSendMessageRequest
	if err := r.Decode(&bin.Buffer{Buf: query}); err != nil {
		t.Fatalf("decode sendMessage: %v", err)
	}
	return r.RandomID
}

func sentOK(id int64) *tg.UpdateShortSentMessage {
	return &tg.UpdateShortSentMessage{ID: int(id), Date: 1}
}

func resultID(t testing.TB, body []byte) int {
	t.Helper()
	var u tg.UpdateShortSentMessage
	if err := u.Decode(&bin.Buffer{Buf: body}); err != nil {
		t.Fatalf("decode result: %v", err)
	}
	return u.ID
}

func results(rcv Received) map[CallID]Result {
	out := map[CallID]Result{}
	for _, r := range rcv.Results {
		out[r.Call] = r
	}
	return out
}
