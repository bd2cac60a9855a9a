package telemetry

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gotd/td/tgerr"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// Metric and attribute names.
const (
	MetricCalls          = "tlsched.calls"               // counter: method, outcome
	MetricCallLatency    = "tlsched.call.duration"       // histogram, s: method
	MetricQueueWait      = "tlsched.call.queue_wait"     // histogram, s: method
	MetricContainerMsgs  = "tlsched.container.messages"  // histogram
	MetricContainerBytes = "tlsched.container.bytes"     // histogram
	MetricInFlight       = "tlsched.calls.in_flight"     // gauge
	MetricQueued         = "tlsched.calls.queued"        // gauge
	MetricFloodWait      = "tlsched.flood_wait.duration" // counter, s: method
	MetricResends        = "tlsched.resends"             // counter: reason
	MetricReconnects     = "tlsched.reconnects"          // counter: dc
	MetricRTT            = "tlsched.dc.rtt"              // histogram, s: dc (ping to pong)
	// MetricEntityDropped counts what the entity cache gave up to keep the
	// scheduler unblocked and its memory bounded: what = "results" and
	// "result_bytes" (not learned, the learn queue was full), "unwritten"
	// (learned while the store failed, never written).
	MetricEntityDropped = "tlsched.entitycache.dropped" // observable counter: what
)

// attrCache holds prebuilt measurement options, so recording a call does
// not allocate attribute sets. Keys are at most two attributes.
type attrCache struct {
	mu sync.RWMutex
	m  map[attrKey]metric.MeasurementOption
}

type attrKey struct{ k1, v1, k2, v2 string }

func (a *attrCache) get(k attrKey) metric.MeasurementOption {
	a.mu.RLock()
	o, ok := a.m[k]
	a.mu.RUnlock()
	if ok {
		return o
	}
	attrs := []attribute.KeyValue{attribute.String(k.k1, k.v1)}
	if k.k2 != "" {
		attrs = append(attrs, attribute.String(k.k2, k.v2))
	}
	o = metric.WithAttributeSet(attribute.NewSet(attrs...))
	a.mu.Lock()
	if a.m == nil {
		a.m = map[attrKey]metric.MeasurementOption{}
	}
	a.m[k] = o
	a.mu.Unlock()
	return o
}

type instruments struct {
	attrs                         attrCache
	calls, resends, reconnects    metric.Int64Counter
	floodWait                     metric.Float64Counter
	latency, queueWait, rtt       metric.Float64Histogram
	containerMsgs, containerBytes metric.Int64Histogram
	inFlight, queued              metric.Int64ObservableGauge
	gauges                        func() (inFlight, queued int64)
	entityDropped                 metric.Int64ObservableCounter
	entityGauges                  atomic.Pointer[func() (results, resultBytes, unwritten int64)]
}

func (m *instruments) init(meter metric.Meter) error {
	var errs []error
	add := func(err error) { errs = append(errs, err) }
	var err error
	m.calls, err = meter.Int64Counter(MetricCalls, metric.WithDescription("calls finished, by method and outcome"))
	add(err)
	m.resends, err = meter.Int64Counter(MetricResends, metric.WithDescription("calls sent again, by reason"))
	add(err)
	m.reconnects, err = meter.Int64Counter(MetricReconnects, metric.WithDescription("connections lost and redialled, by DC"))
	add(err)
	m.floodWait, err = meter.Float64Counter(MetricFloodWait, metric.WithUnit("s"), metric.WithDescription("FLOOD_WAIT seconds met, by method"))
	add(err)
	m.latency, err = meter.Float64Histogram(MetricCallLatency, metric.WithUnit("s"), metric.WithDescription("submit to result"))
	add(err)
	m.queueWait, err = meter.Float64Histogram(MetricQueueWait, metric.WithUnit("s"), metric.WithDescription("submit to first send"))
	add(err)
	m.rtt, err = meter.Float64Histogram(MetricRTT, metric.WithUnit("s"), metric.WithDescription("round trip of a ping, by DC"))
	add(err)
	m.containerMsgs, err = meter.Int64Histogram(MetricContainerMsgs, metric.WithDescription("messages per frame written"))
	add(err)
	m.containerBytes, err = meter.Int64Histogram(MetricContainerBytes, metric.WithUnit("By"), metric.WithDescription("payload bytes per frame written"))
	add(err)
	m.inFlight, err = meter.Int64ObservableGauge(MetricInFlight, metric.WithDescription("calls sent and not answered"))
	add(err)
	m.queued, err = meter.Int64ObservableGauge(MetricQueued, metric.WithDescription("calls held by the scheduler"))
	add(err)
	m.entityDropped, err = meter.Int64ObservableCounter(MetricEntityDropped, metric.WithDescription("entity cache drops, by what"))
	add(err)
	if err := errors.Join(errs...); err != nil {
		return err
	}
	_, err = meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		if m.gauges != nil {
			f, q := m.gauges()
			o.ObserveInt64(m.inFlight, f)
			o.ObserveInt64(m.queued, q)
		}
		if f := m.entityGauges.Load(); f != nil {
			r, rb, u := (*f)()
			o.ObserveInt64(m.entityDropped, r, metric.WithAttributes(attribute.String("what", "results")))
			o.ObserveInt64(m.entityDropped, rb, metric.WithAttributes(attribute.String("what", "result_bytes")))
			o.ObserveInt64(m.entityDropped, u, metric.WithAttributes(attribute.String("what", "unwritten")))
		}
		return nil
	}, m.inFlight, m.queued, m.entityDropped)
	return err
}

// Gauges registers the source of the in-flight and queued gauges.
func (t *Telemetry) Gauges(f func() (inFlight, queued int64)) {
	if t != nil && t.on {
		t.m.gauges = f
	}
}

// EntityCache registers the source of the entity cache's drop counters
// (MetricEntityDropped); nil unregisters it. entitycache.Open calls it.
func (t *Telemetry) EntityCache(f func() (results, resultBytes, unwritten int64)) {
	if t == nil || !t.on {
		return
	}
	if f == nil {
		t.m.entityGauges.Store(nil)
		return
	}
	t.m.entityGauges.Store(&f)
}

// Call is one call's span and timings. The zero value records nothing.
type Call struct {
	t      *Telemetry
	span   trace.Span
	method string
	start  time.Time
	sent   atomic.Bool
}

// StartCall starts the span of a call of method, a child of ctx's span.
func (t *Telemetry) StartCall(ctx context.Context, method string) (context.Context, *Call) {
	if t == nil || !t.on {
		return ctx, nil
	}
	ctx, span := t.tracer.Start(ctx, method, trace.WithSpanKind(trace.SpanKindClient))
	if span.IsRecording() {
		span.SetAttributes(attribute.String("rpc.system", "telegram"), attribute.String("rpc.method", method))
		span.AddEvent("queued")
	}
	return ctx, &Call{t: t, span: span, method: method, start: time.Now()}
}

// SpanContext is the call's span, for container links.
func (c *Call) SpanContext() trace.SpanContext {
	if c == nil {
		return trace.SpanContext{}
	}
	return c.span.SpanContext()
}

// Sent records one attempt going out in a frame.
func (c *Call) Sent(dc int, msgID, containerID int64, attempt int) {
	if c == nil {
		return
	}
	if c.sent.CompareAndSwap(false, true) {
		c.t.m.queueWait.Record(context.Background(), time.Since(c.start).Seconds(), c.t.m.attrs.get(attrKey{k1: "rpc.method", v1: c.method}))
	}
	if !c.span.IsRecording() {
		return
	}
	c.span.AddEvent("sent", trace.WithAttributes(
		attribute.Int("tlsched.dc", dc), attribute.Int64("mtproto.msg_id", msgID),
		attribute.Int64("mtproto.container_id", containerID), attribute.Int("tlsched.attempt", attempt)))
	c.span.SetAttributes(attribute.Int("tlsched.dc", dc), attribute.Int64("mtproto.msg_id", msgID),
		attribute.Int64("mtproto.container_id", containerID), attribute.Int("tlsched.attempts", attempt))
}

// FloodWait records a FLOOD_WAIT the call met; the scheduler holds it.
func (c *Call) FloodWait(d time.Duration) {
	if c == nil {
		return
	}
	c.span.AddEvent("flood_wait", trace.WithAttributes(attribute.Float64("tlsched.wait_seconds", d.Seconds())))
	c.t.m.floodWait.Add(context.Background(), d.Seconds(), c.t.m.attrs.get(attrKey{k1: "rpc.method", v1: c.method}))
}

// Resent records that the call is sent again, and why.
func (c *Call) Resent(reason string) {
	if c == nil {
		return
	}
	c.span.AddEvent("resent", trace.WithAttributes(attribute.String("tlsched.reason", reason)))
	c.t.m.resends.Add(context.Background(), 1, c.t.m.attrs.get(attrKey{k1: "tlsched.reason", v1: reason}))
}

// End closes the span with the call's outcome.
func (c *Call) End(err error) {
	if c == nil {
		return
	}
	outcome := "ok"
	if err != nil {
		outcome = "error"
		var rpc *tgerr.Error
		if errors.As(err, &rpc) {
			c.span.SetAttributes(attribute.Int("rpc.telegram.error_code", rpc.Code), attribute.String("rpc.telegram.error_type", rpc.Type))
			outcome = rpc.Type
		}
		c.span.RecordError(err)
		c.span.SetStatus(codes.Error, err.Error())
	}
	c.span.AddEvent("result", trace.WithAttributes(attribute.String("tlsched.outcome", outcome)))
	c.t.m.calls.Add(context.Background(), 1, c.t.m.attrs.get(attrKey{"rpc.method", c.method, "tlsched.outcome", outcome}))
	c.t.m.latency.Record(context.Background(), time.Since(c.start).Seconds(), c.t.m.attrs.get(attrKey{k1: "rpc.method", v1: c.method}))
	c.span.End()
}

// Container records one frame written: a span linked to every call span it
// carries (the OTel pattern for batches), a child of the first of them, with
// its message count and size.
func (t *Telemetry) Container(dc int, msgID int64, container bool, calls []trace.SpanContext, messages, bytes int) {
	if t == nil || !t.on {
		return
	}
	links := make([]trace.Link, 0, len(calls))
	for _, sc := range calls {
		if sc.IsValid() {
			links = append(links, trace.Link{SpanContext: sc})
		}
	}
	name := "mtproto.message"
	if container {
		name = "mtproto.container"
	}
	// The span's parent is the first call it carried, so a trace viewer shows
	// the container inside that call's trace; the links name every call.
	ctx := context.Background()
	if len(links) > 0 {
		ctx = trace.ContextWithSpanContext(ctx, links[0].SpanContext)
	}
	_, span := t.tracer.Start(ctx, name, trace.WithSpanKind(trace.SpanKindProducer), trace.WithLinks(links...),
		trace.WithAttributes(attribute.Int("tlsched.dc", dc), attribute.Int64("mtproto.msg_id", msgID),
			attribute.Int("mtproto.messages", messages), attribute.Int("mtproto.bytes", bytes), attribute.Int("tlsched.calls", len(calls))))
	span.End()
	t.m.containerMsgs.Record(context.Background(), int64(messages))
	t.m.containerBytes.Record(context.Background(), int64(bytes))
}

// RTT records the round trip of a liveness ping on a DC's connection.
func (t *Telemetry) RTT(dc int, d time.Duration) {
	if t == nil || !t.on {
		return
	}
	t.m.rtt.Record(context.Background(), d.Seconds(), metric.WithAttributes(attribute.Int("tlsched.dc", dc)))
}

// Connection records a dial (with a key exchange when exchanged) and its
// outcome; a reconnect after a loss is counted.
func (t *Telemetry) Connection(dc int, start time.Time, exchanged, reconnect bool, err error) {
	if t == nil || !t.on {
		return
	}
	name := "mtproto.connect"
	if exchanged {
		name = "mtproto.key_exchange"
	}
	_, span := t.tracer.Start(context.Background(), name, trace.WithTimestamp(start),
		trace.WithAttributes(attribute.Int("tlsched.dc", dc), attribute.Bool("tlsched.reconnect", reconnect)))
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
	if reconnect {
		t.m.reconnects.Add(context.Background(), 1, metric.WithAttributes(attribute.Int("tlsched.dc", dc)))
	}
}
