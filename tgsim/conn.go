package tgsim

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"time"

	"github.com/gotd/td/bin"
	"github.com/gotd/td/crypto"
	"github.com/gotd/td/exchange"
	"github.com/gotd/td/proto/codec"
	"github.com/gotd/td/transport"
)

// conn is one client connection: a reader (serve) and a writer goroutine.
// Sessions post messages to the session they belong to, and the writer of
// the session's current connection flushes them.
type conn struct {
	dc  *dcServer
	srv *Server
	raw net.Conn
	tc  transport.Conn

	done      chan struct{}
	closeOnce sync.Once
	signal    chan struct{} // cap 1: something to flush

	ip string // the source IP (dupcheck.go)

	mu        sync.Mutex
	sessions  map[*session]struct{}
	pingTimer *time.Timer
	keys      []*authKey // the keys it has sent frames under (dupcheck.go)

	frames   int      // encrypted frames read; the reader's only
	admitted bool     // the first frame passed Config.AddrConnRate; the reader's only
	sent     [][]byte // last frames written, for Faults.ReplayFrames; the writer's only
}

func newConn(d *dcServer, raw net.Conn) *conn {
	c := &conn{
		dc: d, srv: d.srv, raw: raw,
		done:     make(chan struct{}),
		signal:   make(chan struct{}, 1),
		sessions: map[*session]struct{}{},
	}
	c.ip = sourceIP(c)
	return c
}

func (c *conn) close() {
	c.closeOnce.Do(func() {
		close(c.done)
		_ = c.raw.Close()
	})
}

func (c *conn) wake() {
	select {
	case c.signal <- struct{}{}:
	default:
	}
}

// oneConn is a listener that yields one connection, so gotd's codec
// detection runs in the connection's goroutine, never in the accept loop.
type oneConn struct {
	c    net.Conn
	used bool
}

func (l *oneConn) Accept() (net.Conn, error) {
	if l.used {
		return nil, net.ErrClosed
	}
	l.used = true
	return l.c, nil
}
func (l *oneConn) Close() error   { return nil }
func (l *oneConn) Addr() net.Addr { return l.c.LocalAddr() }

func (c *conn) serve() {
	s := c.srv
	defer s.wg.Done()
	defer s.untrack(c)
	defer c.unbind()
	defer c.close()

	tc, err := transport.Listen(&oneConn{c: c.raw}).Accept()
	if err != nil {
		s.count.err("transport_header")
		return
	}
	c.tc = tc
	s.wg.Add(1)
	go c.writeLoop()

	var b bin.Buffer
	for {
		b.Reset()
		if err := tc.Recv(s.ctx, &b); err != nil {
			if !errors.Is(err, net.ErrClosed) && s.ctx.Err() == nil {
				var perr *codec.ProtocolErr
				if !errors.As(err, &perr) && !isEOF(err) {
					// A length that is not a multiple of 4, too big, …
					s.count.err("malformed_frame")
				}
			}
			return
		}
		if len(b.Buf) > s.cfg.MaxFrame {
			s.count.err("oversized_frame")
			s.logf("tgsim: DC %d: frame of %d bytes is over the %d-byte limit; closing the connection", c.dc.id, len(b.Buf), s.cfg.MaxFrame)
			return
		}
		if s.blackholed() {
			s.count.blackholed.Add(1)
			continue
		}
		before := c.frames
		if !c.frame(b.Buf) {
			return
		}
		if c.frames == before {
			continue // key exchange and -404 frames do not count
		}
		f := s.faults.Load()
		if (f.DropAfterFrames > 0 && c.frames >= f.DropAfterFrames) ||
			(f.DropProbability > 0 && rand.Float64() < f.DropProbability) {
			s.count.drops.Add(1)
			return
		}
	}
}

func isEOF(err error) bool {
	var op *net.OpError
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.As(err, &op)
}

// frame handles one transport frame; false closes the connection.
func (c *conn) frame(data []byte) bool {
	s := c.srv
	if len(data) < 8 {
		s.count.err("malformed_frame")
		return false
	}
	if !c.admitAddr() {
		return false
	}
	var id [8]byte
	copy(id[:], data[:8])
	if id == ([8]byte{}) {
		return c.exchange(data)
	}
	k := c.dc.lookup(id)
	if k == nil || s.keyForgotten(id) {
		// Telegram answers a frame under an unknown key with transport
		// error -404 and keeps the connection.
		s.count.unknownKeys.Add(1)
		return c.sendTransportError(codec.CodeAuthKeyNotFound)
	}
	return c.encrypted(k, data)
}

func (c *conn) sendTransportError(code int32) bool {
	var b bin.Buffer
	b.PutInt32(-code)
	ctx, cancel := context.WithTimeout(c.srv.ctx, 10*time.Second)
	defer cancel()
	return c.tc.Send(ctx, &b) == nil
}

// replayConn hands the first frame of a key exchange back to the exchange
// flow, then reads from the connection.
type replayConn struct {
	transport.Conn
	first []byte
}

func (r *replayConn) Recv(ctx context.Context, b *bin.Buffer) error {
	if r.first != nil {
		b.ResetTo(append(b.Buf[:0], r.first...))
		r.first = nil
		return nil
	}
	return r.Conn.Recv(ctx, b)
}

func (c *conn) exchange(first []byte) bool {
	s := c.srv
	ctx, cancel := context.WithTimeout(s.ctx, 30*time.Second)
	defer cancel()
	rc := &replayConn{Conn: c.tc, first: append([]byte(nil), first...)}
	res, err := exchange.NewExchanger(rc, c.dc.id).WithRand(s.cfg.Rand).Server(s.key).Run(ctx)
	if err != nil {
		var enc *exchange.UnexpectedEncryptedError
		var se *exchange.ServerExchangeError
		switch {
		case errors.As(err, &enc):
			return c.frame(enc.Frame)
		case errors.As(err, &se):
			s.count.err("key_exchange")
			c.sendTransportError(se.Code)
			return false
		default:
			s.count.err("key_exchange")
			return false
		}
	}
	c.dc.addKey(res.Key, res.ServerSalt)
	s.count.keyExchanges.Add(1)
	return true
}

// encrypted decrypts a frame and hands it to its session.
func (c *conn) encrypted(k *authKey, data []byte) bool {
	s := c.srv
	var m crypto.EncryptedMessage
	if err := m.DecodeWithoutCopy(&bin.Buffer{Buf: data}); err != nil {
		s.count.err("malformed_frame")
		return false
	}
	msg, err := s.cipher.Decrypt(k.key, &m)
	if err != nil {
		// A frame that does not decrypt (bad msg_key, padding or length)
		// cannot be answered under the key: Telegram drops the connection.
		s.count.err("decrypt")
		return false
	}
	if c.frames == 0 && !k.admitConn(s.cfg.Now()) {
		// Telegram answers a connection flood with transport error -429.
		s.count.err("transport_flood")
		c.sendTransportError(codec.CodeTransportFlood)
		return false
	}
	s.count.framesIn.Add(1)
	c.frames++
	k.use(c)
	sess := k.session(msg.SessionID, c)
	sess.receive(c, msg.Salt, msg.MessageID, msg.SeqNo, msg.Data())
	return true
}

// bind makes c the connection sess sends on.
func (c *conn) bind(sess *session) {
	c.mu.Lock()
	c.sessions[sess] = struct{}{}
	c.mu.Unlock()
}

func (c *conn) unbind() {
	c.mu.Lock()
	ss := c.sessions
	c.sessions = map[*session]struct{}{}
	keys := c.keys
	c.keys = nil
	if c.pingTimer != nil {
		c.pingTimer.Stop()
	}
	c.mu.Unlock()
	for sess := range ss {
		sess.detach(c)
	}
	for _, k := range keys {
		k.left(c)
	}
}

// armDisconnect implements ping_delay_disconnect: the connection closes
// unless another one comes within delay; a delay of 0 stops the timer.
func (c *conn) armDisconnect(delay time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.pingTimer != nil {
		c.pingTimer.Stop()
		c.pingTimer = nil
	}
	if delay <= 0 {
		return
	}
	c.pingTimer = time.AfterFunc(delay, func() {
		c.srv.count.err("ping_disconnect")
		c.close()
	})
}

func (c *conn) writeLoop() {
	s := c.srv
	defer s.wg.Done()
	tick := time.NewTicker(s.cfg.AckDelay)
	defer tick.Stop()
	for {
		mode := flushAll
		select {
		case <-c.done:
			return
		case <-c.signal:
		case <-tick.C:
			mode = flushAcks
		}
		if d := s.faults.Load().ReplyDelay; d > 0 && mode == flushAll {
			t := time.NewTimer(d)
			select {
			case <-c.done:
				t.Stop()
				return
			case <-t.C:
			}
		}
		if s.blackholed() {
			continue // SetFaults wakes the writer when it clears
		}
		c.mu.Lock()
		ss := make([]*session, 0, len(c.sessions))
		for sess := range c.sessions {
			ss = append(ss, sess)
		}
		c.mu.Unlock()
		for _, sess := range ss {
			if err := sess.flush(c, mode); err != nil {
				c.close()
				return
			}
		}
	}
}
