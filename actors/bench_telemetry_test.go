package actors

import (
	"context"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/tlsched/tlsched/telemetry"
)

// discard is a span exporter that drops everything: the cost measured is
// tlsched's recording and the SDK's batching, not an encoder or a network.
type discard struct{}

func (discard) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error { return nil }
func (discard) Shutdown(context.Context) error                             { return nil }

// BenchmarkTelemetryOverhead runs the sendMessage workload of
// BenchmarkClientSendMessage (100 callers, tgtest) with tracing off, on with
// sampling 0, and on with sampling 1:
//
//	go test -run XXX -bench TelemetryOverhead -benchtime 20000x -count 3 ./actors
func BenchmarkTelemetryOverhead(b *testing.B) {
	zero, one := 0.0, 1.0
	for _, bc := range []struct {
		name  string
		ratio *float64
	}{{"off", nil}, {"sampling=0", &zero}, {"sampling=1", &one}} {
		b.Run(bc.name, func(b *testing.B) {
			var tel *telemetry.Telemetry
			if bc.ratio != nil {
				var err error
				tel, err = telemetry.Setup(context.Background(), telemetry.Config{
					Exporter: "none", SampleRatio: bc.ratio, SpanProcessor: sdktrace.NewBatchSpanProcessor(discard{}),
				})
				if err != nil {
					b.Fatal(err)
				}
				defer tel.Shutdown(context.Background())
			}
			w := newWorld()
			_, cfg := startWorld(b, w)
			cfg.Telemetry = tel
			c := startClient(b, cfg)
			ctx := context.Background()
			if _, err := c.Call(ctx, send(0)); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			lat := run(b, 100, func(id int64) error {
				_, err := c.Call(ctx, send(id))
				return err
			})
			report(b, lat)
		})
	}
}
