package tgsim

import (
	"slices"
	"testing"

	"github.com/tlsched/tlsched/tl"
)

// The router names a call by tl's schema (peel) and the registry names a
// method by gotd's request type: the two must agree, or counters and flood
// budgets would be keyed by two names for one method.
func TestRegistryNames(t *testing.T) {
	for id, m := range registry {
		d, ok := tl.ByID(id)
		if !ok || d.Name != m.name || m.typeID != id {
			t.Errorf("registry entry %s (%#x): schema says %q, %v", m.name, id, d.Name, ok)
		}
	}
	got := Methods()
	if len(got) != len(registry) || !slices.IsSorted(got) {
		t.Fatalf("Methods() = %v: want every registered name once, sorted", got)
	}
}
