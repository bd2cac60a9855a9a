package main

import (
	"slices"
	"strings"
	"testing"

	"github.com/tlsched/tlsched/tgsim"
)

// TestUpdatesThroughManager: gotd's updates.Manager, as the Client's
// UpdateHandler with the Client as its API, gets every message in pts
// order, the one whose push tgsim dropped through updates.getDifference;
// and the bot's own sends (their results offered to the Manager) make no
// gap: getDifference runs at startup and for the dropped push only.
func TestUpdatesThroughManager(t *testing.T) {
	srv, err := tgsim.Start(tgsim.Config{World: tgsim.WorldConfig{Users: 2}, Flood: tgsim.FloodConfig{Off: true}})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	var out strings.Builder
	got, err := run(srv, &out)
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	want := []string{"hello", "this push is lost", "after the gap"}
	if !slices.Equal(got, want) {
		t.Fatalf("bot got %q, want %q\n%s", got, want, out.String())
	}
	n := srv.Counters()
	if n.UpdatesDropped != 1 || n.Calls["updates.getDifference"] != 2 {
		t.Errorf("dropped %d pushes, %d getDifference calls: want 1 and 2 (startup, gap)\n%s", n.UpdatesDropped, n.Calls["updates.getDifference"], out.String())
	}
	if n.Calls["messages.sendMessage"] != 3 {
		t.Errorf("%d echoes sent, want 3", n.Calls["messages.sendMessage"])
	}
}
