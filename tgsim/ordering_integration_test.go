package tgsim_test

import (
	"testing"
	"time"

	"github.com/gotd/td/bin"
	"github.com/gotd/td/tg"

	"github.com/tlsched/tlsched/tgsim"
)

func after(id int64, q bin.Object) bin.Encoder {
	return &tg.InvokeAfterMsgRequest{MsgID: id, Query: q}
}

func TestInvokeAfterMsg(t *testing.T) {
	t.Parallel()
	srv := startSim(t, tgsim.Config{
		// The awaited call is slow and the dependent fast: only the wait
		// keeps them in order.
		MethodLatency: map[string]tgsim.Latency{"messages.sendMessage": {Base: 100 * time.Millisecond}, "messages.getHistory": tgsim.NoLatency},
		Flood:         tgsim.FloodConfig{Off: true},
	})
	c := loggedIn(t, srv)
	u := resolve(t, c, "user1").Users[1].(*tg.User)
	peer := &tg.InputPeerUser{UserID: u.ID, AccessHash: u.AccessHash}

	a := c.call(&tg.MessagesSendMessageRequest{Peer: peer, Message: "first", RandomID: 1})
	b := c.call(after(a, &tg.MessagesGetHistoryRequest{Peer: peer, Limit: 10}))
	var hist tg.MessagesMessagesBox
	c.ok(b, &hist)
	if msgs := hist.Messages.(*tg.MessagesMessagesSlice).Messages; len(msgs) != 1 {
		t.Fatalf("the dependent ran before the call it waited for: history has %d messages", len(msgs))
	}
	c.ok(a, nil)

	// invokeAfterMsgs waits for all; the same in one container.
	ids := c.container(
		&tg.MessagesSendMessageRequest{Peer: peer, Message: "x", RandomID: 2},
		&tg.MessagesSendMessageRequest{Peer: peer, Message: "y", RandomID: 3},
	)
	d := c.call(&tg.InvokeAfterMsgsRequest{MsgIDs: ids, Query: &tg.MessagesGetHistoryRequest{Peer: peer, Limit: 10}})
	c.ok(d, &hist)
	if msgs := hist.Messages.(*tg.MessagesMessagesSlice).Messages; len(msgs) != 3 {
		t.Fatalf("invokeAfterMsgs: history has %d messages, want 3", len(msgs))
	}

	// The awaited call fails: MSG_WAIT_FAILED.
	bad := c.call(&tg.MessagesSendMessageRequest{Peer: &tg.InputPeerUser{UserID: u.ID, AccessHash: 1}, Message: "x", RandomID: 4})
	dep := c.call(after(bad, &tg.MessagesSendMessageRequest{Peer: peer, Message: "never", RandomID: 5}))
	c.fails(bad, 400, "PEER_ID_INVALID")
	c.fails(dep, 400, "MSG_WAIT_FAILED")

	// The awaited message never arrives: MSG_WAIT_TIMEOUT after 0.5 s.
	missing := c.nextID()
	c.fails(c.call(after(missing, &tg.HelpGetNearestDCRequest{})), 400, "MSG_WAIT_TIMEOUT")

	// The awaited message arrives late, but within the timeout: the
	// dependent runs.
	late, lateSeq := c.nextID(), c.contentSeq()
	waiting := c.call(after(late, &tg.HelpGetNearestDCRequest{}))
	c.sendRaw(c.salt, late, lateSeq, encode(t, &tg.HelpGetNearestDCRequest{}))
	c.ok(waiting, nil)
	c.ok(late, nil)
	got := srv.Counters()
	if got.OrderingWaits < 4 {
		t.Fatalf("OrderingWaits = %d, want at least 4", got.OrderingWaits)
	}
}

func TestInvokeAfterFloodWait(t *testing.T) {
	t.Parallel()
	var clk clock
	srv := startSim(t, tgsim.Config{Now: clk.Now, Latency: tgsim.NoLatency})
	c := loggedIn(t, srv)
	u := resolve(t, c, "user1").Users[1].(*tg.User)
	peer := &tg.InputPeerUser{UserID: u.ID, AccessHash: u.AccessHash}
	c.ok(c.call(&tg.MessagesSendMessageRequest{Peer: peer, Message: "one", RandomID: 1}), nil)
	// One message per second in a private chat: the second floods, and the
	// call chained after it fails with it.
	ids := c.container(&tg.MessagesSendMessageRequest{Peer: peer, Message: "two", RandomID: 2})
	dep := c.call(after(ids[0], &tg.HelpGetNearestDCRequest{}))
	c.fails(ids[0], 420, "FLOOD_WAIT_1")
	c.fails(dep, 400, "MSG_WAIT_FAILED")
}

// TestInvokeAfterSlowHead: MSG_WAIT_TIMEOUT fires when no result of the
// awaited call has appeared within WaitTimeout of the dependent's arrival,
// also when the awaited call has arrived and is still running (MTProto,
// "Calling methods: sequential requests").
func TestInvokeAfterSlowHead(t *testing.T) {
	t.Parallel()
	const (
		headLatency = 1200 * time.Millisecond
		waitTimeout = 600 * time.Millisecond
	)
	srv := startSim(t, tgsim.Config{
		MethodLatency: map[string]tgsim.Latency{"messages.sendMessage": {Base: headLatency}},
		Latency:       tgsim.NoLatency,
		WaitTimeout:   waitTimeout,
		Flood:         tgsim.FloodConfig{Off: true},
	})
	c := loggedIn(t, srv)
	u := resolve(t, c, "user1").Users[1].(*tg.User)
	peer := &tg.InputPeerUser{UserID: u.ID, AccessHash: u.AccessHash}

	// The head arrived and runs longer than the timeout: the dependent gets
	// MSG_WAIT_TIMEOUT without running, and the head still succeeds.
	sent := time.Now()
	head := c.call(&tg.MessagesSendMessageRequest{Peer: peer, Message: "slow", RandomID: 1})
	dep := c.call(after(head, &tg.MessagesSendMessageRequest{Peer: peer, Message: "dependent", RandomID: 2}))
	c.fails(dep, 400, "MSG_WAIT_TIMEOUT")
	if waited := time.Since(sent); waited < waitTimeout {
		t.Fatalf("MSG_WAIT_TIMEOUT after %v, want at least WaitTimeout %v", waited, waitTimeout)
	}
	c.ok(head, nil)
	bot := srv.Bot().ID
	if got := srv.HistoryTexts(bot, &tg.PeerUser{UserID: u.ID}); len(got) != 1 || got[0] != "slow" {
		t.Fatalf("history of the peer is %q, want only the head's message", got)
	}

	// The timeout counts from the dependent's arrival: a dependent sent
	// late enough sees the head's result within it and runs.
	head2 := c.call(&tg.MessagesSendMessageRequest{Peer: peer, Message: "slow again", RandomID: 3})
	time.Sleep(headLatency - waitTimeout/2)
	dep2 := c.call(after(head2, &tg.HelpGetNearestDCRequest{}))
	c.ok(head2, nil)
	c.ok(dep2, nil)
}
