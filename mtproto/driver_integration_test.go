package mtproto_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/gotd/td/bin"
	"github.com/gotd/td/clock"
	"github.com/gotd/td/exchange"
	"github.com/gotd/td/mt"
	"github.com/gotd/td/tg"
	"github.com/gotd/td/tgerr"
	"github.com/gotd/td/tgtest"
	"github.com/gotd/td/transport"

	"github.com/tlsched/tlsched/mtproto"
)

// This file holds the loopback harness of the integration tests: gotd's
// tgtest server with a sendMessage handler that can misbehave, and a minimal
// single-goroutine-per-direction driver around mtproto.Session (the real
// owner is the DC actor in actors/).

var (
	rsaOnce sync.Once
	rsaKey  *rsa.PrivateKey
)

func serverKey(t testing.TB) *rsa.PrivateKey {
	rsaOnce.Do(func() {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		rsaKey = k
	})
	return rsaKey
}

// shiftedClock is a server clock running off by a fixed amount.
type shiftedClock struct{ d time.Duration }

func (c shiftedClock) Now() time.Time                      { return time.Now().Add(c.d) }
func (c shiftedClock) Timer(d time.Duration) clock.Timer   { return clock.System.Timer(d) }
func (c shiftedClock) Ticker(d time.Duration) clock.Ticker { return clock.System.Ticker(d) }

// seenCall is a sendMessage as the server received it, wrappers removed.
type seenCall struct {
	MsgID    int64
	RandomID int64
	After    int64
	Init     bool
}

// app answers messages.sendMessage with updateShortSentMessage{id:
// random_id}, so a test can tell which call a result belongs to. hook may
// take over a call (return true) to inject misbehaviour.
type app struct {
	mu       sync.Mutex
	seen     []seenCall
	noRecord bool // benchmarks: do not keep seen
	gzip     bool
	hook     func(srv *tgtest.Server, req *tgtest.Request, c seenCall) bool
}

type peekObject struct{ id uint32 }

func (p *peekObject) Decode(b *bin.Buffer) error {
	id, err := b.PeekID()
	p.id = id
	return err
}
func (p *peekObject) Encode(*bin.Buffer) error { return errors.New("decode only") }

func (a *app) OnMessage(srv *tgtest.Server, req *tgtest.Request) error {
	var c seenCall
	c.MsgID = req.MsgID
	for {
		id, err := req.Buf.PeekID()
		if err != nil {
			return err
		}
		var p peekObject
		switch id {
		case mt.MsgsAckTypeID, mt.MsgResendReqTypeID:
			return nil
		case tg.InvokeAfterMsgRequestTypeID:
			r := tg.InvokeAfterMsgRequest{Query: &p}
			if err := r.Decode(req.Buf); err != nil {
				return err
			}
			c.After = r.MsgID
			continue
		case tg.InvokeWithLayerRequestTypeID:
			r := tg.InvokeWithLayerRequest{Query: &p}
			if err := r.Decode(req.Buf); err != nil {
				return err
			}
			continue
		case tg.InitConnectionRequestTypeID:
			r := tg.InitConnectionRequest{Query: &p}
			if err := r.Decode(req.Buf); err != nil {
				return err
			}
			c.Init = true
			continue
		case tg.MessagesSendMessageRequestTypeID:
			var m tg.MessagesSendMessageRequest
			if err := m.Decode(req.Buf); err != nil {
				return err
			}
			c.RandomID = m.RandomID
		default:
			return tgerr.New(400, "METHOD_INVALID")
		}
		break
	}
	a.mu.Lock()
	if !a.noRecord {
		a.seen = append(a.seen, c)
	}
	hook, gz := a.hook, a.gzip
	a.mu.Unlock()
	if hook != nil && hook(srv, req, c) {
		return nil
	}
	res := &tg.UpdateShortSentMessage{ID: int(c.RandomID), Date: int(time.Now().Unix())}
	if gz && c.RandomID%2 == 0 {
		return srv.SendGZIP(req, res)
	}
	return srv.SendResult(req, res)
}

func (a *app) calls() []seenCall {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]seenCall(nil), a.seen...)
}

// startServer runs tgtest on 127.0.0.1:0 until the test ends.
func startServer(t testing.TB, h tgtest.Handler, opts tgtest.ServerOptions) (*tgtest.Server, string) {
	t.Helper()
	srv := tgtest.NewServer(tgtest.NewPrivateKey(serverKey(t)), h, opts)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, transport.Listen(l)) }()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return srv, l.Addr().String()
}

// sessionPrimes keeps the DH prime verified by the first key exchange of a
// session test (tgtest sends the same one every time), as a Client keeps
// it: those tests are about the session, and the safe-prime check is slow
// under -race. The key exchange's own tests (exchange_integration_test.go)
// check primes afresh.
var sessionPrimes = new(mtproto.PrimeCache)

func dial(t testing.TB, srv *tgtest.Server, addr string, key *mtproto.Conn) *mtproto.Conn {
	t.Helper()
	cfg := mtproto.DialConfig{Addr: addr, DC: 2, PublicKeys: []exchange.PublicKey{srv.Key()}, Primes: sessionPrimes}
	if key != nil {
		cfg.AuthKey, cfg.Salt = key.AuthKey, key.Salt
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := mtproto.Dial(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// driver owns a Session and one connection: Pack+write on the caller's
// goroutine, read+Receive on its own, both under one mutex.
type driver struct {
	t    testing.TB
	conn *mtproto.Conn

	mu       sync.Mutex
	s        *mtproto.Session
	results  map[mtproto.CallID]mtproto.Result
	dups     int
	resent   []mtproto.Resent
	frames   []mtproto.Frame
	readErr  error
	frameOf  sync.Map // call msg_id -> frame msg_id, for server hooks
	changed  chan struct{}
	readDone chan struct{}
}

func newDriver(t testing.TB, s *mtproto.Session) *driver {
	return &driver{t: t, s: s, results: map[mtproto.CallID]mtproto.Result{}, changed: make(chan struct{}, 1)}
}

// attach starts reading conn. The previous connection must have failed.
func (d *driver) attach(conn *mtproto.Conn) {
	d.mu.Lock()
	d.conn = conn
	d.readErr = nil
	d.readDone = make(chan struct{})
	done := d.readDone
	d.mu.Unlock()
	go d.read(conn, done)
	d.t.Cleanup(func() {
		_ = conn.Close()
		<-done
	})
}

func (d *driver) read(conn *mtproto.Conn, done chan struct{}) {
	defer close(done)
	var b bin.Buffer
	for {
		b.Reset()
		if err := conn.Recv(context.Background(), &b); err != nil {
			d.mu.Lock()
			d.readErr = err
			d.mu.Unlock()
			d.signal()
			return
		}
		d.mu.Lock()
		evs, err := d.s.Receive(time.Now(), b.Buf)
		if err != nil {
			d.t.Errorf("receive: %v", err)
		}
		for _, r := range evs.Results {
			if _, dup := d.results[r.Call]; dup {
				d.dups++
			}
			d.results[r.Call] = r
		}
		for _, e := range evs.Events {
			if e, ok := e.(mtproto.Resent); ok {
				d.resent = append(d.resent, e)
			}
		}
		if when, ok := d.s.NextDeadline(); ok && !when.After(time.Now()) {
			out, err := d.s.Flush(time.Now())
			if err != nil {
				d.t.Errorf("flush: %v", err)
			}
			d.writeLocked(out)
		}
		d.mu.Unlock()
		d.signal()
	}
}

func (d *driver) signal() {
	select {
	case d.changed <- struct{}{}:
	default:
	}
}

func (d *driver) send(calls []mtproto.Call) {
	d.mu.Lock()
	defer d.mu.Unlock()
	out, err := d.s.Pack(time.Now(), calls)
	if err != nil {
		d.t.Fatal(err)
	}
	for _, f := range out.Failed {
		d.t.Errorf("call %d failed to pack: %v", f.Call, f.Err)
	}
	d.writeLocked(out)
}

func (d *driver) flush() {
	d.mu.Lock()
	defer d.mu.Unlock()
	out, err := d.s.Flush(time.Now())
	if err != nil {
		d.t.Fatal(err)
	}
	d.writeLocked(out)
}

func (d *driver) writeLocked(out mtproto.Packed) {
	for _, f := range out.Frames {
		for _, c := range f.Calls {
			d.frameOf.Store(c.MsgID, f.MsgID)
		}
		d.frames = append(d.frames, f)
		if err := d.conn.Send(context.Background(), &bin.Buffer{Buf: f.Data}); err != nil {
			// The reader sees the failure too; the calls stay unanswered.
			return
		}
	}
}

// waitFor blocks until cond (called under the lock) holds, or fails the test
// after 60 s. It wakes on events, never polls on a timer.
func (d *driver) waitFor(what string, cond func() bool) {
	d.t.Helper()
	deadline := time.NewTimer(60 * time.Second)
	defer deadline.Stop()
	for {
		d.mu.Lock()
		ok := cond()
		d.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-d.changed:
		case <-deadline.C:
			d.t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func newSession(t testing.TB, c *mtproto.Conn, cfg mtproto.Config) *mtproto.Session {
	t.Helper()
	s, err := mtproto.New(cfg, c.AuthKey, c.Salt)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func sendCalls(from, n int) []mtproto.Call {
	out := make([]mtproto.Call, n)
	for i := range out {
		id := from + i
		out[i] = mtproto.Call{ID: mtproto.CallID(id), Body: &tg.MessagesSendMessageRequest{
			Peer: &tg.InputPeerSelf{}, Message: "hello", RandomID: int64(id),
		}, Resendable: true}
	}
	return out
}

func resultID(t testing.TB, r mtproto.Result) int {
	t.Helper()
	if r.Err != nil {
		t.Fatalf("call %d: %v", r.Call, r.Err)
	}
	var u tg.UpdateShortSentMessage
	if err := u.Decode(&bin.Buffer{Buf: r.Body}); err != nil {
		t.Fatalf("call %d: decode result: %v", r.Call, err)
	}
	return u.ID
}

// checkAllRouted asserts that calls 1..n each got their own result.
func (d *driver) checkAllRouted(n int) {
	d.t.Helper()
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.results) != n {
		d.t.Fatalf("%d results, want %d", len(d.results), n)
	}
	for id, r := range d.results {
		if got := resultID(d.t, r); got != int(id) {
			d.t.Fatalf("call %d got the result of call %d", id, got)
		}
	}
	if d.dups != 0 {
		d.t.Fatalf("%d calls answered twice", d.dups)
	}
	if u := d.s.Unanswered(); len(u) != 0 {
		d.t.Fatalf("unanswered after all results: %v", u)
	}
}

func testPublicKeys(t testing.TB) []exchange.PublicKey {
	return []exchange.PublicKey{{RSA: &serverKey(t).PublicKey}}
}
