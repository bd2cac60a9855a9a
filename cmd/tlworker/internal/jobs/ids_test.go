package jobs

import (
	"testing"

	"pgregory.net/rapid"
)

// idTable answers as a map would, through growth, duplicates and
// overwrites.
func TestIDTable(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		tab := newIDTable(rapid.IntRange(0, 40).Draw(t, "expect"))
		want := map[string]*jobState{}
		ids := rapid.SliceOf(rapid.StringMatching(`[a-e]{0,3}`)).Draw(t, "ids")
		for i, id := range ids {
			st := &jobState{id: id}
			switch i % 3 {
			case 0, 1:
				prev := tab.add(st)
				if prev != want[id] {
					t.Fatalf("add(%q) = %p, want %p", id, prev, want[id])
				}
				if prev == nil {
					want[id] = st
				}
			case 2:
				tab.set(st)
				want[id] = st
			}
			for id, st := range want {
				if got := tab.get(id); got != st {
					t.Fatalf("get(%q) = %p, want %p", id, got, st)
				}
			}
			if got := tab.get(id + "zz"); got != nil {
				t.Fatalf("get(%q) = %p, want nil", id+"zz", got)
			}
		}
		if tab.n != len(want) {
			t.Fatalf("%d ids, want %d", tab.n, len(want))
		}
	})
}
