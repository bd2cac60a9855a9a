package entitycache

import "sync"

// learnQueue holds results waiting to be learned, bounded in bytes. push
// never blocks on the learner: it takes a mutex held only to append or to
// swap the slice out, so the scheduler actor (actors.Config.OnResult) is
// never held up by decoding or by the store.
type learnQueue struct {
	mu    sync.Mutex
	items []learnItem
	bytes int
	max   int
	wake  chan struct{} // capacity 1: "there is something to take"
}

func newLearnQueue(maxBytes int) *learnQueue {
	return &learnQueue{max: maxBytes, wake: make(chan struct{}, 1)}
}

// push queues it. A result that would take the queue over its byte bound
// is refused (false); markers cost nothing and are always queued.
func (q *learnQueue) push(it learnItem) bool {
	q.mu.Lock()
	if it.marker == nil && q.bytes+len(it.body) > q.max {
		q.mu.Unlock()
		return false
	}
	q.items = append(q.items, it)
	q.bytes += len(it.body)
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
	return true
}

// take returns everything queued, oldest first, and empties the queue.
func (q *learnQueue) take() []learnItem {
	q.mu.Lock()
	defer q.mu.Unlock()
	its := q.items
	q.items, q.bytes = nil, 0
	return its
}
