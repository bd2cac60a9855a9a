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
	s := New(Config{HomeDC: 2, Pacing: PacingConfig{On: true}})
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
	if v.Account != 30*0.95 || v.Private != 0.95 || len(v.Chats) != 0 {
		t.Fatalf("view before a flood: %+v", v)
	}
	s.Complete(now, batches[0].Calls[0].Call.ID, tgerr.New(420, "FLOOD_WAIT_3"))
	v = s.PacerView()
	if len(v.Chats) != 1 || v.Chats[0].Chat != "user:7" || !v.Chats[0].Private || v.Chats[0].Rate >= v.Chats[0].Base || !v.Chats[0].BurstCut {
		t.Fatalf("view after a chat's flood: %+v", v)
	}
	if !PrivateChat("self") || PrivateChat("channel:3") {
		t.Fatal("PrivateChat")
	}
}
