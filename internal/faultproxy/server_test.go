package faultproxy_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/tlsched/tlsched/internal/faultproxy"
)

// tag is the intermediate transport's client tag.
var tag = []byte{0xee, 0xee, 0xee, 0xee}

// handler serves one connection of a test server; the tag is not read yet.
type handler func(c net.Conn) error

// server is a tiny TCP server for the tests: every connection runs the
// handler, whose result is sent on ended.
type server struct {
	ln       net.Listener
	h        handler
	ended    chan error
	wg       sync.WaitGroup
	mu       sync.Mutex
	conns    []net.Conn
	accepted int
}

// startServer starts a server running h; it is closed at the test's end.
func startServer(t *testing.T, h handler) *server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &server{ln: ln, h: h, ended: make(chan error, 64)}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.conns = append(s.conns, c)
			s.accepted++
			s.mu.Unlock()
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				err := s.h(c)
				_ = c.Close()
				s.ended <- err
			}()
		}
	}()
	t.Cleanup(s.close)
	return s
}

// close stops the server and waits for its goroutines.
func (s *server) close() {
	_ = s.ln.Close()
	s.mu.Lock()
	for _, c := range s.conns {
		_ = c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

// count returns the connections accepted so far.
func (s *server) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.accepted
}

// waitEnded returns the error a handler ended with, failing the test if none
// ends within 10 s (a hang).
func (s *server) waitEnded(t *testing.T) error {
	t.Helper()
	select {
	case err := <-s.ended:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("server connection did not end")
		return nil
	}
}

// echo reads the tag, then writes every frame back.
func echo(c net.Conn) error {
	if err := readTag(c); err != nil {
		return err
	}
	for {
		p, err := readFrame(c)
		if err != nil {
			return err
		}
		if err := writeFrame(c, p); err != nil {
			return err
		}
	}
}

// burst returns a handler that reads the tag, writes the frames, then closes
// the connection.
func burst(frames ...[]byte) handler {
	return func(c net.Conn) error {
		if err := readTag(c); err != nil {
			return err
		}
		for _, f := range frames {
			if err := writeFrame(c, f); err != nil {
				return err
			}
		}
		return nil
	}
}

// record returns a handler that reads every byte until EOF and sends them
// on got.
func record(got chan<- []byte) handler {
	return func(c net.Conn) error {
		b, err := io.ReadAll(c)
		got <- b
		return err
	}
}

func readTag(r io.Reader) error {
	var b [4]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return err
	}
	if !bytes.Equal(b[:], tag) {
		return fmt.Errorf("bad tag %x", b)
	}
	return nil
}

func readFrame(r io.Reader) ([]byte, error) {
	var h [4]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return nil, err
	}
	p := make([]byte, binary.LittleEndian.Uint32(h[:]))
	if _, err := io.ReadFull(r, p); err != nil {
		return nil, err
	}
	return p, nil
}

func writeFrame(w io.Writer, p []byte) error {
	b := binary.LittleEndian.AppendUint32(nil, uint32(len(p)))
	_, err := w.Write(append(b, p...))
	return err
}

// frameBytes is the frame of payload p on the wire.
func frameBytes(p []byte) []byte {
	return append(binary.LittleEndian.AppendUint32(nil, uint32(len(p))), p...)
}

// payloads returns n distinct payloads of size bytes each.
func payloads(n, size int) [][]byte {
	ps := make([][]byte, n)
	for i := range ps {
		ps[i] = make([]byte, size)
		for j := range ps[i] {
			ps[i][j] = byte(i*31 + j)
		}
	}
	return ps
}

// startProxy starts a proxy to s; it is closed at the test's end.
func startProxy(t *testing.T, s *server, seed uint64) *faultproxy.Proxy {
	t.Helper()
	p, err := faultproxy.Start(s.ln.Addr().String(), faultproxy.Config{Seed: seed})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

// dial connects to the proxy and sends the tag; closed at the test's end.
func dial(t *testing.T, p *faultproxy.Proxy) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	if _, err := c.Write(tag); err != nil {
		t.Fatal(err)
	}
	return c
}

// exchange sends p and expects it echoed back.
func exchange(t *testing.T, c net.Conn, p []byte) {
	t.Helper()
	if err := writeFrame(c, p); err != nil {
		t.Fatalf("write: %v", err)
	}
	expectFrame(t, c, p)
}

// expectFrame reads one frame and compares it with want.
func expectFrame(t *testing.T, c net.Conn, want []byte) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second)) // a hang fails, not blocks
	got, err := readFrame(c)
	_ = c.SetReadDeadline(time.Time{})
	if err != nil {
		t.Fatalf("read frame: %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("frame = %q, want %q", got, want)
	}
}

// expectClosed reads until the connection ends and fails if it does not
// end, or if any byte arrives.
func expectClosed(t *testing.T, c net.Conn) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	b, err := io.ReadAll(c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatal("connection not closed")
	}
	if len(b) > 0 {
		t.Fatalf("read %d bytes before close, want 0", len(b))
	}
}

// expectSilent asserts that nothing arrives on c within a short window:
// absence can only be observed with a deadline.
func expectSilent(t *testing.T, c net.Conn) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	var b [1]byte
	n, err := c.Read(b[:])
	_ = c.SetReadDeadline(time.Time{})
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("read during silence: %d bytes, %v; want a timeout", n, err)
	}
}

// waitFor waits for cond on p's counters, failing after 10 s.
func waitFor(t *testing.T, p *faultproxy.Proxy, what string, cond func(faultproxy.Stats) bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := p.WaitFor(ctx, cond); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}
