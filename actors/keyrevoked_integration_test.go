package actors

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/gotd/td/bin"
	"github.com/gotd/td/exchange"
	"github.com/gotd/td/tg"

	"github.com/tlsched/tlsched/mtproto"
	"github.com/tlsched/tlsched/scheduler"
	"github.com/tlsched/tlsched/tgsim"
	"github.com/tlsched/tlsched/tl"
)

// The 406 policy: once the client's key is used from another IP at once
// and the server revokes it (AUTH_KEY_DUPLICATED), the call that hears of
// it fails with a *tl.AuthError asking for a new key, and the Client sends
// nothing more under the key: the next call fails, not sent, with
// *AuthKeyDuplicatedError.
func TestAuthKeyDuplicatedEndsTheKey(t *testing.T) {
	srv, c := startSim(t, tgsim.Config{Key: serverKey(), Flood: tgsim.FloodConfig{Off: true}})
	home := revokeKey(t, srv, c)
	_, err := c.Call(testCtx(t), send(3))
	var dup *AuthKeyDuplicatedError
	if !errors.As(err, &dup) || dup.DC != home || !errors.Is(err, scheduler.ErrNotSent) {
		t.Fatalf("the next call: %v, want an *AuthKeyDuplicatedError, not sent", err)
	}
	if n := srv.Counters().Calls["messages.sendMessage"]; n != 2 {
		t.Fatalf("tgsim saw %d sendMessage calls, want 2: none after the revocation", n)
	}
}

// The key's end outlives the DC actor: restarted by its supervisor after
// a panic, it neither dials with the revoked key nor sends under it, and
// calls for its DC still fail, not sent, with *AuthKeyDuplicatedError. So
// does a DC actor of a restarted scheduler actor.
func TestAuthKeyDuplicatedSurvivesARestart(t *testing.T) {
	srv, err := tgsim.Start(tgsim.Config{Key: serverKey(), Flood: tgsim.FloodConfig{Off: true}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	dialer := &countingDialer{}
	restarted := make(chan struct{}, 1)
	c := startClient(t, Config{
		DCs: srv.DCAddrs(), PublicKeys: []exchange.PublicKey{srv.PublicKey()},
		Scheduler: scheduler.Config{HomeDC: 1}, Store: NewMemoryStore(),
		DialLimits: []DialLimit{}, Dialer: dialer,
		Logger: slog.New(&signalHandler{msg: "auth key ended in a previous life", signal: restarted}),
	})
	home := revokeKey(t, srv, c)
	dials := dialer.n.Load()
	c.system.Root.Send(c.sched, &failDCMsg{dc: home})
	ctx := testCtx(t)
	select {
	case <-restarted:
	case <-time.After(10 * time.Second):
		t.Fatal("the restarted DC actor did not report the key it ended with")
	}
	_, err = c.Call(ctx, send(3))
	var dup *AuthKeyDuplicatedError
	if !errors.As(err, &dup) || dup.DC != home || !errors.Is(err, scheduler.ErrNotSent) {
		t.Fatalf("the call after the restart: %v, want an *AuthKeyDuplicatedError, not sent", err)
	}

	// A restart of the scheduler actor stops its DC actors; the DC actor
	// it spawns for the next call starts with the key ended too.
	c.system.Root.Send(c.sched, &panicMsg{})
	_, err = c.Call(ctx, send(4))
	if !errors.As(err, &dup) || dup.DC != home || !errors.Is(err, scheduler.ErrNotSent) {
		t.Fatalf("the call after the scheduler's restart: %v, want an *AuthKeyDuplicatedError, not sent", err)
	}
	if n := dialer.n.Load(); n != dials {
		t.Fatalf("%d dials after the restarts, want none", n-dials)
	}
	if n := srv.Counters().Calls["messages.sendMessage"]; n != 2 {
		t.Fatalf("tgsim saw %d sendMessage calls, want 2: none after the revocation", n)
	}
}

// signalHandler is a slog.Handler that signals once a record whose
// message starts with msg is logged.
type signalHandler struct {
	msg    string
	signal chan struct{}
}

func (h *signalHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *signalHandler) Handle(_ context.Context, r slog.Record) error {
	if strings.HasPrefix(r.Message, h.msg) {
		select {
		case h.signal <- struct{}{}:
		default:
		}
	}
	return nil
}
func (h *signalHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *signalHandler) WithGroup(string) slog.Handler      { return h }

// revokeKey makes the server revoke c's key, as Telegram does when a key
// is used from two IP addresses at once: c makes a call, the same key then
// makes one from 127.0.0.2 while c's connection is open, and c's next call
// (send(2)) fails with a *tl.AuthError asking for a new key. It returns
// c's home DC, whose key that is.
func revokeKey(t *testing.T, srv *tgsim.Server, c *Client) int {
	t.Helper()
	ctx := testCtx(t)
	if _, err := c.Call(ctx, send(1)); err != nil {
		t.Fatal(err)
	}
	home := srv.Bot().DC // where the calls went (USER_MIGRATE_X)
	key, salt, ok, err := c.cfg.Store.Load(storeName(home, serverID([]exchange.PublicKey{srv.PublicKey()})))
	if err != nil || !ok {
		t.Fatalf("the client's key: %v, %v", ok, err)
	}

	// The same key from 127.0.0.2, one call, while the client's
	// connection from 127.0.0.1 is open.
	conn, err := mtproto.Dial(ctx, mtproto.DialConfig{
		Addr: srv.Addr(home), DC: home, AuthKey: key, Salt: salt,
		Dialer: &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	sess, err := mtproto.New(mtproto.Config{}, conn.AuthKey, conn.Salt)
	if err != nil {
		t.Fatal(err)
	}
	var q bin.Buffer
	if err := (&tg.HelpGetConfigRequest{}).Encode(&q); err != nil {
		t.Fatal(err)
	}
	out, err := sess.Pack(time.Now(), []mtproto.Call{{ID: 1, Body: rawRequest(q.Buf)}})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range out.Frames {
		if err := conn.Send(ctx, &bin.Buffer{Buf: f.Data}); err != nil {
			t.Fatal(err)
		}
	}
	for answered := false; !answered; {
		var b bin.Buffer
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := conn.Recv(rctx, &b)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		rcv, _ := sess.Receive(time.Now(), b.Buf)
		for _, r := range rcv.Results {
			if !keyRevoked(r.Err) {
				t.Fatalf("the second IP's call: %v, want 406 AUTH_KEY_DUPLICATED", r.Err)
			}
			answered = true
		}
	}

	_, err = c.Call(ctx, send(2))
	var ae *tl.AuthError
	if !errors.As(err, &ae) || !ae.NewKey {
		t.Fatalf("the call after the revocation: %v, want a *tl.AuthError with NewKey", err)
	}
	return home
}
