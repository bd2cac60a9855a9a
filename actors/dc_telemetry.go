package actors

import (
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/tlsched/tlsched/mtproto"
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
}

func newDCTelemetry(t *telemetry.Telemetry, dc int) *dcTelemetry {
	return &dcTelemetry{t: t, dc: dc, calls: map[mtproto.CallID]*telemetry.Call{}, reasons: map[mtproto.CallID]string{}}
}

// dialing marks the start of a connection attempt.
func (r *dcTelemetry) dialing() { r.dialAt = time.Now() }

// dialed records the attempt started by dialing: connected (with a key
// exchange when exchanged) if err is nil, failed otherwise.
func (r *dcTelemetry) dialed(exchanged bool, err error) {
	r.t.Connection(r.dc, r.dialAt, exchanged, r.lostOnce, err)
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
		if sc.Attempt > 1 {
			reason := r.reasons[sc.Call]
			if reason == "" {
				reason = "resend"
			}
			delete(r.reasons, sc.Call)
			c.Resent(reason)
		}
		c.Sent(r.dc, sc.MsgID, f.MsgID, sc.Attempt)
		links = append(links, c.SpanContext())
	}
	r.t.Container(r.dc, f.MsgID, f.Container, links, f.Messages, f.Bytes)
}

// connectionLost notes a lost connection: later dials are reconnects. The
// session, and the spans of its calls, go on with the next connection.
func (r *dcTelemetry) connectionLost() { r.lostOnce = true }

// sessionLost forgets the session's calls: they come back in new batches.
func (r *dcTelemetry) sessionLost() {
	clear(r.calls)
	clear(r.reasons)
}

// rtt records the round trip of a liveness ping.
func (r *dcTelemetry) rtt(d time.Duration) { r.t.RTT(r.dc, d) }
