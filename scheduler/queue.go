package scheduler

import (
	"container/heap"
	"time"
)

// item is a queue's reference to an entry, valid while the entry's stamp
// is unchanged: every move bumps the stamp, so queues never search and
// delete, they skip stale items when they reach them.
type item struct {
	e     *entry
	stamp uint32
}

// live reports whether the item still stands for its entry in phase ph.
func (it item) live(ph phase) bool { return it.e.stamp == it.stamp && it.e.ph == ph }

// dcQueue is one DC's ready queue, first in first out, and its count of
// calls in flight.
type dcQueue struct {
	ready    []item
	head     int
	inflight int
}

// front returns the oldest live ready item, dropping stale ones before it.
func (q *dcQueue) front() (item, bool) {
	for q.head < len(q.ready) {
		if it := q.ready[q.head]; it.live(phReady) {
			return it, true
		}
		q.ready[q.head] = item{}
		q.head++
	}
	q.ready, q.head = q.ready[:0], 0
	return item{}, false
}

// pop removes the front item.
func (q *dcQueue) pop() {
	q.ready[q.head] = item{}
	q.head++
	if q.head > 1024 && q.head*2 > len(q.ready) {
		q.ready = append(q.ready[:0], q.ready[q.head:]...)
		q.head = 0
	}
}

// queued counts the items from the front on, stale ones included.
func (q *dcQueue) queued() int { return len(q.ready) - q.head }

// queue returns dc's queue, creating it.
func (s *State) queue(dc int) *dcQueue {
	q := s.dcs[dc]
	if q == nil {
		q = &dcQueue{}
		s.dcs[dc] = q
	}
	return q
}

// enqueue puts e at the back of its DC's ready queue; the window counts
// from now.
func (s *State) enqueue(e *entry) {
	e.ph = phReady
	e.enq = s.now
	q := s.queue(e.dc)
	q.ready = append(q.ready, item{e, e.stamp})
}

// delay holds e until its notBefore (a backoff).
func (s *State) delay(e *entry) {
	e.ph = phDelayed
	heap.Push(&s.delayed, delayed{item{e, e.stamp}, e.notBefore})
}

type delayed struct {
	item
	at time.Time
}

// delayHeap holds calls waiting out a backoff, earliest first.
type delayHeap []delayed

func (h delayHeap) Len() int           { return len(h) }
func (h delayHeap) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h delayHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *delayHeap) Push(x any)        { *h = append(*h, x.(delayed)) }
func (h *delayHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// popDue removes and returns the earliest item due at now, live or stale.
func (h *delayHeap) popDue(now time.Time) (item, bool) {
	if h.Len() == 0 || (*h)[0].at.After(now) {
		return item{}, false
	}
	return heap.Pop(h).(delayed).item, true
}

// next returns when the earliest live delayed call is due, dropping stale
// items before it.
func (h *delayHeap) next() (time.Time, bool) {
	for h.Len() > 0 && !(*h)[0].live(phDelayed) {
		heap.Pop(h)
	}
	if h.Len() == 0 {
		return time.Time{}, false
	}
	return (*h)[0].at, true
}
