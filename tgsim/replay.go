package tgsim

import (
	"container/heap"
)

// idSet remembers the last replayWindow msg_ids of a session. MTProto
// (security guidelines): a msg_id equal to a stored one, or lower than all
// of them once the store is full, is ignored.
type idSet struct {
	set map[int64]struct{}
	h   int64Heap
	max int64 // the highest msg_id added
}

func (s *idSet) has(id int64) bool { _, ok := s.set[id]; return ok }

// belowWindow reports a msg_id lower than every remembered one once the
// window is full: nothing can be known about it.
func (s *idSet) belowWindow(id int64) bool {
	return len(s.h) >= replayWindow && id < s.h[0]
}

func (s *idSet) add(id int64) bool {
	if s.set == nil {
		s.set = map[int64]struct{}{}
	}
	if _, ok := s.set[id]; ok {
		return false
	}
	if len(s.h) >= replayWindow {
		if id < s.h[0] {
			return false
		}
		delete(s.set, heap.Pop(&s.h).(int64))
	}
	s.set[id] = struct{}{}
	heap.Push(&s.h, id)
	s.max = max(s.max, id)
	return true
}

type int64Heap []int64

func (h int64Heap) Len() int           { return len(h) }
func (h int64Heap) Less(i, j int) bool { return h[i] < h[j] }
func (h int64Heap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *int64Heap) Push(x any)        { *h = append(*h, x.(int64)) }
func (h *int64Heap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
