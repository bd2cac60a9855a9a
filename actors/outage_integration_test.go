package actors

import (
	"encoding/binary"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/gotd/td/crypto"
	"github.com/gotd/td/proto/codec"
	"github.com/gotd/td/tgtest"

	"github.com/tlsched/tlsched/scheduler"
)

// fakeServer accepts connections that speak MTProto's intermediate
// transport (tag 0xeeeeeeee, then packets of a 4-byte little-endian length
// and a payload) and answers the first packet of each with the transport
// error -code (a 4-byte packet), then waits for the client to hang up. It
// counts connections.
type fakeServer struct {
	addr  string
	conns atomic.Int32
}

func startFakeServer(t *testing.T, code int32) *fakeServer {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &fakeServer{addr: l.Addr().String()}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var open []net.Conn
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			s.conns.Add(1)
			mu.Lock()
			open = append(open, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				var hdr [4]byte
				if _, err := io.ReadFull(c, hdr[:]); err != nil || binary.LittleEndian.Uint32(hdr[:]) != 0xeeeeeeee {
					return
				}
				if _, err := io.ReadFull(c, hdr[:]); err != nil {
					return
				}
				if _, err := io.CopyN(io.Discard, c, int64(binary.LittleEndian.Uint32(hdr[:]))); err != nil {
					return
				}
				var out [8]byte
				binary.LittleEndian.PutUint32(out[:4], 4)
				neg := -code
				binary.LittleEndian.PutUint32(out[4:], uint32(neg))
				if _, err := c.Write(out[:]); err != nil {
					return
				}
				_, _ = io.Copy(io.Discard, c)
			}()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		for _, c := range open {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return s
}

// storedKeyConfig is a Config for one DC at addr whose Store already holds
// a key (so no key exchange is needed to send).
func storedKeyConfig(t *testing.T, addr string) (Config, crypto.AuthKey) {
	t.Helper()
	var k crypto.Key
	k[0], k[1] = 7, 7
	key := k.WithID()
	st := NewMemoryStore()
	cfg := Config{DCs: map[int]string{2: addr}, Store: st, PublicKeys: nil, DialLimits: []DialLimit{}}
	if err := st.Save(dcName(cfg, 2), key, 1); err != nil {
		t.Fatal(err)
	}
	return cfg, key
}

// A server that stays unreachable: calls wait for OutageTimeout, then fail
// as never sent, and later calls fail at once the same way.
func TestUnreachableDCFailsCallsAsNotSent(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // connection refused from now on
	w := newWorld()
	_, cfg := startWorld(t, w)
	cfg.DCs = map[int]string{2: addr}
	cfg.OutageTimeout = 300e6
	cfg.RedialBackoff = 10e6
	cfg.DialLimits = []DialLimit{}
	cfg.Scheduler.MaxAttempts = 1
	c := startClient(t, cfg)
	ctx := testCtx(t)
	for i := range 2 {
		_, err := c.Call(ctx, send(int64(i+1)))
		var oe *scheduler.OutageError
		if !errors.Is(err, scheduler.ErrNotSent) || errors.Is(err, scheduler.ErrMayHaveRun) || !errors.As(err, &oe) || oe.DC != 2 {
			t.Fatalf("call %d: %v, want an *OutageError matching ErrNotSent", i+1, err)
		}
		if !strings.Contains(err.Error(), "connection refused") {
			t.Fatalf("call %d: %v does not say why", i+1, err)
		}
	}
}

// Connection losses inside the outage budget do not count as attempts:
// with MaxAttempts 1, a call whose connection is cut three times still
// succeeds, exactly once at the server.
func TestOutageLossesDoNotCountAsAttempts(t *testing.T) {
	w := newWorld()
	var cuts atomic.Int32
	w.hook = func(srv *tgtest.Server, req *tgtest.Request, id int64) error {
		if id == 1 && cuts.Add(1) <= 3 {
			srv.ForceDisconnect(req.Session)
			return errDrop
		}
		return nil
	}
	_, cfg := startWorld(t, w)
	cfg.Scheduler.MaxAttempts = 1
	cfg.RedialBackoff = 10e6
	cfg.DialLimits = []DialLimit{}
	c := startClient(t, cfg)
	v, err := c.Call(testCtx(t), send(1))
	if err != nil {
		t.Fatalf("call: %v (after %d cuts)", err, cuts.Load())
	}
	if sentID(t, v) != 1 || cuts.Load() < 4 {
		t.Fatalf("result %v after %d deliveries", v, cuts.Load())
	}
}

// A server answering every connection with transport error -429 is not
// redialled in a storm: the first redial waits TransportFloodWait, longer
// than the outage budget here, so the call fails after one connection. It
// was written, so it may have run.
func TestTransportFloodWaitsBeforeRedial(t *testing.T) {
	srv := startFakeServer(t, codec.CodeTransportFlood)
	cfg, _ := storedKeyConfig(t, srv.addr)
	cfg.RedialBackoff = 1e6
	cfg.OutageTimeout = 500e6
	cfg.TransportFloodWait = 60e9
	c := startClient(t, cfg)
	_, err := c.Call(testCtx(t), send(1))
	var oe *scheduler.OutageError
	if !errors.Is(err, scheduler.ErrMayHaveRun) || !errors.As(err, &oe) || transportCode(oe.Cause) != codec.CodeTransportFlood {
		t.Fatalf("call: %v, want an *OutageError for -429 matching ErrMayHaveRun", err)
	}
	if n := srv.conns.Load(); n != 1 {
		t.Fatalf("%d connections, want 1", n)
	}
}

// A logged-in session's key rejected with -404 on a fresh connection is
// kept, not replaced, and the calls fail with *AuthKeyLostError naming the
// session file and the login command; there is no redial.
func TestLoggedInKeyIsNeverReplaced(t *testing.T) {
	srv := startFakeServer(t, codec.CodeAuthKeyNotFound)
	cfg, key := storedKeyConfig(t, srv.addr)
	cfg.SessionFile = "/tmp/acct.session"
	cfg.RedialBackoff = 1e6
	c := startClient(t, cfg)
	ctx := testCtx(t)
	for i := range 2 {
		_, err := c.Call(ctx, send(int64(i+1)))
		var ke *AuthKeyLostError
		if !errors.As(err, &ke) || ke.File != cfg.SessionFile || ke.DC != 2 {
			t.Fatalf("call %d: %v, want *AuthKeyLostError", i+1, err)
		}
		if !strings.Contains(err.Error(), "tlworker login --session /tmp/acct.session") {
			t.Fatalf("call %d: %q does not say how to log in again", i+1, err)
		}
	}
	if n := srv.conns.Load(); n != 1 {
		t.Fatalf("%d connections, want 1 (no redial after the key is lost)", n)
	}
	got, _, ok, _ := cfg.Store.Load(dcName(cfg, 2))
	if !ok || got.ID != key.ID {
		t.Fatal("the logged-in key was replaced")
	}
}

// A -404 on a connection that carried answers gets one reconnect with the
// same key: the key stays and the calls succeed.
func TestKeyRejectedOnWorkingConnectionIsRetried(t *testing.T) {
	w := newWorld()
	_, cfg := startWorld(t, w)
	// A first client makes the key.
	a := startClient(t, cfg)
	ctx := testCtx(t)
	if _, err := a.Call(ctx, send(1)); err != nil {
		t.Fatal(err)
	}
	key, _, ok, _ := cfg.Store.Load(dcName(cfg, 2))
	if !ok {
		t.Fatal("no key stored")
	}
	// The second goes through a proxy that, on its first connection, lets
	// one server packet through and then answers -404. The proxy's address
	// is not the server's, but the server's keys are: the stored key is
	// its (storenames.go).
	p := startInjectProxy(t, cfg.DCs[2])
	store := cfg.Store
	cfg.DCs = map[int]string{2: p.addr}
	cfg.SessionFile = "/tmp/acct.session"
	cfg.DialLimits = []DialLimit{}
	cfg.RedialBackoff = 1e6
	b := startClient(t, cfg)
	for i := 2; i <= 4; i++ {
		if _, err := b.Call(ctx, send(int64(i))); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	if !p.injected.Load() {
		t.Fatal("no -404 injected")
	}
	got, _, _, _ := store.Load(dcName(cfg, 2))
	if got.ID != key.ID {
		t.Fatal("the key was replaced after a -404 on a working connection")
	}
}

// injectProxy forwards TCP to target; on its first connection it forwards
// one server packet (intermediate transport) and then sends the client a
// transport -404 and closes.
type injectProxy struct {
	addr     string
	injected atomic.Bool
}

func startInjectProxy(t *testing.T, target string) *injectProxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &injectProxy{addr: l.Addr().String()}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var open []net.Conn
	track := func(c net.Conn) {
		mu.Lock()
		open = append(open, c)
		mu.Unlock()
	}
	first := true
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			u, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			track(c)
			track(u)
			inject := first
			first = false
			wg.Add(2)
			go func() {
				defer wg.Done()
				_, _ = io.Copy(u, c)
				u.Close()
			}()
			go func() {
				defer wg.Done()
				defer c.Close()
				if !inject {
					_, _ = io.Copy(c, u)
					return
				}
				var hdr [4]byte
				if _, err := io.ReadFull(u, hdr[:]); err != nil {
					return
				}
				body := make([]byte, binary.LittleEndian.Uint32(hdr[:]))
				if _, err := io.ReadFull(u, body); err != nil {
					return
				}
				var out [8]byte
				binary.LittleEndian.PutUint32(out[:4], 4)
				code := -int32(codec.CodeAuthKeyNotFound)
				binary.LittleEndian.PutUint32(out[4:], uint32(code))
				if _, err := c.Write(append(append(hdr[:], body...), out[:]...)); err != nil {
					return
				}
				p.injected.Store(true)
				u.Close()
			}()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		for _, c := range open {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return p
}
