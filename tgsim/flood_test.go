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

// Limits a client cannot know: chats vary around the published figure
// (fixed by the seed), repeated violations wait longer, user accounts
// meet PEER_FLOOD on too many new private chats, paid sends skip the other
// budgets, and the ideal finishing time bounds a run's goodput.
func TestHiddenLimits(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	cfg := FloodConfig{Vary: 0.3, Seed: 7, Escalation: 2, NewPrivateChats: Rate{N: 2, Per: time.Hour}}.withDefaults()
	m := newFloodModel(cfg)

	// Variation: per-chat rates differ, within ±30%, and the same seed
	// gives the same rates.
	seen := map[time.Duration]bool{}
	for p := int64(1); p <= 20; p++ {
		r := m.vary(bucketKey{account: 1, kind: bucketPrivate, peer: p}, cfg.PrivateChat)
		if f := time.Second.Seconds() / r.Per.Seconds(); f < 0.7-1e-3 || f > 1.3+1e-3 {
			t.Fatalf("chat %d: %d per %v, outside ±30%% of 1/s", p, r.N, r.Per)
		}
		seen[r.Per] = true
	}
	if len(seen) < 10 {
		t.Fatalf("only %d distinct rates among 20 chats", len(seen))
	}
	again := newFloodModel(cfg)
	k := bucketKey{account: 1, kind: bucketPrivate, peer: 3}
	if m.vary(k, cfg.PrivateChat) != again.vary(k, cfg.PrivateChat) {
		t.Fatal("same seed, different rates")
	}

	// Escalation: a second violation of a chat's budget waits twice as
	// long, a third four times.
	g := newFloodModel(FloodConfig{Escalation: 2}.withDefaults())
	group := peerRef{kind: peerChat, id: -5}
	for range 20 {
		g.take(t0, g.sendChecks(1, group))
	}
	var waits []int
	at := t0
	for range 3 {
		// Send until refused, then obey the wait and start again.
		w := 0
		for w == 0 {
			w, _ = g.take(at, g.sendChecks(1, group))
		}
		waits = append(waits, w)
		at = at.Add(time.Duration(w) * time.Second)
	}
	if waits[1] < 2*waits[0] || waits[2] < 2*waits[1] {
		t.Fatalf("waits %v: no escalation", waits)
	}

	// PEER_FLOOD: two new private chats an hour for a user account; a chat
	// written to before is not new; bots are exempt.
	for p := int64(1); p <= 2; p++ {
		if !m.newChat(t0, 9, false, p) {
			t.Fatalf("new chat %d refused within the budget", p)
		}
	}
	if m.newChat(t0, 9, false, 3) {
		t.Fatal("third new chat in an hour accepted")
	}
	if !m.newChat(t0, 9, false, 1) || !m.newChat(t0, 10, true, 3) {
		t.Fatal("a known chat, or a bot, refused")
	}

	// Paid sends spend the paid budget only; the ideal finishing time of
	// 40 sends to one group at 20/min is 1 min (20 beyond the burst).
	p := newFloodModel(FloodConfig{}.withDefaults())
	for i := range 40 {
		p.take(t0.Add(time.Duration(i)*3*time.Second), p.sendChecks(1, group))
	}
	if got := p.ideal(1); got != time.Minute {
		t.Fatalf("ideal %v, want 1m", got)
	}
	for range 1000 {
		if w, _ := p.take(t0, p.paidChecks(1)); w != 0 {
			t.Fatal("paid send flooded within 1000/s")
		}
	}
	if w, _ := p.take(t0, p.paidChecks(1)); w == 0 {
		t.Fatal("1001st paid send in a second accepted")
	}
}

// OnWait names the budget that imposed each wait: a private chat's,
// then the account's.
func TestFloodOnWait(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	var got []FloodEvent
	cfg := FloodConfig{Messages: Rate{N: 2, Per: time.Second}, OnWait: func(e FloodEvent) { got = append(got, e) }}.withDefaults()
	m := newFloodModel(cfg)
	alice, bob, carol := peerRef{kind: peerUser, id: 11}, peerRef{kind: peerUser, id: 12}, peerRef{kind: peerUser, id: 13}
	m.take(t0, m.sendChecks(1, alice))
	m.take(t0, m.sendChecks(1, alice)) // alice's 1/s
	m.take(t0, m.sendChecks(1, bob))
	m.take(t0, m.sendChecks(1, carol)) // the account's 2/s
	if len(got) != 2 || got[0].Budget != "private" || got[0].Peer != 11 || got[1].Budget != "account" || got[1].Peer != 0 || got[0].Wait < 1 {
		t.Fatalf("events %+v", got)
	}
}

// ChatLimit tells the limit the flood model enforces in a chat, varied.
func TestChatLimitIsTheEnforcedOne(t *testing.T) {
	cfg := FloodConfig{Vary: 0.3, Seed: 5}.withDefaults()
	s := &Server{flood: newFloodModel(cfg)}
	varied := false
	for id := int64(1); id <= 20; id++ {
		user := s.ChatLimit(1, id, false)
		if got := s.flood.sendChecks(1, peerRef{kind: peerUser, id: id})[1].rate; got != user {
			t.Fatalf("user %d: ChatLimit %v, enforced %v", id, user, got)
		}
		group := s.ChatLimit(1, id, true)
		if got := s.flood.sendChecks(1, peerRef{kind: peerChat, id: id})[1].rate; got != group {
			t.Fatalf("group %d: ChatLimit %v, enforced %v", id, group, got)
		}
		varied = varied || user != cfg.PrivateChat
	}
	if !varied {
		t.Fatal("Vary 0.3 left every chat at the published limit")
	}
}
