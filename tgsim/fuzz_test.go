package tgsim

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/binary"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/gotd/td/bin"
	"github.com/gotd/td/crypto"
	"github.com/gotd/td/mt"
	"github.com/gotd/td/proto"
	"github.com/gotd/td/tg"
	"github.com/gotd/td/transport"
)

var (
	fuzzKeyOnce sync.Once
	fuzzRSA     *rsa.PrivateKey
)

// fuzzTarget is a server with one DC, one auth key and one connection whose
// far end discards what it is sent, so frames can be fed to the reader's
// path directly.
type fuzzTarget struct {
	srv  *Server
	conn *conn
	key  *authKey
	cl   crypto.Cipher
	far  net.Conn
}

func newFuzzTarget(t testing.TB) *fuzzTarget {
	fuzzKeyOnce.Do(func() {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		fuzzRSA = k
	})
	srv, err := Start(Config{
		DCs: []int{1}, Key: fuzzRSA, Latency: NoLatency, WaitTimeout: time.Millisecond,
		World: WorldConfig{Users: 5, Groups: 1, Megagroups: 1, Channels: 1},
	})
	if err != nil {
		t.Fatal(err)
	}
	var ak crypto.AuthKey
	_, _ = io.ReadFull(rand.Reader, ak.Value[:])
	ak = ak.Value.WithID()
	k := srv.dcs[0].addKey(ak, 42)
	ft := &fuzzTarget{srv: srv, key: k, cl: crypto.NewClientCipher(rand.Reader)}
	ft.reconnect(t)
	t.Cleanup(func() {
		ft.conn.close()
		ft.far.Close()
		srv.Close()
	})
	return ft
}

func (f *fuzzTarget) reconnect(t testing.TB) {
	if f.conn != nil {
		f.conn.close()
		f.far.Close()
	}
	near, far := net.Pipe()
	go func() { _, _ = io.Copy(io.Discard, far) }()
	tc, err := transport.Intermediate.Handshake(near)
	if err != nil {
		t.Fatal(err)
	}
	f.conn = newConn(f.srv.dcs[0], near)
	f.conn.tc = tc
	f.far = far
}

// feed hands body to the session as the plaintext of one frame with a valid
// salt and msg_id, flushes what the server queued, and checks the session
// is sane.
func (f *fuzzTarget) feed(t testing.TB, seqno int32, body []byte) {
	now := f.srv.now()
	id := int64(proto.NewMessageID(now, proto.MessageFromClient))
	s := f.key.session(1, f.conn)
	s.receive(f.conn, f.srv.currentSalt(f.key, now), id, seqno, body)
	if err := s.flush(f.conn, flushAll); err != nil {
		select {
		case <-f.conn.done: // ping_delay_disconnect closed it: reconnect
			f.reconnect(t)
			return
		default:
			t.Fatalf("flush: %v", err)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.outq) != 0 {
		t.Fatalf("%d messages left queued after a flush", len(s.outq))
	}
}

// frame encrypts body as a client would and hands it to the frame path.
func (f *fuzzTarget) frame(t testing.TB, body []byte) {
	now := f.srv.now()
	var b bin.Buffer
	err := f.cl.Encrypt(f.key.key, crypto.EncryptedMessageData{
		Salt: f.srv.currentSalt(f.key, now), SessionID: 2,
		MessageID: int64(proto.NewMessageID(now, proto.MessageFromClient)), SeqNo: 1,
		MessageDataLen: int32(len(body)), MessageDataWithPadding: body,
	}, &b)
	if err != nil {
		return
	}
	f.conn.frame(b.Buf)
}

func fuzzSeeds(f *testing.F) {
	enc := func(v bin.Encoder) []byte {
		var b bin.Buffer
		_ = v.Encode(&b)
		return b.Buf
	}
	wrapped := enc(&tg.InvokeWithLayerRequest{Layer: tg.Layer, Query: &tg.InitConnectionRequest{
		APIID: 1, DeviceModel: "d", SystemVersion: "s", AppVersion: "a", SystemLangCode: "en", LangCode: "en",
		Query: &tg.HelpGetConfigRequest{},
	}})
	send := enc(&tg.MessagesSendMessageRequest{Peer: &tg.InputPeerSelf{}, Message: "hi", RandomID: 7})
	cont := proto.MessageContainer{Messages: []proto.Message{
		{ID: 4, SeqNo: 1, Bytes: len(wrapped), Body: wrapped},
		{ID: 8, SeqNo: 3, Bytes: len(send), Body: send},
	}}
	var gz bin.Buffer
	_ = proto.GZIP{Data: send}.Encode(&gz)
	for _, seed := range [][]byte{
		wrapped, send, enc(&cont), gz.Buf,
		enc(&tg.InvokeAfterMsgRequest{MsgID: 4, Query: &tg.HelpGetNearestDCRequest{}}),
		enc(&tg.InvokeAfterMsgsRequest{MsgIDs: []int64{4, 8}, Query: &tg.UpdatesGetStateRequest{}}),
		enc(&mt.MsgsAck{MsgIDs: []int64{1, 2}}), enc(&mt.PingRequest{PingID: 1}),
		enc(&mt.PingDelayDisconnectRequest{PingID: 1, DisconnectDelay: 75}),
		enc(&mt.GetFutureSaltsRequest{Num: 70}), enc(&mt.MsgResendReq{MsgIDs: []int64{5}}),
		enc(&mt.MsgsStateReq{MsgIDs: []int64{4, 8}}), enc(&mt.RPCDropAnswerRequest{ReqMsgID: 4}),
		enc(&mt.DestroySessionRequest{SessionID: 9}),
		enc(&tg.ContactsResolveUsernameRequest{Username: "user1"}),
		enc(&tg.MessagesGetHistoryRequest{Peer: &tg.InputPeerSelf{}, Limit: 5}),
		enc(&tg.UsersGetUsersRequest{ID: []tg.InputUserClass{&tg.InputUserSelf{}, &tg.InputUser{UserID: 1000001, AccessHash: 1}}}),
		{0x0d, 0xf0, 0xad, 0x0b}, {},
	} {
		f.Add(int32(1), seed)
	}
}

// FuzzSession feeds arbitrary plaintext to the server session (containers,
// gzip, service messages, wrappers, the world's methods) and arbitrary
// plaintext through the encrypted frame path. The server must never panic
// and must keep serving.
func FuzzSession(f *testing.F) {
	fuzzSeeds(f)
	ft := newFuzzTarget(f)
	ft.feed(f, 1, fuzzInit())
	f.Fuzz(func(t *testing.T, seqno int32, body []byte) {
		ft.feed(t, seqno, body)
		ft.frame(t, body)
		// Raw bytes under the known key id: they must not decrypt, and the
		// connection is told to close (frame returns false), not crash.
		raw := append(append([]byte(nil), ft.key.key.ID[:]...), body...)
		if len(raw) >= 8+16+16 && binary.LittleEndian.Uint32(raw[8:]) != 0 {
			ft.conn.frame(raw)
		}
	})
}

func fuzzInit() []byte {
	var b bin.Buffer
	_ = (&tg.InvokeWithLayerRequest{Layer: tg.Layer, Query: &tg.InitConnectionRequest{
		APIID: 1, DeviceModel: "d", SystemVersion: "s", AppVersion: "a", SystemLangCode: "en", LangCode: "en",
		Query: &tg.HelpGetConfigRequest{},
	}}).Encode(&b)
	return b.Buf
}
