package actors

import (
	"context"
	"encoding/binary"
	"io"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gotd/td/tg"
	"golang.org/x/net/proxy"
)

// Each account of a Fleet dials through its own Config.Dialer: account p
// through a SOCKS5 proxy (golang.org/x/net/proxy), account d directly
// through a counting dialer. Each connection goes the account's way only.
func TestFleetAccountsOwnDialers(t *testing.T) {
	_, f, _ := fleetSim(t, 2)
	ctx := shortCtx(t, 30*time.Second)
	socks := startSOCKS5(t)
	pd, err := proxy.SOCKS5("tcp", socks.addr, nil, proxy.Direct)
	if err != nil {
		t.Fatal(err)
	}
	viaProxy, ok := pd.(proxy.ContextDialer)
	if !ok {
		t.Fatalf("%T is not a proxy.ContextDialer", pd)
	}
	direct := &countingDialer{}
	p, err := f.Add(ctx, "p", AccountConfig{Config: Config{Dialer: viaProxy, DialLimits: []DialLimit{}}})
	if err != nil {
		t.Fatal(err)
	}
	d, err := f.Add(ctx, "d", AccountConfig{Config: Config{Dialer: direct, DialLimits: []DialLimit{}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Call(ctx, &tg.HelpGetConfigRequest{}); err != nil {
		t.Fatalf("p through the proxy: %v", err)
	}
	if n := socks.conns.Load(); n != 1 || direct.n.Load() != 0 {
		t.Fatalf("after p's call: %d proxied, %d direct; want 1, 0", n, direct.n.Load())
	}
	if _, err := d.Call(ctx, &tg.HelpGetConfigRequest{}); err != nil {
		t.Fatalf("d direct: %v", err)
	}
	if n := socks.conns.Load(); n != 1 || direct.n.Load() != 1 {
		t.Fatalf("after d's call: %d proxied, %d direct; want 1, 1", n, direct.n.Load())
	}
}

// countingDialer dials directly and counts its dials.
type countingDialer struct {
	net.Dialer
	n atomic.Int64
}

func (c *countingDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	c.n.Add(1)
	return c.Dialer.DialContext(ctx, network, addr)
}

// socks5Server is the least of a SOCKS5 server (RFC 1928): no
// authentication, CONNECT to an IPv4 address or a name, for tests.
type socks5Server struct {
	addr  string
	conns atomic.Int64
}

func startSOCKS5(t *testing.T) *socks5Server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &socks5Server{addr: ln.Addr().String()}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var open []net.Conn
	track := func(c net.Conn) {
		mu.Lock()
		open = append(open, c)
		mu.Unlock()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			track(c)
			wg.Add(1)
			go func() {
				defer wg.Done()
				if up := s.handshake(c); up != nil {
					track(up)
					s.conns.Add(1)
					splice(c, up)
				}
				c.Close()
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range open {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return s
}

// handshake reads the greeting and the CONNECT request, dials, and
// answers; nil if anything fails.
func (s *socks5Server) handshake(c net.Conn) net.Conn {
	buf := make([]byte, 262)
	// Greeting: VER NMETHODS METHODS…; answer "no authentication".
	if _, err := io.ReadFull(c, buf[:2]); err != nil || buf[0] != 5 {
		return nil
	}
	if _, err := io.ReadFull(c, buf[:buf[1]]); err != nil {
		return nil
	}
	if _, err := c.Write([]byte{5, 0}); err != nil {
		return nil
	}
	// Request: VER CMD RSV ATYP DST.ADDR DST.PORT.
	if _, err := io.ReadFull(c, buf[:4]); err != nil || buf[1] != 1 {
		return nil
	}
	var host string
	switch buf[3] {
	case 1:
		if _, err := io.ReadFull(c, buf[:4]); err != nil {
			return nil
		}
		host = net.IP(buf[:4]).String()
	case 3:
		if _, err := io.ReadFull(c, buf[:1]); err != nil {
			return nil
		}
		n := int(buf[0])
		if _, err := io.ReadFull(c, buf[:n]); err != nil {
			return nil
		}
		host = string(buf[:n])
	default:
		return nil
	}
	if _, err := io.ReadFull(c, buf[:2]); err != nil {
		return nil
	}
	port := binary.BigEndian.Uint16(buf[:2])
	up, err := net.Dial("tcp", net.JoinHostPort(host, strconv.Itoa(int(port))))
	if err != nil {
		c.Write([]byte{5, 5, 0, 1, 0, 0, 0, 0, 0, 0})
		return nil
	}
	if _, err := c.Write([]byte{5, 0, 0, 1, 0, 0, 0, 0, 0, 0}); err != nil {
		up.Close()
		return nil
	}
	return up
}

// splice copies both ways until either side ends, then closes both.
func splice(a, b net.Conn) {
	done := make(chan struct{}, 2)
	go func() { io.Copy(a, b); done <- struct{}{} }()
	go func() { io.Copy(b, a); done <- struct{}{} }()
	<-done
	a.Close()
	b.Close()
	<-done
}
