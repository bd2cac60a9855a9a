package mtproto

import "slices"

// inflight indexes the messages in flight by msg_id. Client msg_ids grow
// strictly within a session (MTProto), so appending keeps the index sorted:
// a lookup is a binary search, a removal leaves a hole, and holes are
// compacted once they outnumber the live entries. This is cheaper than a map
// on the receive path, where every result is one lookup and one removal.
type inflight struct {
	ids  []int64
	msgs []*outMsg
	live int
	head int // index of the oldest live entry, or len(ids)
}

func (f *inflight) add(id int64, m *outMsg) {
	if n := len(f.ids); n == 0 || id > f.ids[n-1] {
		f.ids = append(f.ids, id)
		f.msgs = append(f.msgs, m)
	} else {
		// Not reached while msg_ids grow; kept correct regardless.
		i, _ := slices.BinarySearch(f.ids, id)
		f.ids = slices.Insert(f.ids, i, id)
		f.msgs = slices.Insert(f.msgs, i, m)
		if i < f.head {
			f.head = i
		}
	}
	f.live++
}

func (f *inflight) get(id int64) *outMsg {
	i, ok := slices.BinarySearch(f.ids, id)
	if !ok {
		return nil
	}
	return f.msgs[i]
}

// remove drops id if it is in flight and still maps to m.
func (f *inflight) remove(id int64, m *outMsg) bool {
	i, ok := slices.BinarySearch(f.ids, id)
	if !ok || f.msgs[i] != m || m == nil {
		return false
	}
	f.msgs[i] = nil
	f.live--
	if f.live == 0 {
		f.ids, f.msgs, f.head = f.ids[:0], f.msgs[:0], 0
	} else if len(f.ids) > 64 && f.live < len(f.ids)/2 {
		f.compact()
	} else if i == f.head {
		for f.head < len(f.msgs) && f.msgs[f.head] == nil {
			f.head++
		}
	}
	return true
}

func (f *inflight) compact() {
	j := 0
	for i, m := range f.msgs {
		if m != nil {
			f.ids[j], f.msgs[j] = f.ids[i], m
			j++
		}
	}
	clear(f.msgs[j:])
	f.ids, f.msgs, f.head = f.ids[:j], f.msgs[:j], 0
}

// first returns the live message with the lowest msg_id (the oldest sent),
// nil if none.
func (f *inflight) first() *outMsg {
	if f.live == 0 {
		return nil
	}
	return f.msgs[f.head]
}

// all returns the live messages in msg_id order.
func (f *inflight) all() []*outMsg {
	out := make([]*outMsg, 0, f.live)
	for _, m := range f.msgs {
		if m != nil {
			out = append(out, m)
		}
	}
	return out
}

func (f *inflight) len() int { return f.live }
