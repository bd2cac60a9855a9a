package actors

import (
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/tlsched/tlsched/tl"
)

// resultHooks are the functions shown every successful result: the
// Config.OnResult given to Start, then those added later with
// Client.OnResult.
type resultHooks struct {
	first func(method *tl.Definition, body []byte) // Config.OnResult; nil for none
	log   *slog.Logger
	mu    sync.Mutex // serialises add and remove
	next  int
	added atomic.Pointer[[]resultHook]
}

type resultHook struct {
	id int
	f  func(method *tl.Definition, body []byte)
}

// show runs every hook on the scheduler actor's goroutine; a panic in one
// is logged and does not keep the others from seeing the result.
func (h *resultHooks) show(method *tl.Definition, body []byte) {
	if h.first != nil {
		h.run(h.first, method, body)
	}
	if added := h.added.Load(); added != nil {
		for _, hk := range *added {
			h.run(hk.f, method, body)
		}
	}
}

func (h *resultHooks) run(f func(*tl.Definition, []byte), method *tl.Definition, body []byte) {
	defer func() {
		if r := recover(); r != nil {
			h.log.Error("OnResult hook panicked", "method", method.Name, "panic", r)
		}
	}()
	f(method, body)
}

func (h *resultHooks) add(f func(*tl.Definition, []byte)) (remove func()) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.next++
	id := h.next
	var hooks []resultHook
	if cur := h.added.Load(); cur != nil {
		hooks = append(hooks, *cur...)
	}
	hooks = append(hooks, resultHook{id: id, f: f})
	h.added.Store(&hooks)
	return func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		cur := h.added.Load()
		if cur == nil {
			return
		}
		kept := make([]resultHook, 0, len(*cur))
		for _, hk := range *cur {
			if hk.id != id {
				kept = append(kept, hk)
			}
		}
		h.added.Store(&kept)
	}
}

// OnResult adds f to the functions shown every successful result, as
// Config.OnResult is, from now on: a hook may be added after Start, so a
// cache opened on a started client learns from it
// (entitycache.Cache.Attach). f sees the method and its TL body, which it
// must not modify (the caller gets the same bytes; keeping them is safe).
// Hooks run in the order added, after Config.OnResult, on the scheduler
// actor's goroutine, and must not block. A panic in f is logged
// (Config.Logger) and the call still gets its result. remove stops showing
// results to f.
func (c *Client) OnResult(f func(method *tl.Definition, body []byte)) (remove func()) {
	return c.hooks.add(f)
}
