package tgsim_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/gotd/td/bin"
	"github.com/gotd/td/crypto"
	"github.com/gotd/td/exchange"
	"github.com/gotd/td/mt"
	"github.com/gotd/td/proto"
	"github.com/gotd/td/proto/codec"
	"github.com/gotd/td/tg"

	"github.com/tlsched/tlsched/mtproto"
	"github.com/tlsched/tlsched/tgsim"
)

// rawClient speaks MTProto to tgsim by hand, so tests can break each rule
// on purpose: it picks every msg_id, seqno and salt itself.
type rawClient struct {
	t       testing.TB
	conn    *mtproto.Conn
	cipher  crypto.Cipher
	session int64
	salt    int64
	content int32
	last    int64
	msgs    chan srvMsg
	backlog []srvMsg   // read but not matched yet
	closed  chan error // the reader's end
	stop    sync.Once  // close
}

// srvMsg is one message from the server, containers and gzip unpacked.
type srvMsg struct {
	id        int64
	seqno     int32
	typ       uint32
	body      []byte
	frame     int   // index of the frame it came in
	inFrame   int   // messages in that frame
	transport int32 // a transport error code (-404) instead of a message
}

// testPrimes keeps the DH prime the first key exchange of the test binary
// verified (tgsim sends the same one every time), as a Client keeps it:
// the safe-prime check is two 2048-bit Miller-Rabin tests, slow under
// -race, and what the tests here exercise is the server.
var testPrimes = new(mtproto.PrimeCache)

func startSim(t testing.TB, cfg tgsim.Config) *tgsim.Server {
	t.Helper()
	if cfg.Key == nil {
		cfg.Key = testKey
	}
	srv, err := tgsim.Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv
}

func dialRaw(t testing.TB, srv *tgsim.Server, dc int) *rawClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := mtproto.Dial(ctx, mtproto.DialConfig{Addr: srv.Addr(dc), DC: dc, PublicKeys: []exchange.PublicKey{srv.PublicKey()}, Primes: testPrimes})
	if err != nil {
		t.Fatal(err)
	}
	return attachRaw(t, conn)
}

func attachRaw(t testing.TB, conn *mtproto.Conn) *rawClient {
	return attachRawN(t, conn, 1<<16)
}

// attachRawN is attachRaw with room for n unread server messages: tests
// that open a thousand clients keep it small.
func attachRawN(t testing.TB, conn *mtproto.Conn, n int) *rawClient {
	c := &rawClient{
		t: t, conn: conn, cipher: crypto.NewClientCipher(crypto.DefaultRand()),
		session: time.Now().UnixNano(), salt: conn.Salt,
		msgs: make(chan srvMsg, n), closed: make(chan error, 1),
	}
	go c.read()
	t.Cleanup(c.close)
	return c
}

// close closes the connection and waits for the reader; safe to repeat.
func (c *rawClient) close() {
	c.stop.Do(func() {
		c.conn.Close()
		<-c.closed
	})
}

func (c *rawClient) read() {
	frame := 0
	for {
		var b bin.Buffer
		if err := c.conn.Recv(context.Background(), &b); err != nil {
			if code, ok := transportCode(err); ok {
				c.msgs <- srvMsg{transport: code}
				continue
			}
			c.closed <- err
			close(c.msgs)
			return
		}
		msg, err := c.cipher.DecryptFromBuffer(c.conn.AuthKey, &b)
		if err != nil {
			c.closed <- fmt.Errorf("decrypt: %w", err)
			close(c.msgs)
			return
		}
		frame++
		data := msg.Data()
		if binary.LittleEndian.Uint32(data) == proto.MessageContainerTypeID {
			var cont proto.MessageContainer
			if err := cont.Decode(&bin.Buffer{Buf: data}); err != nil {
				c.closed <- err
				close(c.msgs)
				return
			}
			for _, m := range cont.Messages {
				c.msgs <- unpack(srvMsg{id: m.ID, seqno: int32(m.SeqNo), body: m.Body, frame: frame, inFrame: len(cont.Messages)})
			}
			continue
		}
		c.msgs <- unpack(srvMsg{id: msg.MessageID, seqno: msg.SeqNo, body: data, frame: frame, inFrame: 1})
	}
}

// transportCode recognises a transport error such as -404.
func transportCode(err error) (int32, bool) {
	var pe *codec.ProtocolErr
	if errors.As(err, &pe) {
		return pe.Code, true
	}
	return 0, false
}

func unpack(m srvMsg) srvMsg {
	m.typ = binary.LittleEndian.Uint32(m.body)
	if m.typ == proto.GZIPTypeID {
		var g proto.GZIP
		if err := g.Decode(&bin.Buffer{Buf: m.body}); err == nil {
			m.body = g.Data
			m.typ = binary.LittleEndian.Uint32(m.body)
		}
	}
	return m
}

// nextID is a valid client msg_id: about now, divisible by 4, increasing.
func (c *rawClient) nextID() int64 {
	id := int64(proto.NewMessageID(time.Now(), proto.MessageFromClient))
	if id <= c.last {
		id = c.last + 4
	}
	c.last = id
	return id
}

func (c *rawClient) contentSeq() int32 {
	s := c.content*2 + 1
	c.content++
	return s
}

func (c *rawClient) plainSeq() int32 { return c.content * 2 }

func encode(t testing.TB, v bin.Encoder) []byte {
	var b bin.Buffer
	if err := v.Encode(&b); err != nil {
		t.Fatal(err)
	}
	return b.Buf
}

// sendRaw sends one encrypted message exactly as given.
func (c *rawClient) sendRaw(salt, msgID int64, seqno int32, body []byte) {
	c.t.Helper()
	var b bin.Buffer
	err := c.cipher.Encrypt(c.conn.AuthKey, crypto.EncryptedMessageData{
		Salt: salt, SessionID: c.session, MessageID: msgID, SeqNo: seqno,
		MessageDataLen: int32(len(body)), MessageDataWithPadding: body,
	}, &b)
	if err != nil {
		c.t.Fatal(err)
	}
	if err := c.conn.Send(context.Background(), &b); err != nil {
		c.t.Fatal(err)
	}
}

// call sends one query correctly and returns its msg_id.
func (c *rawClient) call(q bin.Encoder) int64 {
	c.t.Helper()
	id := c.nextID()
	c.sendRaw(c.salt, id, c.contentSeq(), encode(c.t, q))
	return id
}

// container sends several queries in one msg_container and returns their ids.
func (c *rawClient) container(qs ...bin.Encoder) []int64 {
	c.t.Helper()
	var cont proto.MessageContainer
	var ids []int64
	for _, q := range qs {
		body := encode(c.t, q)
		id := c.nextID()
		ids = append(ids, id)
		cont.Messages = append(cont.Messages, proto.Message{ID: id, SeqNo: int(c.contentSeq()), Bytes: len(body), Body: body})
	}
	c.sendRaw(c.salt, c.nextID(), c.plainSeq(), encode(c.t, &cont))
	return ids
}

// next returns the first server message that matches; the others stay
// for later calls.
func (c *rawClient) next(what string, match func(srvMsg) bool) srvMsg {
	c.t.Helper()
	for i, m := range c.backlog {
		if match(m) {
			c.backlog = append(c.backlog[:i], c.backlog[i+1:]...)
			return m
		}
	}
	timeout := time.NewTimer(20 * time.Second)
	defer timeout.Stop()
	for {
		select {
		case m, ok := <-c.msgs:
			if !ok {
				c.t.Fatalf("connection closed while waiting for %s", what)
			}
			if match(m) {
				return m
			}
			c.backlog = append(c.backlog, m)
		case <-timeout.C:
			c.t.Fatalf("no %s from the server within 20 s", what)
		}
	}
}

func ofType(typ uint32) func(srvMsg) bool {
	return func(m srvMsg) bool { return m.typ == typ }
}

// result waits for the rpc_result of req and returns the result body, or
// the rpc_error.
func (c *rawClient) result(req int64) ([]byte, *mt.RPCError) {
	c.t.Helper()
	m := c.resultMsg(req)
	body := unpack(srvMsg{body: m.body[12:]}).body
	if binary.LittleEndian.Uint32(body) == mt.RPCErrorTypeID {
		var e mt.RPCError
		if err := e.Decode(&bin.Buffer{Buf: body}); err != nil {
			c.t.Fatal(err)
		}
		return nil, &e
	}
	return body, nil
}

// resultMsg waits for the message carrying the rpc_result of req.
func (c *rawClient) resultMsg(req int64) srvMsg {
	c.t.Helper()
	return c.next(fmt.Sprintf("rpc_result for %d", req), func(m srvMsg) bool {
		return m.typ == mt.RPCResultTypeID && int64(binary.LittleEndian.Uint64(m.body[4:])) == req
	})
}

// ok waits for a successful result of req and decodes it into v.
func (c *rawClient) ok(req int64, v bin.Decoder) {
	c.t.Helper()
	body, e := c.result(req)
	if e != nil {
		c.t.Fatalf("call %d failed: %d %s", req, e.ErrorCode, e.ErrorMessage)
	}
	if v != nil {
		if err := v.Decode(&bin.Buffer{Buf: body}); err != nil {
			c.t.Fatalf("decode result of %d into %T: %v", req, v, err)
		}
	}
}

// fails waits for an rpc_error of req with the given message.
func (c *rawClient) fails(req int64, code int, msg string) {
	c.t.Helper()
	_, e := c.result(req)
	if e == nil || e.ErrorCode != code || e.ErrorMessage != msg {
		c.t.Fatalf("call %d: got %+v, want %d %s", req, e, code, msg)
	}
}

// badMsg waits for a bad_msg_notification about id.
func (c *rawClient) badMsg(id int64) int {
	c.t.Helper()
	m := c.next(fmt.Sprintf("bad_msg_notification for %d", id), func(m srvMsg) bool {
		if m.typ != mt.BadMsgNotificationTypeID {
			return false
		}
		var n mt.BadMsgNotification
		_ = n.Decode(&bin.Buffer{Buf: m.body})
		return n.BadMsgID == id
	})
	var n mt.BadMsgNotification
	_ = n.Decode(&bin.Buffer{Buf: m.body})
	return n.ErrorCode
}

// init makes the first call on a new key, wrapped as Telegram requires.
func (c *rawClient) init() *tg.Config {
	c.t.Helper()
	var cfg tg.Config
	c.ok(c.call(wrapInit(&tg.HelpGetConfigRequest{})), &cfg)
	return &cfg
}

func wrapInit(q bin.Object) bin.Encoder {
	return &tg.InvokeWithLayerRequest{Layer: tg.Layer, Query: &tg.InitConnectionRequest{
		APIID: 1, DeviceModel: "test", SystemVersion: "test", AppVersion: "test",
		SystemLangCode: "en", LangCode: "en", Query: q,
	}}
}
