package jobs

import "hash/maphash"

// idTable is the run's job states by job id, for duplicates and "after".
// Every job line looks its id up and adds it, and a run may hold millions:
// an open-addressing table that adds an id in the probe that found it
// absent hashes each line's id once, where a Go map hashes it for the
// lookup and again for the insert (and grows by rehashing every key; here
// the hashes are kept). Ids are never removed. Not safe for concurrent use
// (the engine reads and adds on one goroutine).
type idTable struct {
	seed  maphash.Seed
	slots []idSlot // a power of two long, at most half full
	n     int
}

// idSlot is one entry; h is 0 in an empty slot (no hash is stored as 0).
type idSlot struct {
	h  uint64
	st *jobState
}

// newIDTable returns a table sized for about expect ids.
func newIDTable(expect int) *idTable {
	size := 16
	for size < 2*expect {
		size *= 2
	}
	return &idTable{seed: maphash.MakeSeed(), slots: make([]idSlot, size)}
}

func (t *idTable) hash(id string) uint64 {
	h := maphash.String(t.seed, id)
	if h == 0 {
		h = 1
	}
	return h
}

// find returns the slot index for id: its own, or the empty one where it
// would go.
func (t *idTable) find(h uint64, id string) int {
	mask := len(t.slots) - 1
	for i := int(h) & mask; ; i = (i + 1) & mask {
		s := &t.slots[i]
		if s.h == 0 || s.h == h && s.st.id == id {
			return i
		}
	}
}

// get returns id's state, or nil.
func (t *idTable) get(id string) *jobState {
	return t.slots[t.find(t.hash(id), id)].st
}

// add puts st under st.id unless the id is there already; it returns the
// state already there, or nil when st was added.
func (t *idTable) add(st *jobState) *jobState {
	h := t.hash(st.id)
	i := t.find(h, st.id)
	if prev := t.slots[i].st; prev != nil {
		return prev
	}
	t.slots[i] = idSlot{h: h, st: st}
	t.n++
	if 2*t.n > len(t.slots) {
		t.grow()
	}
	return nil
}

// set puts st under st.id, in place of any state there.
func (t *idTable) set(st *jobState) {
	if prev := t.add(st); prev != nil {
		t.slots[t.find(t.hash(st.id), st.id)].st = st
	}
}

func (t *idTable) grow() {
	old := t.slots
	t.slots = make([]idSlot, 2*len(old))
	mask := len(t.slots) - 1
	for _, s := range old {
		if s.h == 0 {
			continue
		}
		i := int(s.h) & mask
		for t.slots[i].h != 0 {
			i = (i + 1) & mask
		}
		t.slots[i] = s
	}
}
