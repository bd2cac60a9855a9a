package actors

import (
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/tlsched/tlsched/mtproto"
	"github.com/tlsched/tlsched/scheduler"
	"github.com/tlsched/tlsched/telemetry"
)

// dcTelemetry is a DC actor's telemetry bookkeeping, kept apart from the
// connection and session driving: which calls of the current session carry
// a span, why the session sends a call again, and when the connection being
// dialled started. With no Telemetry it holds nothing and records nothing.
// It belongs to the DC actor's goroutine.
type dcTelemetry struct {
	t        *telemetry.Telemetry
	dc       int
	calls    map[mtproto.CallID]*telemetry.Call // calls with spans in this session
	reasons  map[mtproto.CallID]string          // why the session queued a call again
	dialAt   time.Time
	lostOnce bool // a connection was lost before: later dials are reconnects
	// why the last connection ended, and the wait before redialling
	// (reconnect.go), for the next dial's span
	lostReason string
	lostWait   time.Duration
}

func newDCTelemetry(t *telemetry.Telemetry, dc int) *dcTelemetry {
	return &dcTelemetry{t: t, dc: dc, calls: map[mtproto.CallID]*telemetry.Call{}, reasons: map[mtproto.CallID]string{}}
}

// dialing marks the start of a connection attempt.
func (r *dcTelemetry) dialing() { r.dialAt = time.Now() }

// dialed records the attempt started by dialing: connected (with a key
// exchange when exchanged) if err is nil, failed otherwise. The span is a
// child of the first traced call among the batches waiting for it.
func (r *dcTelemetry) dialed(exchanged bool, err error, waiting []scheduler.Batch) {
	if r.t == nil {
		return
	}
	var cause trace.SpanContext
	for _, b := range waiting {
		for _, s := range b.Calls {
			if p, ok := s.Call.Payload.(*pending); ok && p.tel != nil && !cause.IsValid() {
				cause = p.tel.SpanContext()
			}
		}
	}
	r.t.Connection(telemetry.Dial{DC: r.dc, Start: r.dialAt, Exchanged: exchanged, Reconnect: r.lostOnce,
		Reason: r.lostReason, Wait: r.lostWait, Cause: cause, Err: err})
}

// packed notes that a call goes into the session; c is its span, nil if
// the call is not traced.
func (r *dcTelemetry) packed(id mtproto.CallID, c *telemetry.Call) {
	if c != nil {
		r.calls[id] = c
	}
}

// received notes what a frame told the session: why calls will be sent
// again, and which calls are answered (their spans end with the caller's
// future, not here).
func (r *dcTelemetry) received(rcv mtproto.Received) {
	if r.t != nil {
		for _, ev := range rcv.Events {
			if re, ok := ev.(mtproto.Resent); ok {
				for _, id := range re.Calls {
					r.reasons[id] = string(re.Reason)
				}
			}
		}
	}
	for _, res := range rcv.Results {
		delete(r.calls, res.Call)
	}
}

// frame records a frame about to be written: a "sent" event on each call's
// span (a "resent" one for a later attempt) and a container span linked to
// them.
func (r *dcTelemetry) frame(f mtproto.Frame) {
	if r.t == nil {
		return
	}
	links := make([]trace.SpanContext, 0, len(f.Calls))
	for _, sc := range f.Calls {
		c := r.calls[sc.Call]
		if c == nil {
			continue
		}
		reason := ""
		if sc.Attempt > 1 {
			// The session sends it again: its reason, if it gave one.
			reason = r.reasons[sc.Call]
			if reason == "" {
				reason = "resend"
			}
			delete(r.reasons, sc.Call)
		}
		c.Sent(r.dc, sc.MsgID, f.MsgID, reason)
		links = append(links, c.SpanContext())
	}
	r.t.Frame(r.dc, f.MsgID, f.Container, links, f.Messages, f.Bytes)
}

// connectionLost notes a lost connection: later dials are reconnects. The
// session, and the spans of its calls, go on with the next connection.
func (r *dcTelemetry) connectionLost() { r.lostOnce = true }

// redialing notes why the connection ended and how long the DC actor
// waits before the next dial (reconnect.go), for that dial's span.
func (r *dcTelemetry) redialing(reason string, wait time.Duration) {
	r.lostReason, r.lostWait = reason, wait
}

// sessionLost forgets the session's calls: they come back in new batches.
func (r *dcTelemetry) sessionLost() {
	clear(r.calls)
	clear(r.reasons)
}

// pong records the answer to a liveness ping.
func (r *dcTelemetry) pong(p mtproto.Pong) { r.t.Ping(r.dc, p.PingID, p.RTT) }
