package actors

import (
	"context"
	"encoding/binary"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/gotd/td/bin"
	"github.com/gotd/td/tg"
)

// UpdateHandler receives the updates an account's connections carry
// (Config.UpdateHandler). Its method set is that of gotd's
// telegram.UpdateHandler, so a telegram.UpdateHandlerFunc, a
// tg.UpdateDispatcher or gotd's updates.Manager (telegram/updates, which
// recovers gaps with updates.getDifference) can be given as it is. It is
// declared here rather than imported so that package actors does not link
// gotd's whole telegram client (about 60 packages).
type UpdateHandler interface {
	Handle(ctx context.Context, u tg.UpdatesClass) error
}

// DefaultUpdateQueue is the number of updates waiting for the
// UpdateHandler beyond which new ones are dropped (Config.UpdateQueue).
const DefaultUpdateQueue = 1024

// updatesTypeIDs are the constructors of TL type Updates: a message from
// the server (or a call's result) that starts with one of them is handed to
// the UpdateHandler.
var updatesTypeIDs = map[uint32]bool{
	tg.UpdatesTooLongTypeID:         true,
	tg.UpdateShortMessageTypeID:     true,
	tg.UpdateShortChatMessageTypeID: true,
	tg.UpdateShortTypeID:            true,
	tg.UpdatesCombinedTypeID:        true,
	tg.UpdatesTypeID:                true,
	tg.UpdateShortSentMessageTypeID: true,
}

// isUpdates reports whether body is a TL Updates object.
func isUpdates(body []byte) bool {
	return len(body) >= 4 && updatesTypeIDs[binary.LittleEndian.Uint32(body)]
}

// updateQueue hands updates to the UpdateHandler from one goroutine of its
// own, in the order they were offered, so that a slow handler never stalls
// the actors: offer never blocks. Past its capacity an update is dropped
// and counted (Client.DroppedUpdates); a handler that tracks pts (gotd's
// updates.Manager) sees the gap with the next update and fetches what it
// missed with updates.getDifference.
type updateQueue struct {
	h       UpdateHandler
	log     *slog.Logger
	ch      chan []byte
	dropped atomic.Uint64
	ctx     context.Context
	cancel  context.CancelFunc
	done    sync.WaitGroup
}

func newUpdateQueue(h UpdateHandler, size int, log *slog.Logger) *updateQueue {
	if size <= 0 {
		size = DefaultUpdateQueue
	}
	ctx, cancel := context.WithCancel(context.Background())
	q := &updateQueue{h: h, log: log, ch: make(chan []byte, size), ctx: ctx, cancel: cancel}
	q.done.Add(1)
	go q.run()
	return q
}

// offer queues body, a TL Updates object, for the handler; anything else
// is ignored. body is copied. Safe on a nil queue (no handler: dropped, as
// before the hook existed).
func (q *updateQueue) offer(body []byte) {
	if q == nil || !isUpdates(body) {
		return
	}
	select {
	case q.ch <- append([]byte(nil), body...):
	default:
		if q.dropped.Add(1) == 1 {
			q.log.Warn("update queue full: updates dropped (a pts-tracking handler recovers them with getDifference)")
		}
	}
}

func (q *updateQueue) run() {
	defer q.done.Done()
	for {
		select {
		case <-q.ctx.Done():
			return
		case body := <-q.ch:
			q.handle(body)
		}
	}
}

func (q *updateQueue) handle(body []byte) {
	u, err := tg.DecodeUpdates(&bin.Buffer{Buf: body})
	if err != nil {
		q.log.Warn("decode update", "err", err)
		return
	}
	defer func() {
		if r := recover(); r != nil {
			q.log.Error("UpdateHandler panicked", "panic", r)
		}
	}()
	if err := q.h.Handle(q.ctx, u); err != nil {
		q.log.Debug("UpdateHandler", "err", err)
	}
}

// close stops the goroutine, cancelling the context a running Handle got,
// and waits for it. Updates still queued are dropped.
func (q *updateQueue) close() {
	if q == nil {
		return
	}
	q.cancel()
	q.done.Wait()
}
