package tgsim_test

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/gotd/td/bin"
	"github.com/gotd/td/proto/codec"
	"github.com/gotd/td/tg"
	"github.com/gotd/td/transport"

	"github.com/tlsched/tlsched/tgsim"
)

// rawTransport opens a bare transport connection (intermediate codec).
func rawTransport(t *testing.T, addr string) transport.Conn {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c, err := transport.Intermediate.Handshake(nc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func recvErr(t *testing.T, c transport.Conn) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var b bin.Buffer
	err := c.Recv(ctx, &b)
	if err == nil {
		t.Fatalf("got a %d-byte frame, want an error or a closed connection", len(b.Buf))
	}
	if ctx.Err() != nil {
		t.Fatal("the server neither answered nor closed the connection")
	}
	return err
}

func TestBadInput(t *testing.T) {
	t.Parallel()
	srv := startSim(t, tgsim.Config{MaxFrame: 4096})
	good := loggedIn(t, srv)

	// An unknown auth key: transport error -404, and the connection stays.
	tc := rawTransport(t, srv.Addr(2))
	frame := make([]byte, 8+16+32)
	_, _ = rand.Read(frame)
	for range 2 {
		if err := tc.Send(context.Background(), &bin.Buffer{Buf: slices.Clone(frame)}); err != nil {
			t.Fatal(err)
		}
		var pe *codec.ProtocolErr
		if err := recvErr(t, tc); !errors.As(err, &pe) || pe.Code != codec.CodeAuthKeyNotFound {
			t.Fatalf("unknown auth key: %v, want transport error -404", err)
		}
	}

	// A frame under a known key that does not decrypt (bad msg_key/padding):
	// the connection is closed.
	bad := dialRaw(t, srv, 2)
	copy(frame, bad.conn.AuthKey.ID[:])
	if err := bad.conn.Send(context.Background(), &bin.Buffer{Buf: slices.Clone(frame)}); err != nil {
		t.Fatal(err)
	}
	if err := <-bad.closed; err == nil {
		t.Fatal("connection stayed open after an undecryptable frame")
	}
	bad.closed <- nil // for the cleanup

	// Too short, and too long.
	for name, size := range map[string]int{"short": 4, "oversized": 8192} {
		tc := rawTransport(t, srv.Addr(2))
		b := make([]byte, size)
		_, _ = rand.Read(b)
		b[0] |= 1 // not an all-zero auth key id (that starts a key exchange)
		if err := tc.Send(context.Background(), &bin.Buffer{Buf: b}); err != nil {
			t.Fatal(err)
		}
		if err := recvErr(t, tc); err == nil {
			t.Fatalf("%s frame: connection not closed", name)
		}
	}

	// A broken key exchange.
	tc = rawTransport(t, srv.Addr(1))
	junk := make([]byte, 40) // auth_key_id 0, then nonsense
	_, _ = rand.Read(junk[8:])
	if err := tc.Send(context.Background(), &bin.Buffer{Buf: junk}); err != nil {
		t.Fatal(err)
	}
	recvErr(t, tc)

	// A garbage transport header.
	nc, err := net.Dial("tcp", srv.Addr(1))
	if err != nil {
		t.Fatal(err)
	}
	_, _ = nc.Write([]byte{0xde, 0xad, 0xbe, 0xef, 0, 0, 0, 0})
	nc.Close()

	// Through all of it, the other connection kept being served.
	good.ok(good.call(&tg.HelpGetNearestDCRequest{}), nil)
	got := srv.Counters()
	if got.UnknownAuthKeys != 2 || got.Errors["decrypt"] != 1 || got.Errors["oversized_frame"] != 1 || got.Errors["malformed_frame"] < 1 {
		t.Fatalf("counters: unknown keys %d, errors %v", got.UnknownAuthKeys, got.Errors)
	}
}

func TestFaults(t *testing.T) {
	t.Parallel()
	srv := startSim(t, tgsim.Config{Latency: tgsim.NoLatency})

	// Drop after N frames.
	srv.SetFaults(tgsim.Faults{DropAfterFrames: 3})
	c := dialRaw(t, srv, 2)
	c.init()                                         // frame 1
	c.ok(c.call(&tg.HelpGetNearestDCRequest{}), nil) // frame 2
	c.call(&tg.HelpGetNearestDCRequest{})            // frame 3: the server hangs up
	for range c.msgs {
	}
	if got := srv.Counters().Drops; got != 1 {
		t.Fatalf("Drops = %d, want 1", got)
	}

	// Clock skew: the server's clock 60 s behind makes our msg_ids look
	// too far ahead (bad_msg 17).
	srv.SetFaults(tgsim.Faults{ClockSkew: -60 * time.Second})
	c = dialRaw(t, srv, 2)
	id := c.nextID()
	c.sendRaw(c.salt, id, c.contentSeq(), encode(t, wrapInit(&tg.HelpGetConfigRequest{})))
	if code := c.badMsg(id); code != 17 {
		t.Fatalf("skewed clock: bad_msg %d, want 17", code)
	}

	// Reordered replies: with a reply delay, 50 results answered at once
	// leave in one flush, shuffled.
	srv.SetFaults(tgsim.Faults{Reorder: true, ReplyDelay: 50 * time.Millisecond})
	c = dialRaw(t, srv, 2)
	c.init()
	qs := make([]bin.Encoder, 50)
	for i := range qs {
		qs[i] = &tg.HelpGetNearestDCRequest{}
	}
	ids := c.container(qs...)
	var order []int64
	for range ids {
		m := c.next("result", ofType(0xf35c6d01))
		order = append(order, int64(binary.LittleEndian.Uint64(m.body[4:])))
	}
	if slices.Equal(order, ids) {
		t.Fatal("replies came back in request order despite Reorder")
	}

	// DropConnections closes every connection; the key survives.
	srv.SetFaults(tgsim.Faults{})
	srv.DropConnections()
	for range c.msgs {
	}
}
