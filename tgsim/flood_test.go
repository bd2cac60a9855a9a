package tgsim

import (
	"testing"
	"time"
)

func TestFloodModel(t *testing.T) {
	m := newFloodModel(FloodConfig{}.withDefaults())
	t0 := time.Unix(1_700_000_000, 0)
	send := func(at time.Duration, peer int64, private bool) (int, bool) {
		to := peerRef{kind: peerChannel, id: peer}
		if private {
			to.kind = peerUser
		}
		return m.take(t0.Add(at), m.sendChecks(1, to))
	}

	// 30 messages per second per account: 30 private chats take one each,
	// the 31st waits for a token (1/30 s, rounded up to 1 s).
	for p := int64(1); p <= 30; p++ {
		if w, _ := send(0, p, true); w != 0 {
			t.Fatalf("message %d: FLOOD_WAIT_%d within the budget", p, w)
		}
	}
	if w, ign := send(0, 31, true); w != 1 || ign {
		t.Fatalf("31st message in a second: wait %d ignored %v, want 1 false", w, ign)
	}
	// A call right after the announcement (sent before the client could
	// know) gets the rest of the wait; calling again later inside the wait
	// adds the penalty (1 s).
	if w, ign := send(100*time.Millisecond, 32, true); w != 1 || ign {
		t.Fatalf("within the grace: %d %v, want 1 false", w, ign)
	}
	if w, ign := send(600*time.Millisecond, 31, true); w != 2 || !ign {
		t.Fatalf("inside the wait: %d %v, want 2 true", w, ign)
	}
	// After the (extended) wait, tokens have refilled.
	if w, _ := send(3*time.Second, 31, true); w != 0 {
		t.Fatalf("after the wait: FLOOD_WAIT_%d", w)
	}

	// One message per second in one private chat.
	if w, _ := send(3*time.Second, 31, true); w != 1 {
		t.Fatalf("second message to one chat in a second: wait %d, want 1", w)
	}
	// 20 per minute in a group: the 21st waits 3 s (60/20).
	g := newFloodModel(FloodConfig{}.withDefaults())
	group := peerRef{kind: peerChat, id: -5}
	for i := range 20 {
		if w, _ := g.take(t0.Add(time.Duration(i)*10*time.Millisecond), g.sendChecks(1, group)); w != 0 {
			t.Fatalf("group message %d flooded", i)
		}
	}
	if w, _ := g.take(t0.Add(time.Second), g.sendChecks(1, group)); w != 2 {
		// 1 s after the burst started, 1/3 of a token has come back: 2 s to go.
		t.Fatalf("21st group message: wait %d, want 2", w)
	}

	// Per-method budgets, and Off.
	mm := newFloodModel(FloodConfig{Methods: map[string]Rate{"users.getUsers": {N: 2, Per: 10 * time.Second}}}.withDefaults())
	get := func() int { w, _ := mm.take(t0, mm.methodChecks(1, "users.getUsers")); return w }
	if get() != 0 || get() != 0 || get() != 5 {
		t.Fatal("users.getUsers at 2 per 10 s: the third call should wait 5 s")
	}
	other, _ := mm.take(t0, mm.methodChecks(2, "users.getUsers"))
	if other != 0 {
		t.Fatal("budgets are per account")
	}
	off := newFloodModel(FloodConfig{Off: true}.withDefaults())
	for range 100 {
		if w, _ := off.take(t0, off.sendChecks(1, peerRef{kind: peerUser, id: 1})); w != 0 {
			t.Fatal("flood model off still floods")
		}
	}
}
