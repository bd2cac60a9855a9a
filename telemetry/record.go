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
	gaugeReg                      metric.Registration
	entityDropped                 metric.Int64ObservableCounter
	entityGauges                  atomic.Pointer[func() (results, resultBytes, unwritten int64)]
	pacer                         pacerInstruments // pacer.go
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
	add(m.pacer.init(meter))
	if err := errors.Join(errs...); err != nil {
		return err
	}
	m.gaugeReg, err = meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
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
		m.pacer.observe(o)
		return nil
	}, m.inFlight, m.queued, m.entityDropped, m.pacer.rate, m.pacer.learned)
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
// Its methods may be called from any goroutine.
type Call struct {
	t        *Telemetry
	span     trace.Span
	method   string
	start    time.Time
	attempts atomic.Int32
	// retry is why the call was handed back to the scheduler and sent
	// again in a later batch (FloodWait sets it), for the next "resent".
	retry atomic.Pointer[string]
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

// SpanContext is the call's span, for frame links.
func (c *Call) SpanContext() trace.SpanContext {
	if c == nil {
		return trace.SpanContext{}
	}
	return c.span.SpanContext()
}

// Reason of a call sent again in a later batch of the scheduler, when no
// other reason is known (a migration, a retry after backoff, a DC lost).
const ReasonRetry = "retry"

// Sent records one attempt going out in a frame: msgID is the call's
// message, frameID the frame's (the container's, or msgID for a frame of
// one message). Attempts are counted per call, over every session and
// batch it went out in: the first Sent is attempt 1. An attempt after the
// first records a "resent" event first, with reason (the session's, as
// mtproto.ResendReason; empty for a later batch of the scheduler: the
// flood wait the call met, or ReasonRetry).
func (c *Call) Sent(dc int, msgID, frameID int64, reason string) {
	if c == nil {
		return
	}
	n := int(c.attempts.Add(1))
	if n == 1 {
		c.t.m.queueWait.Record(context.Background(), time.Since(c.start).Seconds(), c.t.m.attrs.get(attrKey{k1: "rpc.method", v1: c.method}))
	} else {
		if reason == "" {
			reason = ReasonRetry
			if r := c.retry.Swap(nil); r != nil {
				reason = *r
			}
		}
		c.resent(reason)
	}
	if !c.span.IsRecording() {
		return
	}
	c.span.AddEvent("sent", trace.WithAttributes(
		attribute.Int("tlsched.dc", dc), attribute.Int64("mtproto.msg_id", msgID),
		attribute.Int64("mtproto.container_id", frameID), attribute.Int("tlsched.attempt", n)))
	c.span.SetAttributes(attribute.Int("tlsched.dc", dc), attribute.Int64("mtproto.msg_id", msgID),
		attribute.Int64("mtproto.container_id", frameID), attribute.Int("tlsched.attempts", n))
}

// reasonFloodWait is the resend reason after a flood wait.
var reasonFloodWait = "flood_wait"

// FloodWait records a FLOOD_WAIT the call met; the scheduler holds it and
// sends it again (a "resent" event with reason flood_wait).
func (c *Call) FloodWait(d time.Duration) {
	if c == nil {
		return
	}
	c.retry.Store(&reasonFloodWait)
	c.span.AddEvent("flood_wait", trace.WithAttributes(attribute.Float64("tlsched.wait_seconds", d.Seconds())))
	c.t.m.floodWait.Add(context.Background(), d.Seconds(), c.t.m.attrs.get(attrKey{k1: "rpc.method", v1: c.method}))
}

// resent records that the call is sent again, and why.
func (c *Call) resent(reason string) {
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

// Frame span names: a frame that is an msg_container, and a frame of one
// bare message (a single call, or a call with no acks to go with it).
const (
	SpanContainer = "mtproto.container"
	SpanMessage   = "mtproto.message"
)

// MaxFrameLinks is the most call links one frame span holds: the
// OpenTelemetry SDK's default span link limit (SpanLimits.LinkCountLimit,
// OTEL_SPAN_LINK_COUNT_LIMIT). A span past it drops its further links
// silently, so a frame carrying more calls of one trace gets one span per
// MaxFrameLinks of them.
const MaxFrameLinks = 128

// Frame records one frame written to a DC: its size in the metrics, and
// spans linked to the call spans it carries (the OpenTelemetry pattern for
// a batch). A frame's calls may belong to several traces (callers with
// spans of their own, or calls with none, each its own trace): each trace
// gets its own frame span, a child of the first of its calls in the frame,
// so that a trace viewer shows the frame inside every trace it served; and
// a span links at most MaxFrameLinks calls, more take more spans. Each span
// carries the frame's msg_id, DC, message count and bytes, and the count of
// calls in the whole frame and of those it links. A frame that carries no
// traced call (acks, pings only; or calls of traces not sampled) makes no
// span. calls may hold invalid span contexts (calls not traced): skipped.
func (t *Telemetry) Frame(dc int, msgID int64, container bool, calls []trace.SpanContext, messages, bytes int) {
	if t == nil || !t.on {
		return
	}
	t.m.containerMsgs.Record(context.Background(), int64(messages))
	t.m.containerBytes.Record(context.Background(), int64(bytes))
	name := SpanMessage
	if container {
		name = SpanContainer
	}
	// Group the sampled calls by trace, in frame order (calls without a
	// caller span are a trace each: a frame may hold a thousand).
	type group struct{ links []trace.Link }
	var groups []group
	index := map[trace.TraceID]int{}
	for _, sc := range calls {
		if !sc.IsValid() || !sc.IsSampled() {
			continue // nothing to show it in: no span to parent or link
		}
		i, ok := index[sc.TraceID()]
		if !ok {
			i = len(groups)
			index[sc.TraceID()] = i
			groups = append(groups, group{})
		}
		groups[i].links = append(groups[i].links, trace.Link{SpanContext: sc})
	}
	for _, g := range groups {
		for len(g.links) > 0 {
			part := g.links[:min(len(g.links), MaxFrameLinks)]
			g.links = g.links[len(part):]
			ctx := trace.ContextWithSpanContext(context.Background(), part[0].SpanContext)
			_, span := t.tracer.Start(ctx, name, trace.WithSpanKind(trace.SpanKindProducer), trace.WithLinks(part...),
				trace.WithAttributes(attribute.Int("tlsched.dc", dc), attribute.Int64("mtproto.msg_id", msgID),
					attribute.Int("mtproto.messages", messages), attribute.Int("mtproto.bytes", bytes),
					attribute.Int("tlsched.calls", len(calls)), attribute.Int("tlsched.calls_linked", len(part))))
			span.End()
		}
	}
}

// Ping records a liveness ping answered on a DC's connection: its round
// trip in the metrics, and a root span "mtproto.ping" from ping to pong.
func (t *Telemetry) Ping(dc int, pingID int64, rtt time.Duration) {
	if t == nil || !t.on {
		return
	}
	t.m.rtt.Record(context.Background(), rtt.Seconds(), metric.WithAttributes(attribute.Int("tlsched.dc", dc)))
	now := time.Now()
	_, span := t.tracer.Start(context.Background(), "mtproto.ping", trace.WithTimestamp(now.Add(-rtt)),
		trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.Int("tlsched.dc", dc), attribute.Int64("mtproto.ping_id", pingID)))
	span.End(trace.WithTimestamp(now))
}

// Dial is one connection attempt to a DC, for Connection.
type Dial struct {
	DC    int
	Start time.Time
	// Exchanged: the connection made a new auth key (a key exchange).
	Exchanged bool
	// Reconnect: a connection to this DC was lost before; Reason says
	// why it was (and the wait before this dial), as the DC actor logs it
	// ("connection lost", "transport flood (-429)", "dial failed", …).
	Reconnect bool
	Reason    string
	Wait      time.Duration
	// Cause is the span of the first call that waited for the
	// connection: the dial span is its child. Invalid: a root span.
	Cause trace.SpanContext
	Err   error
}

// Connection records a dial (named "mtproto.key_exchange" when it made a
// key, else "mtproto.connect") and its outcome, as a child of the call
// that waited for it; a reconnect after a loss is counted, by DC and
// reason.
func (t *Telemetry) Connection(d Dial) {
	if t == nil || !t.on {
		return
	}
	name := "mtproto.connect"
	if d.Exchanged {
		name = "mtproto.key_exchange"
	}
	ctx := context.Background()
	if d.Cause.IsValid() {
		ctx = trace.ContextWithSpanContext(ctx, d.Cause)
	}
	attrs := []attribute.KeyValue{attribute.Int("tlsched.dc", d.DC), attribute.Bool("tlsched.reconnect", d.Reconnect)}
	if d.Reconnect {
		attrs = append(attrs, attribute.String("tlsched.reconnect.reason", d.Reason),
			attribute.Float64("tlsched.reconnect.wait_seconds", d.Wait.Seconds()))
	}
	_, span := t.tracer.Start(ctx, name, trace.WithTimestamp(d.Start), trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs...))
	if d.Err != nil {
		span.RecordError(d.Err)
		span.SetStatus(codes.Error, d.Err.Error())
	}
	span.End()
	if d.Reconnect {
		t.m.reconnects.Add(context.Background(), 1, metric.WithAttributes(attribute.Int("tlsched.dc", d.DC), attribute.String("tlsched.reason", d.Reason)))
	}
}
