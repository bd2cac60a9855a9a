package telemetry

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// The pacer's metrics (scheduler/pacer.go). Their attributes are bounded:
// a chat's kind, never its id (a run may write to millions of chats).
const (
	// MetricPacerWait is how long paced calls waited for their turn.
	MetricPacerWait = "tlsched.pacer.wait" // histogram, s: tlsched.pacer.kind (private, group)
	// MetricPacerRate is the rates the pacer paces at: the account's
	// (kind account; stat current and default), and per chat kind the rate
	// a chat starts from (stat default) and the slowest learned one (stat
	// min, the default when none was learned).
	MetricPacerRate = "tlsched.pacer.rate" // observable gauge, calls/s: tlsched.pacer.kind, tlsched.pacer.stat
	// MetricPacerLearned counts the chats whose limit was learned.
	MetricPacerLearned = "tlsched.pacer.learned" // observable gauge: tlsched.pacer.kind (private, group)
)

// Pacer attribute keys and the kinds of key the pacer paces by.
const (
	AttrPacerKey  = "tlsched.pacer.key"  // span events only: the chat's key ("user:…", "channel:…")
	AttrPacerKind = "tlsched.pacer.kind" // account, private or group
	AttrPacerStat = "tlsched.pacer.stat" // current, default or min

	PacerAccount = "account"
	PacerPrivate = "private"
	PacerGroup   = "group"
)

// EventPacerWait is the span event of a call the pacer held for its turn.
const EventPacerWait = "pacer.wait"

// PacerRates is what the rate gauges show, read when metrics are
// collected.
type PacerRates struct {
	// Account is the account's rate now, AccountDefault the one it started
	// from (calls/s).
	Account, AccountDefault float64
	// Private and Group are per chat kind: the rate a chat starts from, the
	// slowest learned rate (the default when none), and how many chats
	// have a learned limit.
	Private, Group PacerKindRates
}

// PacerKindRates are the rates of one chat kind (PacerRates).
type PacerKindRates struct {
	Default, Min float64
	Learned      int
}

// pacerWaitBuckets bound the wait histogram's buckets, in seconds: a
// paced call waits from nothing (its chat had tokens) to minutes (a group
// at 20 a minute with a queue); the SDK's default bounds start at 5.
var pacerWaitBuckets = []float64{0, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600}

type pacerInstruments struct {
	wait    metric.Float64Histogram
	rate    metric.Float64ObservableGauge
	learned metric.Int64ObservableGauge
	source  atomic.Pointer[func() (PacerRates, bool)]
}

func (m *pacerInstruments) init(meter metric.Meter) error {
	var errs []error
	var err error
	m.wait, err = meter.Float64Histogram(MetricPacerWait, metric.WithUnit("s"), metric.WithDescription("time paced calls waited for their turn, by chat kind"),
		metric.WithExplicitBucketBoundaries(pacerWaitBuckets...))
	errs = append(errs, err)
	m.rate, err = meter.Float64ObservableGauge(MetricPacerRate, metric.WithUnit("{call}/s"), metric.WithDescription("rates the pacer paces at, by kind of key"))
	errs = append(errs, err)
	m.learned, err = meter.Int64ObservableGauge(MetricPacerLearned, metric.WithDescription("chats whose limit the pacer learned, by kind"))
	errs = append(errs, err)
	return errors.Join(errs...)
}

// observe reads the gauges' source (with the other gauges, record.go).
func (m *pacerInstruments) observe(o metric.Observer) {
	f := m.source.Load()
	if f == nil {
		return
	}
	r, ok := (*f)()
	if !ok {
		return
	}
	attrs := func(kind, stat string) metric.ObserveOption {
		return metric.WithAttributeSet(attribute.NewSet(attribute.String(AttrPacerKind, kind), attribute.String(AttrPacerStat, stat)))
	}
	o.ObserveFloat64(m.rate, r.Account, attrs(PacerAccount, "current"))
	o.ObserveFloat64(m.rate, r.AccountDefault, attrs(PacerAccount, "default"))
	for _, k := range []struct {
		name string
		r    PacerKindRates
	}{{PacerPrivate, r.Private}, {PacerGroup, r.Group}} {
		o.ObserveFloat64(m.rate, k.r.Default, attrs(k.name, "default"))
		o.ObserveFloat64(m.rate, k.r.Min, attrs(k.name, "min"))
		o.ObserveInt64(m.learned, int64(k.r.Learned), metric.WithAttributeSet(attribute.NewSet(attribute.String(AttrPacerKind, k.name))))
	}
}

// Pacer registers the source of the pacer's gauges (MetricPacerRate,
// MetricPacerLearned); f reports false when there is nothing to show
// (pacing off). Nil unregisters it. f is called on the metric reader's
// goroutine and must not block.
func (t *Telemetry) Pacer(f func() (PacerRates, bool)) {
	if t == nil || !t.on {
		return
	}
	if f == nil {
		t.m.pacer.source.Store(nil)
		return
	}
	t.m.pacer.source.Store(&f)
}

// PacerWait records that the pacer held the call for d before its turn
// came, on chat (its key, "user:…") of kind (PacerPrivate or PacerGroup):
// the wait in MetricPacerWait and, when it waited at all, a "pacer.wait"
// event on its span.
func (c *Call) PacerWait(chat, kind string, d time.Duration) {
	if c == nil {
		return
	}
	c.t.m.pacer.wait.Record(context.Background(), d.Seconds(), c.t.m.attrs.get(attrKey{k1: AttrPacerKind, v1: kind}))
	if d > 0 && c.span.IsRecording() {
		c.span.AddEvent(EventPacerWait, trace.WithAttributes(attribute.String(AttrPacerKey, chat),
			attribute.String(AttrPacerKind, kind), attribute.Float64("tlsched.wait_seconds", d.Seconds())))
	}
}
