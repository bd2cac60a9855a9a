package telemetry

import (
	"context"
	"sync"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// Exporters live apart from Setup: the OTLP ones bring gRPC, protobuf and
// HTTP clients (about 200 packages), which a program that embeds tlsched
// without tracing should not link. Package telemetry/otlp registers
// "otlp-grpc" and "otlp-http" when imported; TestActorsLinkNoExporters in
// package actors keeps them out of its imports.

// Exporting is what an exporter factory is given from Config.
type Exporting struct {
	// Endpoint is Config.Endpoint: the collector, or empty for the
	// exporter's default (its OTEL_EXPORTER_* variables).
	Endpoint string
	// Insecure is Config.Insecure: no TLS.
	Insecure bool
}

// ExporterFactory builds the span exporter for a Config.Exporter name, and
// the metric exporter sending to the same place (nil for none). Setup wraps
// the span exporter so that failures are reported once (Config.Logf), and
// shuts both down in Shutdown.
type ExporterFactory func(ctx context.Context, e Exporting) (sdktrace.SpanExporter, sdkmetric.Exporter, error)

var exporters struct {
	mu sync.Mutex
	m  map[string]ExporterFactory
}

// RegisterExporter makes Setup accept Config.Exporter == name, building
// the exporters with f. A later registration of a name replaces the
// earlier one; "stdout" and "none" are Setup's own and cannot be replaced.
// It is meant for package init functions (telemetry/otlp's).
func RegisterExporter(name string, f ExporterFactory) {
	exporters.mu.Lock()
	defer exporters.mu.Unlock()
	if exporters.m == nil {
		exporters.m = map[string]ExporterFactory{}
	}
	exporters.m[name] = f
}

func registered(name string) (ExporterFactory, bool) {
	exporters.mu.Lock()
	defer exporters.mu.Unlock()
	f, ok := exporters.m[name]
	return f, ok
}
