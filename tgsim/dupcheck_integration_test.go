package tgsim_test

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/gotd/td/tg"

	"github.com/tlsched/tlsched/mtproto"
	"github.com/tlsched/tlsched/tgsim"
)

// dialFrom dials DC dc from the loopback address ip with an existing key.
func dialFrom(t *testing.T, srv *tgsim.Server, dc int, ip string, key *mtproto.Conn) *rawClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := mtproto.Dial(ctx, mtproto.DialConfig{
		Addr: srv.Addr(dc), DC: dc, AuthKey: key.AuthKey, Salt: key.Salt,
		Dialer: &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return attachRaw(t, conn)
}

// An auth key used at once from two source IPs is revoked: every call
// under it, on either connection, gets 406 AUTH_KEY_DUPLICATED, as
// Telegram answers. A key used from one IP over two connections, or from a
// new IP once the server saw the old connection close, is not.
func TestAuthKeyDuplicatedAcrossIPs(t *testing.T) {
	t.Parallel()
	srv := startSim(t, tgsim.Config{})
	getConfig := &tg.HelpGetConfigRequest{}

	// Two connections from one IP: fine.
	a := dialRaw(t, srv, 2)
	a.init()
	same := dialFrom(t, srv, 2, "127.0.0.1", a.conn)
	same.init()
	a.ok(a.call(getConfig), nil)

	// The server dropped them; the key comes back from another IP: fine.
	srv.DropConnections()
	moved := dialFrom(t, srv, 2, "127.0.0.2", a.conn)
	moved.init()
	if n := srv.Counters().DuplicatedKeys; n != 0 {
		t.Fatalf("%d keys revoked after a move, want 0", n)
	}

	// While it is open, the same key from a third IP: revoked for both.
	other := dialFrom(t, srv, 2, "127.0.0.3", a.conn)
	other.fails(other.call(wrapInit(getConfig)), 406, "AUTH_KEY_DUPLICATED")
	moved.fails(moved.call(getConfig), 406, "AUTH_KEY_DUPLICATED")
	if n := srv.Counters().DuplicatedKeys; n != 1 {
		t.Fatalf("%d keys revoked, want 1", n)
	}

	// Another key is untouched.
	b := dialFrom(t, srv, 2, "127.0.0.3", dialRaw(t, srv, 2).conn)
	b.init()
}
