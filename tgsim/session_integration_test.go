package tgsim_test

import (
	"encoding/binary"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gotd/td/bin"
	"github.com/gotd/td/mt"
	"github.com/gotd/td/proto"
	"github.com/gotd/td/tg"

	"github.com/tlsched/tlsched/tgsim"
)

func TestInitConnectionRequired(t *testing.T) {
	t.Parallel()
	srv := startSim(t, tgsim.Config{})
	c := dialRaw(t, srv, 2)
	c.fails(c.call(&tg.HelpGetNearestDCRequest{}), 400, "CONNECTION_NOT_INITED")
	cfg := c.init()
	if cfg.ThisDC != 2 || len(cfg.DCOptions) != 3 {
		t.Fatalf("help.getConfig: this_dc %d, %d DC options; want 2 and 3", cfg.ThisDC, len(cfg.DCOptions))
	}
	for i, o := range cfg.DCOptions {
		if o.ID != i+1 || o.IPAddress != "127.0.0.1" || srv.Addr(o.ID) == "" {
			t.Fatalf("DC option %d: %+v", i, o)
		}
	}
	var near tg.NearestDC
	c.ok(c.call(&tg.HelpGetNearestDCRequest{}), &near) // unwrapped is fine once initialised
	if near.ThisDC != 2 {
		t.Fatalf("nearest DC: %+v", near)
	}
}

func TestNewSessionCreated(t *testing.T) {
	t.Parallel()
	srv := startSim(t, tgsim.Config{})
	c := dialRaw(t, srv, 1)
	ids := c.container(wrapInit(&tg.HelpGetConfigRequest{}), &tg.HelpGetNearestDCRequest{})
	m := c.next("new_session_created", ofType(mt.NewSessionCreatedTypeID))
	var n mt.NewSessionCreated
	if err := n.Decode(&bin.Buffer{Buf: m.body}); err != nil {
		t.Fatal(err)
	}
	if n.FirstMsgID != ids[0] {
		t.Fatalf("first_msg_id %d, want the first message of the session %d", n.FirstMsgID, ids[0])
	}
	c.ok(ids[0], nil)
	c.ok(ids[1], nil)
	// A second session on the same key gets its own notice.
	c.session++
	c.content = 0
	id := c.call(&tg.HelpGetNearestDCRequest{})
	c.next("new_session_created for the second session", func(m srvMsg) bool {
		t.Logf("msg %x frame %d", m.typ, m.frame)
		return m.typ == mt.NewSessionCreatedTypeID
	})
	c.ok(id, nil)
	if got := srv.Counters().NewSessions; got != 2 {
		t.Fatalf("NewSessions = %d, want 2", got)
	}
}

func TestMsgIDRules(t *testing.T) {
	t.Parallel()
	srv := startSim(t, tgsim.Config{})
	c := dialRaw(t, srv, 1)
	c.init()
	body := encode(t, &tg.HelpGetNearestDCRequest{})
	cases := []struct {
		name string
		id   int64
		code int
	}{
		{"not divisible by 4", c.nextID() + 1, 18},
		{"301 s in the past", int64(proto.NewMessageID(time.Now().Add(-301*time.Second), proto.MessageFromClient)), 16},
		{"31 s in the future", int64(proto.NewMessageID(time.Now().Add(31*time.Second), proto.MessageFromClient)), 17},
	}
	for _, tc := range cases {
		c.sendRaw(c.salt, tc.id, c.contentSeq(), body)
		if got := c.badMsg(tc.id); got != tc.code {
			t.Errorf("%s: bad_msg code %d, want %d", tc.name, got, tc.code)
		}
	}
	// A replayed msg_id is ignored: the second copy gets no answer, and the
	// next call is still served.
	id := c.nextID()
	c.sendRaw(c.salt, id, c.contentSeq(), body)
	c.ok(id, nil)
	c.sendRaw(c.salt, id, c.contentSeq(), body)
	c.ok(c.call(&tg.HelpGetNearestDCRequest{}), nil)
	if got := srv.Counters().Errors["replayed_msg_id"]; got != 1 {
		t.Fatalf("replayed_msg_id = %d, want 1", got)
	}
	if n := len(c.backlog); n != 0 {
		for _, m := range c.backlog {
			if m.typ == mt.RPCResultTypeID {
				t.Fatalf("the replayed message was answered")
			}
		}
	}
}

func TestSeqnoRules(t *testing.T) {
	t.Parallel()
	srv := startSim(t, tgsim.Config{})
	c := dialRaw(t, srv, 1)
	c.init()
	q := encode(t, &tg.HelpGetNearestDCRequest{})

	id := c.nextID()
	c.sendRaw(c.salt, id, c.plainSeq(), q) // a query with an even seqno
	if got := c.badMsg(id); got != 35 {
		t.Fatalf("RPC query with even seqno: bad_msg %d, want 35", got)
	}
	id = c.nextID()
	c.sendRaw(c.salt, id, c.contentSeq(), encode(t, &mt.MsgsAck{MsgIDs: []int64{1}})) // an ack with an odd seqno
	if got := c.badMsg(id); got != 34 {
		t.Fatalf("msgs_ack with odd seqno: bad_msg %d, want 34", got)
	}

	// Seqnos grow with msg_ids: a later id with a lower seqno is too low
	// (32), an earlier id with a higher seqno too high (33).
	early, late := c.nextID(), c.nextID()
	c.content += 5
	high := c.contentSeq()
	c.sendRaw(c.salt, late, high, q)
	c.ok(late, nil)
	c.sendRaw(c.salt, early, high+2, q)
	if got := c.badMsg(early); got != 33 {
		t.Fatalf("earlier msg_id with higher seqno: bad_msg %d, want 33", got)
	}
	id = c.nextID()
	c.sendRaw(c.salt, id, high-2, q)
	if got := c.badMsg(id); got != 32 {
		t.Fatalf("later msg_id with lower seqno: bad_msg %d, want 32", got)
	}
	c.ok(c.call(&tg.HelpGetNearestDCRequest{}), nil)
}

func TestContainerRules(t *testing.T) {
	t.Parallel()
	srv := startSim(t, tgsim.Config{})
	c := dialRaw(t, srv, 1)
	c.init()
	q := encode(t, &tg.HelpGetNearestDCRequest{})
	msg := func(id int64) proto.Message {
		return proto.Message{ID: id, SeqNo: int(c.contentSeq()), Bytes: len(q), Body: q}
	}

	// An inner msg_id not below the container's.
	outer := c.nextID()
	cont := proto.MessageContainer{Messages: []proto.Message{msg(c.nextID())}}
	c.sendRaw(c.salt, outer, c.plainSeq(), encode(t, &cont))
	if got := c.badMsg(outer); got != 64 {
		t.Fatalf("inner id above the container's: bad_msg %d, want 64", got)
	}

	// A container inside a container.
	innerID := c.nextID()
	inner := proto.MessageContainer{Messages: []proto.Message{msg(innerID)}}
	ib := encode(t, &inner)
	nestedID := c.nextID()
	outer = c.nextID()
	cont = proto.MessageContainer{Messages: []proto.Message{{ID: nestedID, SeqNo: int(c.plainSeq()), Bytes: len(ib), Body: ib}}}
	c.sendRaw(c.salt, outer, c.plainSeq(), encode(t, &cont))
	if got := c.badMsg(outer); got != 64 {
		t.Fatalf("nested container: bad_msg %d, want 64", got)
	}

	// A container is not content-related: its seqno must be even.
	a := c.nextID()
	outer = c.nextID()
	cont = proto.MessageContainer{Messages: []proto.Message{msg(a)}}
	c.sendRaw(c.salt, outer, c.plainSeq()+1, encode(t, &cont))
	if got := c.badMsg(outer); got != 34 {
		t.Fatalf("odd container seqno: bad_msg %d, want 34", got)
	}

	// A good container: every call answered.
	ids := c.container(&tg.HelpGetNearestDCRequest{}, &tg.HelpGetNearestDCRequest{}, &tg.HelpGetNearestDCRequest{})
	for _, id := range ids {
		c.ok(id, nil)
	}
	if got := srv.Counters().Errors["bad_msg_64"]; got != 2 {
		t.Fatalf("bad_msg_64 = %d, want 2", got)
	}
}

// clock is a settable server clock for tests: real time plus an offset the
// test moves.
type clock struct{ off atomic.Int64 }

func (c *clock) Now() time.Time          { return time.Now().Add(time.Duration(c.off.Load())) }
func (c *clock) advance(d time.Duration) { c.off.Add(int64(d)) }

func TestSalts(t *testing.T) {
	t.Parallel()
	var clk clock
	srv := startSim(t, tgsim.Config{Now: clk.Now, SaltPeriod: 10 * time.Second})
	c := dialRaw(t, srv, 1)
	c.init() // the key exchange's salt is valid for the first period

	badSalt := func(salt int64) int64 {
		t.Helper()
		id := c.nextID()
		c.sendRaw(salt, id, c.contentSeq(), encode(t, &tg.HelpGetNearestDCRequest{}))
		m := c.next("bad_server_salt", ofType(mt.BadServerSaltTypeID))
		var n mt.BadServerSalt
		if err := n.Decode(&bin.Buffer{Buf: m.body}); err != nil {
			t.Fatal(err)
		}
		if n.BadMsgID != id || n.ErrorCode != 48 || n.NewServerSalt == salt {
			t.Fatalf("bad_server_salt %+v for msg %d", n, id)
		}
		return n.NewServerSalt
	}
	c.salt = badSalt(c.salt + 1)
	c.ok(c.call(&tg.HelpGetNearestDCRequest{}), nil)

	// get_future_salts: the first is the current one.
	id := c.nextID()
	c.sendRaw(c.salt, id, c.contentSeq(), encode(t, &mt.GetFutureSaltsRequest{Num: 3}))
	m := c.next("future_salts", ofType(mt.FutureSaltsTypeID))
	var fs mt.FutureSalts
	if err := fs.Decode(&bin.Buffer{Buf: m.body}); err != nil {
		t.Fatal(err)
	}
	if fs.ReqMsgID != id || len(fs.Salts) != 3 || fs.Salts[0].Salt != c.salt || fs.Salts[1].ValidSince <= fs.Salts[0].ValidSince {
		t.Fatalf("future_salts %+v", fs)
	}

	// One period later the salt is still accepted (overlap); two periods
	// later it is stale.
	clk.advance(10 * time.Second)
	c.ok(c.call(&tg.HelpGetNearestDCRequest{}), nil)
	clk.advance(10 * time.Second)
	c.salt = badSalt(c.salt)
	if c.salt != fs.Salts[2].Salt {
		t.Fatalf("new salt %d is not the one get_future_salts announced for now (%d)", c.salt, fs.Salts[2].Salt)
	}
	c.ok(c.call(&tg.HelpGetNearestDCRequest{}), nil)

	// A forced rotation makes every salt stale at once.
	srv.RotateSalts()
	c.salt = badSalt(c.salt)
	c.ok(c.call(&tg.HelpGetNearestDCRequest{}), nil)
	if got := srv.Counters().Errors["bad_server_salt"]; got != 3 {
		t.Fatalf("bad_server_salt counted %d, want 3", got)
	}
}

func TestAcksResendReqAndPings(t *testing.T) {
	t.Parallel()
	srv := startSim(t, tgsim.Config{
		MethodLatency: map[string]tgsim.Latency{"users.getFullUser": {Base: 300 * time.Millisecond}},
		AckDelay:      10 * time.Millisecond,
	})
	c := dialRaw(t, srv, 2)
	c.init()
	// A call that runs longer than the ack delay is acknowledged first.
	id := c.call(&tg.UsersGetFullUserRequest{ID: &tg.InputUserSelf{}})
	c.next("msgs_ack of the slow call", func(m srvMsg) bool {
		if m.typ != mt.MsgsAckTypeID {
			return false
		}
		var a mt.MsgsAck
		_ = a.Decode(&bin.Buffer{Buf: m.body})
		return slices.Contains(a.MsgIDs, id)
	})
	m := c.resultMsg(id)
	if int64(binary.LittleEndian.Uint64(m.body[4:])) != id {
		t.Fatal("wrong result")
	}

	// msg_resend_req for the server message that carried the result: the
	// result comes again, under a new msg_id.
	rid := c.nextID()
	c.sendRaw(c.salt, rid, c.contentSeq(), encode(t, &mt.MsgResendReq{MsgIDs: []int64{m.id}}))
	again := c.resultMsg(id)
	if again.id == m.id || string(again.body) != string(m.body) {
		t.Fatalf("resent result: id %d (was %d), same body %v", again.id, m.id, string(again.body) == string(m.body))
	}
	// Once acknowledged it is forgotten: nothing to resend.
	c.sendRaw(c.salt, c.nextID(), c.plainSeq(), encode(t, &mt.MsgsAck{MsgIDs: []int64{again.id}}))
	c.sendRaw(c.salt, c.nextID(), c.contentSeq(), encode(t, &mt.MsgResendReq{MsgIDs: []int64{again.id}}))

	// ping → pong.
	pid := c.nextID()
	c.sendRaw(c.salt, pid, c.contentSeq(), encode(t, &mt.PingRequest{PingID: 42}))
	pm := c.next("pong", ofType(mt.PongTypeID))
	var pong mt.Pong
	_ = pong.Decode(&bin.Buffer{Buf: pm.body})
	if pong.MsgID != pid || pong.PingID != 42 {
		t.Fatalf("pong %+v for ping %d", pong, pid)
	}
	if got := srv.Counters(); got.Resent != 1 || got.AcksIn != 1 {
		t.Fatalf("Resent = %d (want 1), AcksIn = %d (want 1)", got.Resent, got.AcksIn)
	}

	// ping_delay_disconnect: pong, then the connection closes when no other
	// ping comes within the delay.
	c.sendRaw(c.salt, c.nextID(), c.contentSeq(), encode(t, &mt.PingDelayDisconnectRequest{PingID: 43, DisconnectDelay: 1}))
	c.next("pong", ofType(mt.PongTypeID))
	for range c.msgs {
	}
	if got := srv.Counters().Errors["ping_disconnect"]; got != 1 {
		t.Fatalf("ping_disconnect = %d, want 1", got)
	}
}

// A key at its 256 sessions forgets the detached ones each time another
// starts, while its live sessions take queries. The two lock the key and a
// session in opposite orders unless the eviction reads a session's
// attachment without the session's lock: before that fix the server could
// hang, a query holding the live session and waiting for the key, the
// eviction holding the key and waiting for that session.
func TestSessionEvictionBesideQueries(t *testing.T) {
	t.Parallel()
	srv := startSim(t, tgsim.Config{})
	live := dialRaw(t, srv, 2)
	live.init()
	// Sessions that stay attached keep the key at its limit, so every new
	// session evicts, going through all of them.
	const attached, starts, perContainer = 256, 60, 20
	next := live.session
	session := func() *rawClient {
		next++
		c := redial(t, srv, 2, live, false)
		c.session = next
		c.call(&mt.PingRequest{PingID: next})
		c.next("pong", ofType(mt.PongTypeID))
		return c
	}
	for range attached {
		session()
	}
	qs := make([]bin.Encoder, perContainer)
	for i := range qs {
		qs[i] = &tg.HelpGetConfigRequest{}
	}
	var ids []int64
	for range starts {
		// The live session's queries are processed while the next
		// session starts on another connection.
		ids = append(ids, live.container(qs...)...)
		session().close()
	}
	for _, id := range ids {
		live.ok(id, &tg.Config{})
	}
}
