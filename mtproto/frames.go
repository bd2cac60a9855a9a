package mtproto

import "slices"

// frameLog remembers the msg_id range of the frames sent recently: from the
// first message's id to the outer id (a container's id is above its
// messages'). Client msg_ids only grow within a session, so the ranges are
// sorted and disjoint, and an id inside one was allocated by that frame.
// It lets new_session_created's first_msg_id be recognised as ours even
// when it names a message the session does not track (a msgs_ack).
type frameLog struct {
	lo, hi []int64
}

// frameLogSize bounds the frames remembered; older ones are forgotten (a
// new_session_created naming them is then not recognised).
const frameLogSize = 4096

func (l *frameLog) add(lo, hi int64) {
	if len(l.lo) >= frameLogSize {
		k := frameLogSize / 4
		l.lo = append(l.lo[:0], l.lo[k:]...)
		l.hi = append(l.hi[:0], l.hi[k:]...)
	}
	l.lo = append(l.lo, lo)
	l.hi = append(l.hi, hi)
}

// outerOf returns the outer msg_id of the remembered frame that allocated
// id, or false.
func (l *frameLog) outerOf(id int64) (int64, bool) {
	i, found := slices.BinarySearch(l.hi, id)
	if found {
		return l.hi[i], true
	}
	if i < len(l.hi) && l.lo[i] <= id {
		return l.hi[i], true
	}
	return 0, false
}

func (l *frameLog) reset() { l.lo, l.hi = l.lo[:0], l.hi[:0] }
