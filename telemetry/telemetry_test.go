package telemetry

import (
	"context"
	"errors"
	"strings"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

type flaky struct{ fail bool }

func (f *flaky) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error {
	if f.fail {
		return errors.New("connection refused")
	}
	return nil
}
func (f *flaky) Shutdown(context.Context) error { return nil }

// An exporter that fails is reported once, not per batch, and its recovery
// once.
func TestFailingExportSaidOnce(t *testing.T) {
	var lines []string
	f := &flaky{fail: true}
	r := &reporting{SpanExporter: f, what: "otlp-grpc", logf: func(format string, args ...any) {
		lines = append(lines, format)
	}}
	for range 5 {
		_ = r.ExportSpans(context.Background(), nil)
	}
	f.fail = false
	_ = r.ExportSpans(context.Background(), nil)
	_ = r.ExportSpans(context.Background(), nil)
	if len(lines) != 2 || !strings.Contains(lines[0], "failing") || !strings.Contains(lines[1], "works again") {
		t.Fatalf("messages: %q", lines)
	}
}

func TestSetupRejectsBadConfig(t *testing.T) {
	bad := 2.0
	for _, cfg := range []Config{
		{Exporter: "zipkin"},
		{Exporter: "otlp-grpc"}, // not linked in: telemetry/otlp is not imported
		{Exporter: "none", SampleRatio: &bad},
	} {
		if _, err := Setup(context.Background(), cfg); err == nil {
			t.Errorf("Setup(%+v) accepted", cfg)
		}
	}
	// No exporter: nothing is recorded, and a nil or off Telemetry is safe.
	tel, err := Setup(context.Background(), Config{Exporter: "none"})
	if err != nil {
		t.Fatal(err)
	}
	if _, c := tel.StartCall(context.Background(), "x"); c != nil {
		t.Fatal("an off Telemetry recorded a call")
	}
	var nilTel *Telemetry
	_, c := nilTel.StartCall(context.Background(), "x")
	c.Sent(1, 2, 3, "")
	c.End(nil)
	if err := nilTel.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
}
