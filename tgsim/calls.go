package tgsim

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/gotd/td/bin"
	"github.com/gotd/td/mt"
	"github.com/gotd/td/tg"
	"github.com/gotd/td/tgerr"

	"github.com/tlsched/tlsched/tl"
)

// callState is what invokeAfterMsg needs to know of a call: whether it has
// arrived, whether it is done, and whether it failed. A dependent may ask
// before the awaited call arrives; the state is then a placeholder.
type callState struct {
	present bool          // the call has been read
	done    chan struct{} // closed when its result is queued
	failed  bool          // set before done is closed
}

func newCallState() *callState {
	return &callState{done: make(chan struct{})}
}

func (c *callState) isDone() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// call is one RPC query read from a session, wrappers peeled off.
type call struct {
	sess     *session
	msgID    int64
	after    []int64 // invokeAfterMsg(s)
	initConn bool
	typeID   uint32
	method   string
	query    []byte // the innermost query, boxed
	st       *callState
	waits    []*callState
	failNow  error  // answer at once with this
	release  func() // ends claimRandomID's claim, if any
}

// rest captures the rest of a buffer: the query inside initConnection.
type rest struct{ data []byte }

func (r *rest) Decode(b *bin.Buffer) error {
	if b.Len() < 4 {
		return errors.New("query is missing")
	}
	r.data = b.Buf
	b.Skip(b.Len())
	return nil
}

func (r *rest) Encode(*bin.Buffer) error { return errors.New("rest: encode") }

// maxAfterMsgs caps the msg_ids of one invokeAfterMsgs. MTProto fixes no
// limit; tgsim refuses a longer vector as a malformed query.
const maxAfterMsgs = 1024

// peel removes the invoke wrappers from a query.
func peel(body []byte) (cl call, err error) {
	b := &bin.Buffer{Buf: body}
	for {
		id, err := b.PeekID()
		if err != nil {
			return cl, err
		}
		switch id {
		case tg.InvokeAfterMsgRequestTypeID:
			b.Skip(4)
			mid, err := b.Long()
			if err != nil {
				return cl, err
			}
			cl.after = append(cl.after, mid)
		case tg.InvokeAfterMsgsRequestTypeID:
			b.Skip(4)
			n, err := b.VectorHeader()
			if err != nil || n > maxAfterMsgs {
				return cl, fmt.Errorf("invokeAfterMsgs: bad vector (%d, %v)", n, err)
			}
			for range n {
				mid, err := b.Long()
				if err != nil {
					return cl, err
				}
				cl.after = append(cl.after, mid)
			}
		case tg.InvokeWithLayerRequestTypeID:
			b.Skip(4)
			if _, err := b.Int(); err != nil {
				return cl, err
			}
		case tg.InvokeWithoutUpdatesRequestTypeID:
			b.Skip(4)
		case tg.InitConnectionRequestTypeID:
			q := &rest{}
			ic := tg.InitConnectionRequest{Query: q}
			if err := ic.Decode(b); err != nil {
				return cl, err
			}
			cl.initConn = true
			b = &bin.Buffer{Buf: q.data}
		default:
			cl.typeID = id
			cl.query = b.Buf
			if d, ok := tl.ByID(id); ok {
				cl.method = d.Name
			}
			return cl, nil
		}
	}
}

// newCall registers a query read under msg id. s.mu is held.
func (s *session) newCall(id int64, body []byte) *call {
	srv := s.srv
	cl, err := peel(body)
	cl.sess, cl.msgID = s, id
	cl.st = s.calls[id]
	if cl.st == nil {
		cl.st = newCallState()
		s.calls[id] = cl.st
	}
	cl.st.present = true
	switch {
	case err != nil:
		cl.failNow = tgerr.New(400, "INPUT_REQUEST_INVALID")
		srv.logf("tgsim: DC %d: cannot read query %d: %v", s.key.dc.id, id, err)
		return &cl
	case cl.initConn:
		s.key.mu.Lock()
		s.key.inited = true
		s.key.mu.Unlock()
	default:
		s.key.mu.Lock()
		inited := s.key.inited
		s.key.mu.Unlock()
		if !inited {
			// Telegram: the first query on a new auth key must be wrapped in
			// invokeWithLayer(initConnection(...)).
			cl.failNow = tgerr.New(400, "CONNECTION_NOT_INITED")
			return &cl
		}
	}
	for _, a := range cl.after {
		w := s.calls[a]
		if w == nil {
			w = newCallState()
			s.calls[a] = w
		}
		cl.waits = append(cl.waits, w)
	}
	return &cl
}

// start runs a call: at once, after its latency, or after the calls it
// waits for. s.mu is not held.
func (s *session) start(cl *call) {
	srv := s.srv
	if cl.failNow != nil {
		s.finish(cl, nil, cl.failNow)
		return
	}
	if len(cl.waits) > 0 {
		srv.count.orderingWaits.Add(1)
		srv.wg.Add(1)
		go func() {
			defer srv.wg.Done()
			if err := s.await(cl); err != nil {
				s.finish(cl, nil, err)
				return
			}
			s.schedule(cl)
		}()
		return
	}
	s.schedule(cl)
}

// await waits for the calls cl depends on. MTProto ("Calling methods:
// sequential requests"): if an awaited call failed, the dependent fails with
// 400 MSG_WAIT_FAILED; if no result of an awaited call has appeared within
// about 0.5 s of the dependent's arrival (Config.WaitTimeout), whether the
// awaited call is still running or has not arrived, with 400
// MSG_WAIT_TIMEOUT.
func (s *session) await(cl *call) error {
	srv := s.srv
	timeout := time.NewTimer(srv.cfg.WaitTimeout)
	defer timeout.Stop()
	for _, w := range cl.waits {
		select {
		case <-w.done:
		case <-timeout.C:
			return tgerr.New(400, "MSG_WAIT_TIMEOUT")
		case <-srv.ctx.Done():
			return srv.ctx.Err()
		}
		if w.failed {
			return tgerr.New(400, "MSG_WAIT_FAILED")
		}
	}
	return nil
}

func (s *session) latency(method string) time.Duration {
	l, ok := s.srv.cfg.MethodLatency[method]
	if !ok {
		l = s.srv.cfg.Latency
	}
	if l.Base < 0 {
		return 0
	}
	d := l.Base
	if l.Jitter > 0 {
		d += rand.N(l.Jitter)
	}
	return d
}

func (s *session) schedule(cl *call) {
	srv := s.srv
	release, err := srv.world.claimRandomID(s.key, cl.typeID, cl.query)
	if err != nil {
		s.finish(cl, nil, err)
		return
	}
	cl.release = release
	d := s.latency(cl.method)
	if d <= 0 {
		s.run(cl)
		return
	}
	srv.wg.Add(1)
	t := time.AfterFunc(d, func() {
		defer srv.wg.Done()
		s.run(cl)
	})
	if d <= 50*time.Millisecond {
		return
	}
	// Close must not wait out a long latency.
	srv.wg.Add(1)
	go func() {
		defer srv.wg.Done()
		select {
		case <-srv.ctx.Done():
			if t.Stop() {
				srv.wg.Done()
			}
		case <-cl.st.done:
		}
	}()
}

func (s *session) run(cl *call) {
	srv := s.srv
	if srv.ctx.Err() != nil {
		return
	}
	res, err := srv.world.invoke(&request{
		srv: srv, dc: s.key.dc, key: s.key,
		typeID: cl.typeID, method: cl.method, query: cl.query,
		now: srv.now(),
	})
	if cl.release != nil {
		cl.release()
	}
	s.finish(cl, res, err)
}

// finish queues the result of a call (or its error) and wakes its
// dependents.
func (s *session) finish(cl *call, res bin.Encoder, err error) {
	srv := s.srv
	if err != nil && srv.ctx.Err() != nil {
		return
	}
	var body bin.Encoder = res
	if err != nil {
		var rpcErr *tgerr.Error
		if !errors.As(err, &rpcErr) {
			rpcErr = tgerr.New(500, "INTERNAL")
			srv.logf("tgsim: %s: %v", cl.method, err)
		}
		srv.count.err(rpcErr.Type)
		body = &mt.RPCError{ErrorCode: rpcErr.Code, ErrorMessage: rpcErr.Message}
	}
	s.mu.Lock()
	cl.st.failed = err != nil
	close(cl.st.done)
	s.finished = append(s.finished, cl.msgID)
	if len(s.finished) > rememberCalls {
		for _, old := range s.finished[:len(s.finished)/2] {
			delete(s.calls, old)
		}
		s.finished = append([]int64(nil), s.finished[len(s.finished)/2:]...)
	}
	delete(s.pendingAcks, cl.msgID)
	s.answer(cl.msgID, body)
	s.mu.Unlock()
}
