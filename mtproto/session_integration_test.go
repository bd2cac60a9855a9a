package mtproto_test

import (
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gotd/td/mt"
	"github.com/gotd/td/proto"
	"github.com/gotd/td/tgtest"

	"github.com/tlsched/tlsched/mtproto"
	"github.com/tlsched/tlsched/mtproto/spec"
)

func TestTgtestThousandCallsInContainers(t *testing.T) {
	a := &app{}
	srv, addr := startServer(t, a, tgtest.ServerOptions{})
	c := dial(t, srv, addr, nil)
	d := newDriver(t, newSession(t, c, mtproto.Config{}))
	d.attach(c)

	d.send(sendCalls(1, 1000))
	d.waitFor("1000 results", func() bool { return len(d.results) == 1000 })
	d.checkAllRouted(1000)

	d.mu.Lock()
	frames := len(d.frames)
	d.mu.Unlock()
	if frames != 1 {
		t.Fatalf("1000 calls went out in %d frames, want one container", frames)
	}
	seen := a.calls()
	if len(seen) != 1000 || !seen[0].Init || seen[1].Init {
		t.Fatalf("server saw %d calls; init on first only: %v %v", len(seen), seen[0].Init, seen[1].Init)
	}
}

func TestTgtestManySmallPacks(t *testing.T) {
	a := &app{gzip: true} // every other result gzip-packed
	srv, addr := startServer(t, a, tgtest.ServerOptions{})
	c := dial(t, srv, addr, nil)
	d := newDriver(t, newSession(t, c, mtproto.Config{MaxMessages: 64}))
	d.attach(c)

	for i := 0; i < 10; i++ {
		d.send(sendCalls(1+i*100, 100))
	}
	d.waitFor("1000 results", func() bool { return len(d.results) == 1000 })
	d.checkAllRouted(1000)
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, f := range d.frames {
		if f.Messages > 64 {
			t.Fatalf("frame with %d messages over the cap of 64", f.Messages)
		}
	}
}

func TestTgtestInvokeAfterMsgChain(t *testing.T) {
	a := &app{}
	srv, addr := startServer(t, a, tgtest.ServerOptions{})
	c := dial(t, srv, addr, nil)
	d := newDriver(t, newSession(t, c, mtproto.Config{}))
	d.attach(c)

	const n = 40
	chain := sendCalls(1, n)
	for i := 1; i < n; i++ {
		chain[i].After = chain[i-1].ID
	}
	// Sent in packs of 5, without waiting for results in between.
	for i := 0; i < n; i += 5 {
		d.send(chain[i : i+5])
	}
	d.waitFor("chain results", func() bool { return len(d.results) == n })
	d.checkAllRouted(n)

	seen := a.calls()
	for i, c := range seen {
		if c.RandomID != int64(i+1) {
			t.Fatalf("call %d arrived at position %d", c.RandomID, i)
		}
		if i == 0 {
			if c.After != 0 {
				t.Fatal("chain head wrapped")
			}
			continue
		}
		// The first call of a pack may find its predecessor answered
		// already: then there is nothing to wait for and it goes unwrapped.
		if c.After == 0 && i%5 == 0 {
			continue
		}
		if c.After != seen[i-1].MsgID {
			t.Fatalf("call %d waits for msg %d, want its predecessor's %d", c.RandomID, c.After, seen[i-1].MsgID)
		}
	}
}

func TestTgtestBadServerSaltRecovered(t *testing.T) {
	a := &app{}
	srv, addr := startServer(t, a, tgtest.ServerOptions{})
	c := dial(t, srv, addr, nil)
	d := newDriver(t, newSession(t, c, mtproto.Config{}))

	const newSalt = 0x5a17
	var rejected int64 // the container the server refuses, by its msg_id
	a.hook = func(srv *tgtest.Server, req *tgtest.Request, sc seenCall) bool {
		f, _ := d.frameOf.Load(sc.MsgID)
		frame, _ := f.(int64)
		if rejected == 0 {
			rejected = frame
			// MTProto: a bad salt rejects the whole container, named by its id.
			if err := srv.Send(req.RequestCtx, req.Session, proto.MessageServerResponse, &mt.BadServerSalt{
				BadMsgID: frame, BadMsgSeqno: 0, ErrorCode: spec.BadMsgServerSalt, NewServerSalt: newSalt,
			}); err != nil {
				t.Error(err)
			}
		}
		return frame == rejected // drop the rest of the rejected container
	}
	d.attach(c)
	d.send(sendCalls(1, 10))
	d.waitFor("10 results", func() bool { return len(d.results) == 10 })
	d.checkAllRouted(10)

	d.mu.Lock()
	defer d.mu.Unlock()
	if d.s.Salt() != newSalt {
		t.Fatalf("salt %#x, want %#x", d.s.Salt(), newSalt)
	}
	if len(d.resent) != 1 || d.resent[0].Reason != mtproto.ResendBadSalt || len(d.resent[0].Calls) != 10 {
		t.Fatalf("resent %+v", d.resent)
	}
	if got := len(a.calls()); got != 20 {
		t.Fatalf("server saw %d calls, want 10 rejected + 10 resent", got)
	}
}

func TestTgtestTimeSyncRecovered(t *testing.T) {
	for _, tc := range []struct {
		name string
		skew time.Duration
		code int
	}{
		{"server ahead, msg_id too low", time.Hour, 16},
		{"server behind, msg_id too high", -time.Hour, 17},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := &app{}
			clk := shiftedClock{tc.skew}
			srv, addr := startServer(t, a, tgtest.ServerOptions{Clock: clk})
			c := dial(t, srv, addr, nil)
			d := newDriver(t, newSession(t, c, mtproto.Config{}))
			notified := map[int64]bool{}
			a.hook = func(srv *tgtest.Server, req *tgtest.Request, sc seenCall) bool {
				// MTProto: reject msg_ids over 300 s old or 30 s ahead.
				skew := proto.MessageID(sc.MsgID).Time().Sub(clk.Now())
				if skew > -300*time.Second && skew < 30*time.Second {
					return false
				}
				f, _ := d.frameOf.Load(sc.MsgID)
				frame := f.(int64)
				if !notified[frame] {
					notified[frame] = true
					if err := srv.Send(req.RequestCtx, req.Session, proto.MessageServerResponse, &mt.BadMsgNotification{
						BadMsgID: frame, ErrorCode: tc.code,
					}); err != nil {
						t.Error(err)
					}
				}
				return true
			}
			d.attach(c)
			d.send(sendCalls(1, 20))
			d.waitFor("20 results", func() bool { return len(d.results) == 20 })
			d.checkAllRouted(20)
			d.mu.Lock()
			defer d.mu.Unlock()
			if off := d.s.TimeOffset(); off < tc.skew-2*time.Second || off > tc.skew+2*time.Second {
				t.Fatalf("time offset %v, want about %v", off, tc.skew)
			}
			if len(d.resent) == 0 || d.resent[0].Reason != mtproto.ResendTimeSync {
				t.Fatalf("resent %+v", d.resent)
			}
		})
	}
}

func TestTgtestDisconnectLeavesExactlyUnanswered(t *testing.T) {
	a := &app{}
	srv, addr := startServer(t, a, tgtest.ServerOptions{})
	c := dial(t, srv, addr, nil)
	d := newDriver(t, newSession(t, c, mtproto.Config{}))
	var cut atomic.Bool
	cut.Store(true)
	a.hook = func(srv *tgtest.Server, req *tgtest.Request, sc seenCall) bool {
		if !cut.Load() || sc.RandomID < 60 {
			return false
		}
		if sc.RandomID == 60 {
			srv.ForceDisconnect(req.Session)
		}
		return true
	}
	d.attach(c)
	d.send(sendCalls(1, 100))
	d.waitFor("disconnect", func() bool { return d.readErr != nil })

	d.mu.Lock()
	unanswered := d.s.Unanswered()
	slices.Sort(unanswered)
	var want []mtproto.CallID
	for i := 60; i <= 100; i++ {
		want = append(want, mtproto.CallID(i))
	}
	if !slices.Equal(unanswered, want) {
		d.mu.Unlock()
		t.Fatalf("unanswered %v, want 60..100", unanswered)
	}
	if len(d.results) != 59 {
		d.mu.Unlock()
		t.Fatalf("%d results before the cut, want 59", len(d.results))
	}
	// The server dropped the session with the connection: start a fresh
	// one on the saved key and resend what is unanswered.
	cut.Store(false)
	r, err := d.s.NewSession(mtproto.ResendReconnect)
	d.mu.Unlock()
	if err != nil || len(r.Calls) != 41 {
		t.Fatalf("resend after reconnect: %v %d calls", err, len(r.Calls))
	}
	c2 := dial(t, srv, addr, c)
	if c2.Exchanged {
		t.Fatal("saved key not reused")
	}
	d.attach(c2)
	d.flush()
	d.waitFor("all 100 results", func() bool { return len(d.results) == 100 })
	d.checkAllRouted(100)
}
