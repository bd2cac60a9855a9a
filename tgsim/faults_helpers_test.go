package tgsim_test

import (
	"context"
	"encoding/binary"
	"testing"
	"time"

	"github.com/gotd/td/bin"
	"github.com/gotd/td/exchange"
	"github.com/gotd/td/mt"
	"github.com/gotd/td/tg"

	"github.com/tlsched/tlsched/mtproto"
	"github.com/tlsched/tlsched/tgsim"
)

// redial opens a new connection under old's auth key and, when
// sameSession, continues old's session (msg_ids, seqnos, salt).
func redial(t testing.TB, srv *tgsim.Server, dc int, old *rawClient, sameSession bool) *rawClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := mtproto.Dial(ctx, mtproto.DialConfig{
		Addr: srv.Addr(dc), DC: dc, PublicKeys: []exchange.PublicKey{srv.PublicKey()},
		AuthKey: old.conn.AuthKey, Salt: old.salt,
	})
	if err != nil {
		t.Fatal(err)
	}
	c := attachRaw(t, conn)
	c.salt, c.last = old.salt, old.last
	if sameSession {
		c.session, c.content = old.session, old.content
	}
	return c
}

// poll waits for cond, for what has no event to wait on (a counter the
// server bumps after it acted). It fails the test after 20 s.
func poll(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("no %s within 20 s", what)
		}
		<-tick.C
	}
}

// stateOf asks the server for the msgs_state_info of ids.
func (c *rawClient) stateOf(ids ...int64) []byte {
	c.t.Helper()
	req := c.nextID()
	c.sendRaw(c.salt, req, c.plainSeq(), encode(c.t, &mt.MsgsStateReq{MsgIDs: ids}))
	m := c.next("msgs_state_info", func(m srvMsg) bool {
		return m.typ == mt.MsgsStateInfoTypeID && int64(binary.LittleEndian.Uint64(m.body[4:])) == req
	})
	var info mt.MsgsStateInfo
	if err := info.Decode(&bin.Buffer{Buf: m.body}); err != nil {
		c.t.Fatal(err)
	}
	if m.seqno%2 != 0 {
		c.t.Fatalf("msgs_state_info came with odd seqno %d: it needs no acknowledgement", m.seqno)
	}
	return []byte(info.Info)
}

// roundTrip makes one cheap call and waits for its answer: everything the
// server queued before it has been read once it returns.
func (c *rawClient) roundTrip() {
	c.t.Helper()
	c.ok(c.call(&tg.HelpGetNearestDCRequest{}), nil)
}

// reqOf is the req_msg_id of an rpc_result message.
func reqOf(m srvMsg) int64 { return int64(binary.LittleEndian.Uint64(m.body[4:])) }
