package mtproto

import "slices"

// msgWindow is the replay check over server msg_ids (MTProto, "Mobile
// Protocol: Detailed Description", "Important checks": the client keeps the
// msg_ids it received recently and ignores a message whose msg_id it has
// seen, or that is lower than all of them once the set is full). It holds
// the last size ids in order; an id at or below floor, the highest id it
// has forgotten, cannot be told from a replay and is refused too.
//
// gotd's proto.MessageIDBuf cannot serve here: its minimum never moves, so
// it remembers only the last id, and a replay of any id but the last passes.
type msgWindow struct {
	ids   []int64 // sorted ascending, at most size
	size  int
	floor int64 // highest id evicted; 0 while nothing was
}

func newMsgWindow(size int) *msgWindow {
	return &msgWindow{ids: make([]int64, 0, size), size: size}
}

// fresh reports whether id may be processed: false for an id in the
// window or at or below its floor.
func (w *msgWindow) fresh(id int64) bool {
	if id <= w.floor {
		return false
	}
	if n := len(w.ids); n == 0 || id > w.ids[n-1] {
		return true
	}
	_, found := slices.BinarySearch(w.ids, id)
	return !found
}

// add records id, which fresh accepted. Ids mostly grow, so this appends;
// the oldest id is evicted when the window is full.
func (w *msgWindow) add(id int64) {
	if n := len(w.ids); n == 0 || id > w.ids[n-1] {
		w.ids = append(w.ids, id)
	} else {
		i, _ := slices.BinarySearch(w.ids, id)
		w.ids = slices.Insert(w.ids, i, id)
	}
	if len(w.ids) > w.size {
		// Evict a quarter at once so eviction costs O(1) per id amortised.
		k := len(w.ids) - w.size*3/4
		w.floor = w.ids[k-1]
		w.ids = append(w.ids[:0], w.ids[k:]...)
	}
}

// has reports whether id is remembered (an answer we already received).
func (w *msgWindow) has(id int64) bool {
	_, found := slices.BinarySearch(w.ids, id)
	return found
}

// state is the msgs_state_info status byte for a server msg_id.
func (w *msgWindow) state(id int64) byte {
	switch {
	case w.has(id):
		return stateReceived + 8 // received; acknowledged with the next frame
	case id <= w.floor:
		return stateUnknown
	case len(w.ids) == 0 || id > w.ids[len(w.ids)-1]:
		return stateTooHigh
	}
	return stateNotReceived
}
