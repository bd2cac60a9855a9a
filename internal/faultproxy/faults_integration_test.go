package faultproxy_test

import (
	"bytes"
	"io"
	"net"
	"testing"
	"time"

	"github.com/tlsched/tlsched/internal/faultproxy"
)

func TestCutClosesBothSides(t *testing.T) {
	s := startServer(t, echo)
	p := startProxy(t, s, 0)
	c := dial(t, p)
	exchange(t, c, []byte("before"))
	if n := p.Cut(); n != 1 {
		t.Fatalf("Cut() = %d, want 1", n)
	}
	expectClosed(t, c)
	if err := s.waitEnded(t); err != io.EOF {
		t.Fatalf("server side ended with %v, want EOF", err)
	}
	waitFor(t, p, "cut counted", func(st faultproxy.Stats) bool { return st.Cuts == 1 && st.Open == 0 })

	// A cut is of the connections open then: the next one works.
	exchange(t, dial(t, p), []byte("after"))
	if n := p.Cut(); n != 1 {
		t.Fatalf("second Cut() = %d, want 1", n)
	}
	if n := p.Cut(); n != 0 {
		t.Fatalf("Cut() with nothing open = %d, want 0", n)
	}
}

// readAllAfterCut reads until the proxy cuts c and returns the bytes.
func readAllAfterCut(t *testing.T, c net.Conn) []byte {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	b, err := io.ReadAll(c)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatalf("not cut; read %d bytes", len(b))
	}
	return b
}

func TestCutAfterServerToClient(t *testing.T) {
	frames := payloads(10, 8) // 120 bytes on the wire
	var wire []byte
	for _, f := range frames {
		wire = append(wire, frameBytes(f)...)
	}
	tests := []struct {
		name     string
		min, max int64
		want     int // -1: any in [min, max]
	}{
		{"mid-frame", 17, 17, 17},
		{"frame boundary", 24, 24, 24},
		{"at once", 0, 0, 0},
		{"range", 1, 119, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			run := func(seed uint64) []byte {
				s := startServer(t, burst(frames...))
				p := startProxy(t, s, seed)
				p.CutAfter(faultproxy.CutRule{Min: tt.min, Max: tt.max, Dir: faultproxy.ServerToClient})
				got := readAllAfterCut(t, dial(t, p))
				waitFor(t, p, "cut", func(st faultproxy.Stats) bool {
					return st.Cuts == 1 && st.Open == 0 && st.ToClient.Bytes == int64(len(got))
				})
				if !bytes.Equal(got, wire[:len(got)]) {
					t.Fatalf("bytes before the cut differ from the stream")
				}
				if want := len(got) / 12; p.Stats().ToClient.Frames != want {
					t.Fatalf("Frames = %d, want %d whole frames", p.Stats().ToClient.Frames, want)
				}
				return got
			}
			got := run(42)
			if tt.want >= 0 && len(got) != tt.want {
				t.Fatalf("client read %d bytes, want %d", len(got), tt.want)
			}
			if int64(len(got)) < tt.min || int64(len(got)) > tt.max {
				t.Fatalf("client read %d bytes, want in [%d, %d]", len(got), tt.min, tt.max)
			}
			if again := run(42); len(again) != len(got) {
				t.Fatalf("same seed cut at %d then %d", len(got), len(again))
			}
		})
	}
}

func TestCutAfterClientToServer(t *testing.T) {
	got := make(chan []byte, 1)
	s := startServer(t, record(got))
	p := startProxy(t, s, 0)
	p.CutAfter(faultproxy.CutRule{Min: 6, Max: 6, Dir: faultproxy.ClientToServer})
	c := dial(t, p)
	if err := writeFrame(c, []byte("12345678")); err != nil {
		t.Fatal(err)
	}
	select {
	case b := <-got:
		// The tag and 2 bytes of the length prefix.
		if want := append(append([]byte{}, tag...), 8, 0); !bytes.Equal(b, want) {
			t.Fatalf("server got %x, want %x", b, want)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("server connection not cut")
	}
	expectClosed(t, c)
	waitFor(t, p, "cut", func(st faultproxy.Stats) bool { return st.Cuts == 1 && st.ToServer.Bytes == 6 })
}

func TestCutAfterNextOnlyAndOpen(t *testing.T) {
	s := startServer(t, echo)
	p := startProxy(t, s, 0)
	open := dial(t, p)
	exchange(t, open, []byte("open"))

	// NextOnly leaves the open connection alone and cuts the next one
	// after its tag and one 8-byte frame (12 bytes) have gone to the server.
	p.CutAfter(faultproxy.CutRule{Min: 16, Max: 16, Dir: faultproxy.ClientToServer, NextOnly: true})
	next := dial(t, p)
	if err := writeFrame(next, []byte("12345678")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, p, "next cut", func(st faultproxy.Stats) bool { return st.Cuts == 1 })
	readAllAfterCut(t, next) // the echo may or may not have won the race with the cut
	exchange(t, open, []byte("still open"))
	exchange(t, dial(t, p), []byte("third, not cut"))

	// A rule for all applies to open connections from now: 8 more bytes
	// from the client cut after one 4-byte frame.
	p.CutAfter(faultproxy.CutRule{Min: 8, Max: 8, Dir: faultproxy.ClientToServer})
	if err := writeFrame(open, []byte("last")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, p, "all cut", func(st faultproxy.Stats) bool { return st.Cuts == 2 })
	p.StopCuts()
	exchange(t, dial(t, p), []byte("after StopCuts"))
}

func TestSilence(t *testing.T) {
	tests := []struct {
		name string
		dir  faultproxy.Direction
		drop func(faultproxy.Stats) int
	}{
		{"server to client", faultproxy.ServerToClient, func(st faultproxy.Stats) int { return st.ToClient.Dropped }},
		{"client to server", faultproxy.ClientToServer, func(st faultproxy.Stats) int { return st.ToServer.Dropped }},
		{"both", faultproxy.Both, func(st faultproxy.Stats) int { return st.ToServer.Dropped }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := startServer(t, echo)
			p := startProxy(t, s, 0)
			c := dial(t, p)
			exchange(t, c, []byte("before"))

			p.Silence(tt.dir)
			if err := writeFrame(c, []byte("lost")); err != nil {
				t.Fatal(err)
			}
			waitFor(t, p, "a dropped frame", func(st faultproxy.Stats) bool { return tt.drop(st) == 1 })
			expectSilent(t, c)

			// A connection opened during silence is accepted, silent too.
			fresh := dial(t, p)
			if err := writeFrame(fresh, []byte("lost too")); err != nil {
				t.Fatal(err)
			}
			waitFor(t, p, "a second dropped frame", func(st faultproxy.Stats) bool { return tt.drop(st) == 2 })
			expectSilent(t, fresh)

			p.Silence(0)
			exchange(t, c, []byte("after")) // "lost" is gone for good
			exchange(t, fresh, []byte("fresh after"))
			if st := p.Stats(); st.Cuts != 0 || st.Open != 2 || s.count() != 2 {
				t.Fatalf("silence closed something: %+v, server accepted %d", st, s.count())
			}
		})
	}
}

func TestRefuse(t *testing.T) {
	s := startServer(t, echo)
	p := startProxy(t, s, 0)
	before := dial(t, p)
	exchange(t, before, []byte("before"))

	if n := p.Refuse(true); n != 1 {
		t.Fatalf("Refuse(true) cut %d, want 1", n)
	}
	expectClosed(t, before)
	refused := dial(t, p) // the dial itself succeeds
	expectClosed(t, refused)
	waitFor(t, p, "refused", func(st faultproxy.Stats) bool {
		return st.Refused == 1 && st.Accepted == 2 && st.Cuts == 1 && st.Open == 0
	})
	if n := s.count(); n != 1 {
		t.Fatalf("target saw %d connections, want 1 (a refused one is not dialled)", n)
	}

	p.Refuse(false)
	exchange(t, dial(t, p), []byte("after"))
}
