package telemetry

import (
	"context"
	"testing"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// A paced call's wait is an event on its span (only when it waited) and a
// histogram point by chat kind; the rate gauges read their source, and
// show nothing without one.
func TestPacerWaitAndRates(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	reader := sdkmetric.NewManualReader()
	tel, err := Setup(context.Background(), Config{Exporter: "none", SpanProcessor: rec, MetricReader: reader})
	if err != nil {
		t.Fatal(err)
	}
	defer tel.Shutdown(context.Background())
	collect := func() map[string]metricdata.Aggregation {
		var rm metricdata.ResourceMetrics
		if err := reader.Collect(context.Background(), &rm); err != nil {
			t.Fatal(err)
		}
		out := map[string]metricdata.Aggregation{}
		for _, sm := range rm.ScopeMetrics {
			for _, m := range sm.Metrics {
				out[m.Name] = m.Data
			}
		}
		return out
	}
	if _, ok := collect()[MetricPacerRate]; ok {
		t.Fatal("rate gauge without a source")
	}

	_, c := tel.StartCall(context.Background(), "messages.sendMessage")
	c.PacerWait("user:7", PacerPrivate, 0)
	c.PacerWait("user:7", PacerPrivate, 1500*time.Millisecond)
	c.End(nil)
	var evs []string
	for _, e := range rec.Ended()[0].Events() {
		evs = append(evs, e.Name)
		if e.Name == EventPacerWait && len(e.Attributes) != 3 {
			t.Fatalf("pacer.wait attributes %v", e.Attributes)
		}
	}
	if len(evs) != 3 || evs[1] != EventPacerWait {
		t.Fatalf("events %v, want queued, pacer.wait (once: the zero wait has none), result", evs)
	}

	tel.Pacer(func() (PacerRates, bool) {
		return PacerRates{Account: 20, AccountDefault: 28.5, Private: PacerKindRates{Default: 0.95, Min: 0.5, Learned: 2},
			Group: PacerKindRates{Default: 0.3, Min: 0.3}}, true
	})
	m := collect()
	h := m[MetricPacerWait].(metricdata.Histogram[float64]).DataPoints
	if len(h) != 1 || h[0].Count != 2 || h[0].Sum != 1.5 {
		t.Fatalf("wait histogram %+v", h)
	}
	got := map[string]float64{}
	for _, p := range m[MetricPacerRate].(metricdata.Gauge[float64]).DataPoints {
		k, _ := p.Attributes.Value(AttrPacerKind)
		s, _ := p.Attributes.Value(AttrPacerStat)
		got[k.AsString()+"/"+s.AsString()] = p.Value
	}
	want := map[string]float64{"account/current": 20, "account/default": 28.5, "private/default": 0.95, "private/min": 0.5,
		"group/default": 0.3, "group/min": 0.3}
	for k, v := range want {
		if got[k] != v {
			t.Fatalf("rate gauges %v, want %v", got, want)
		}
	}
	if len(m[MetricPacerLearned].(metricdata.Gauge[int64]).DataPoints) != 2 {
		t.Fatalf("learned gauge %+v", m[MetricPacerLearned])
	}
}
