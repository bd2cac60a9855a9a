package tgsim_test

import (
	"testing"
	"time"

	"github.com/gotd/td/tg"

	"github.com/tlsched/tlsched/tgsim"
)

// A blackholed connection stays open but neither reads nor writes; the
// fault applies to connections opened while it is set too, and clearing it
// brings both back.
func TestBlackhole(t *testing.T) {
	t.Parallel()
	srv := startSim(t, tgsim.Config{})
	c := dialRaw(t, srv, 2)
	c.init()

	srv.SetFaults(tgsim.Faults{Blackhole: true})
	lost := c.call(&tg.HelpGetNearestDCRequest{})
	poll(t, "blackholed frame", func() bool { return srv.Counters().BlackholedFrames == 1 })
	// A connection opened during the fault is silent as well.
	c2 := redial(t, srv, 2, c, false)
	lost2 := c2.call(&tg.HelpGetNearestDCRequest{})
	poll(t, "second blackholed frame", func() bool { return srv.Counters().BlackholedFrames == 2 })

	srv.SetFaults(tgsim.Faults{})
	c.roundTrip()
	c2.roundTrip()
	for _, m := range append(c.backlog, c2.backlog...) {
		if m.typ == 0xf35c6d01 { // rpc_result
			t.Fatalf("a call read during the blackhole was answered: %x", m.body[:12])
		}
	}
	if n := srv.Counters().Calls["help.getNearestDc"]; n != 2 {
		t.Fatalf("help.getNearestDc ran %d times, want 2 (the blackholed calls %d, %d never ran)", n, lost, lost2)
	}
}

// Faults.DuplicateFrames writes a frame twice; Faults.ReplayFrames writes an
// older frame again, byte for byte.
func TestDuplicateAndReplayedFrames(t *testing.T) {
	t.Parallel()
	// Answers at once, so every frame carries its result (no lone acks):
	// the only older frame to replay is a's.
	srv := startSim(t, tgsim.Config{Latency: tgsim.NoLatency})
	c := dialRaw(t, srv, 2)
	c.init()

	srv.SetFaults(tgsim.Faults{DuplicateFrames: 1})
	id := c.call(&tg.HelpGetNearestDCRequest{})
	first := c.resultMsg(id)
	second := c.resultMsg(id)
	if first.id != second.id || first.frame == second.frame {
		t.Fatalf("duplicate: msg_ids %d, %d in frames %d, %d; want the same message in two frames", first.id, second.id, first.frame, second.frame)
	}

	srv.SetFaults(tgsim.Faults{ReplayFrames: 1})
	a := c.resultMsg(c.call(&tg.HelpGetNearestDCRequest{})) // remembered, nothing older to replay yet
	b := c.call(&tg.HelpGetNearestDCRequest{})
	c.resultMsg(b)
	// After b's frame the server replays an earlier one: a's result again.
	again := c.resultMsg(reqOf(a))
	if again.id != a.id {
		t.Fatalf("replayed frame carries msg_id %d, want %d", again.id, a.id)
	}
	if got := srv.Counters(); got.DuplicatedFrames < 1 || got.ReplayedFrames < 1 {
		t.Fatalf("DuplicatedFrames %d, ReplayedFrames %d", got.DuplicatedFrames, got.ReplayedFrames)
	}
}

// Faults.NotFoundKeys makes the server answer a known key with -404 (as if
// it had forgotten it) while keeping the connection.
func TestNotFoundKeys(t *testing.T) {
	t.Parallel()
	srv := startSim(t, tgsim.Config{})
	c := dialRaw(t, srv, 2)
	c.init()
	srv.SetFaults(tgsim.Faults{NotFoundKeys: [][8]byte{c.conn.AuthKey.ID}})
	c.call(&tg.HelpGetNearestDCRequest{})
	m := c.next("transport error", func(m srvMsg) bool { return m.transport != 0 })
	if m.transport != 404 && m.transport != -404 {
		t.Fatalf("transport code %d, want 404", m.transport)
	}
	srv.SetFaults(tgsim.Faults{})
	c.roundTrip() // same connection, key back
}

// Config.ConnRate: a key opening connections faster than the limit gets
// transport error -429 on the first frame of the extra one, and it closes.
func TestConnRate(t *testing.T) {
	t.Parallel()
	srv := startSim(t, tgsim.Config{ConnRate: tgsim.ConnRate{N: 2, Window: time.Hour}})
	c := dialRaw(t, srv, 2)
	c.init()
	c2 := redial(t, srv, 2, c, false)
	c2.roundTrip()
	c3 := redial(t, srv, 2, c, false)
	c3.call(&tg.HelpGetNearestDCRequest{})
	m := c3.next("transport error", func(m srvMsg) bool { return m.transport != 0 })
	if m.transport != 429 && m.transport != -429 {
		t.Fatalf("transport code %d, want 429", m.transport)
	}
	for range c3.msgs { // the server closes the connection
	}
	c.roundTrip() // the older connections are untouched
	if got := srv.Counters().Errors["transport_flood"]; got != 1 {
		t.Fatalf("transport_flood = %d, want 1", got)
	}
}
