package faultproxy_test

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/tlsched/tlsched/internal/faultproxy"
	"go.uber.org/goleak"
)

func TestForwardIntact(t *testing.T) {
	s := startServer(t, echo)
	p := startProxy(t, s, 0)
	sizes := []int{4, 1, 3, 100, 70_000, 1 << 20}
	const conns = 3
	done := make(chan struct{})
	for range conns {
		c := dial(t, p)
		go func() {
			defer func() { done <- struct{}{} }()
			for _, n := range sizes {
				p := payloads(1, n)[0]
				if err := writeFrame(c, p); err != nil {
					t.Errorf("write: %v", err)
					return
				}
				got, err := readFrame(c)
				if err != nil {
					t.Errorf("read: %v", err)
					return
				}
				if string(got) != string(p) {
					t.Errorf("frame of %d bytes came back changed", n)
				}
			}
		}()
	}
	for range conns {
		<-done
	}
	var bytes int64
	for _, n := range sizes {
		bytes += 4 + int64(n)
	}
	waitFor(t, p, "counters", func(st faultproxy.Stats) bool {
		return st.Accepted == conns && st.Open == conns &&
			st.ToServer.Frames == conns*len(sizes) && st.ToClient.Frames == conns*len(sizes) &&
			st.ToServer.Bytes == conns*(4+bytes) && st.ToClient.Bytes == conns*bytes
	})
	if st := p.Stats(); st.Cuts != 0 || st.ToClient.Duplicated != 0 || st.ToClient.Dropped != 0 {
		t.Fatalf("faults without any set: %+v", st)
	}
}

func TestPeerCloseClosesOtherSide(t *testing.T) {
	s := startServer(t, burst([]byte("last")))
	p := startProxy(t, s, 0)
	c := dial(t, p)
	expectFrame(t, c, []byte("last"))
	expectClosed(t, c)
	if err := p.WaitConns(t.Context(), 0); err != nil {
		t.Fatal(err)
	}
	if st := p.Stats(); st.Cuts != 0 {
		t.Fatalf("a peer's close counted as a cut: %+v", st)
	}
}

func TestBadStreamClosed(t *testing.T) {
	s := startServer(t, echo)
	p := startProxy(t, s, 0)
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte{0xef, 1, 2, 3, 4, 5, 6, 7}); err != nil { // abridged tag
		t.Fatal(err)
	}
	expectClosed(t, c)
	waitFor(t, p, "bad stream", func(st faultproxy.Stats) bool { return st.BadStreams == 1 && st.Open == 0 })
	if st := p.Stats(); st.ToServer.Bytes != 0 {
		t.Fatalf("forwarded %d bytes of a bad stream", st.ToServer.Bytes)
	}
}

func TestDialFailure(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	target := ln.Addr().String()
	ln.Close() // nothing listens there now
	p, err := faultproxy.Start(target, faultproxy.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	expectClosed(t, c)
	waitFor(t, p, "dial failure", func(st faultproxy.Stats) bool { return st.DialFailed == 1 && st.Open == 0 })
}

func TestWaitForEndsWithContext(t *testing.T) {
	s := startServer(t, echo)
	p := startProxy(t, s, 0)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	err := p.WaitConns(ctx, 1)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("WaitConns on an ended context = %v, want context.Canceled", err)
	}
}

// TestCloseLeavesNoGoroutines closes the proxy while connections are open in
// every state that parks a goroutine: forwarding, silenced, and in a long
// delay; Close must end them all, promptly.
func TestCloseLeavesNoGoroutines(t *testing.T) {
	s := startServer(t, echo)
	p, err := faultproxy.Start(s.ln.Addr().String(), faultproxy.Config{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	plain := dial(t, p)
	exchange(t, plain, []byte("ping"))

	p.SetFrameFaults(faultproxy.ServerToClient, faultproxy.FrameFaults{Delay: 1, DelayBy: time.Hour})
	delayed := dial(t, p)
	if err := writeFrame(delayed, []byte("slow")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, p, "a delayed frame", func(st faultproxy.Stats) bool { return st.ToClient.Delayed == 1 })
	p.SetFrameFaults(faultproxy.ServerToClient, faultproxy.FrameFaults{})

	p.Silence(faultproxy.ClientToServer)
	silent := dial(t, p)
	if err := writeFrame(silent, []byte("lost")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, p, "a dropped frame", func(st faultproxy.Stats) bool { return st.ToServer.Dropped == 1 })

	closed := make(chan struct{})
	go func() {
		_ = p.Close()
		close(closed)
	}()
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not return")
	}
	for _, c := range []net.Conn{plain, delayed, silent} {
		expectClosed(t, c)
	}
	if err := p.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if st := p.Stats(); st.Open != 0 || st.Cuts != 0 {
		t.Fatalf("after Close: %+v", st)
	}
	s.close()
	goleak.VerifyNone(t)
}
