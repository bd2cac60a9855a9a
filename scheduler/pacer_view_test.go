package scheduler

import (
	"testing"
	"time"

	"github.com/gotd/td/tgerr"
)

// The views show the calls waiting for their turn and the chats whose
// limit a flood taught, slowest first.
func TestPacerView(t *testing.T) {
	if v := New(Config{}).PacerView(); v.On {
		t.Fatalf("pacing off: view %+v", v)
	}
	// Explicit rates (Headroom 1): the test does not follow the defaults.
	s := New(Config{HomeDC: 2, Pacing: PacingConfig{On: true, Headroom: 1,
		Account: Rate{N: 30, Per: time.Second, Burst: 30}, Private: Rate{N: 1, Per: time.Second, Burst: 3},
		Group: Rate{N: 20, Per: time.Minute, Burst: 3}}})
	now := time.Unix(1000, 0)
	for i := range 5 {
		if _, err := s.Submit(now, Call{ID: CallID(i + 1), Method: "messages.sendMessage", Peer: "user:7", Writes: true}); err != nil {
			t.Fatal(err)
		}
	}
	if chat, ok := s.PacedNow(1); !ok || chat != "user:7" {
		t.Fatalf("PacedNow(1) = %q, %v after Submit", chat, ok)
	}
	batches, _ := s.Ready(now)
	sent := 0
	for _, b := range batches {
		sent += len(b.Calls)
	}
	var waiting []CallID
	s.EachPacedNewest(func(id CallID, chat string) bool { waiting = append(waiting, id); return false })
	var newest []CallID
	s.EachPacedNewest(func(id CallID, chat string) bool { newest = append(newest, id); return id == 4 })
	if len(newest) != 2 || newest[0] != 5 || newest[1] != 4 {
		t.Fatalf("EachPacedNewest visited %v, want 5 then 4 (known: stop)", newest)
	}
	v := s.PacerView()
	if sent != 3 || len(waiting) != 2 || v.Queued != 2 {
		t.Fatalf("sent %d (burst 3), waiting %v, view queued %d", sent, waiting, v.Queued)
	}
	if v.Account != 30 || v.AccountBase != 30 || v.Private != 1 || v.Group != 20.0/60 || len(v.Chats) != 0 {
		t.Fatalf("view before a flood: %+v", v)
	}
	s.Complete(now, batches[0].Calls[0].Call.ID, tgerr.New(420, "FLOOD_WAIT_3"))
	v = s.PacerView()
	// What the flood cuts (the rate, the burst or both) is the pacer's
	// rule; the view shows the chat either way.
	if c := v.Chats; len(c) != 1 || c[0].Chat != "user:7" || !c[0].Private || (c[0].Rate >= c[0].Base && !c[0].BurstCut) {
		t.Fatalf("view after a chat's flood: %+v", v)
	}
	if !PrivateChat("self") || PrivateChat("channel:3") {
		t.Fatal("PrivateChat")
	}
}

// An account burst a flood cut is kept with the limits and given back by
// SetLimits, never above the configured burst.
func TestLimitsKeepAccountBurst(t *testing.T) {
	cfg := Config{HomeDC: 2, Pacing: PacingConfig{On: true, Headroom: 1, Account: Rate{N: 30, Per: time.Second, Burst: 30}}}
	s := New(cfg)
	if _, ok := s.Limits()[accountBurstKey]; ok {
		t.Fatalf("uncut burst in the limits: %v", s.Limits())
	}
	s.SetLimits(map[string]float64{accountBurstKey: 7, "account": 25})
	if l := s.Limits(); l[accountBurstKey] != 7 || l["account"] != 25 {
		t.Fatalf("limits after SetLimits: %v", l)
	}
	s = New(cfg)
	s.SetLimits(map[string]float64{accountBurstKey: 300})
	if _, ok := s.Limits()[accountBurstKey]; ok {
		t.Fatalf("a burst above the configured one was taken: %v", s.Limits())
	}
}
