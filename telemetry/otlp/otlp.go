// Package otlp registers the OTLP exporters with package telemetry:
// importing it (for its side effect, like a database/sql driver) makes
// telemetry.Config{Exporter: "otlp-grpc"} and "otlp-http" work, and
// OTEL_TRACES_EXPORTER=otlp. They live here, not in telemetry, because they
// bring gRPC and protobuf: a program that embeds tlsched without sending
// traces to a collector does not link them.
//
//	import _ "github.com/tlsched/tlsched/telemetry/otlp"
//
// Both send spans and metrics to the same collector: Endpoint is host:port
// for grpc, host:port or a URL (naming the traces path) for http; empty
// takes the exporters' defaults (OTEL_EXPORTER_OTLP_ENDPOINT,
// localhost:4317 or 4318).
package otlp

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetricgrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/tlsched/tlsched/telemetry"
)

func init() {
	telemetry.RegisterExporter("otlp-grpc", GRPC)
	telemetry.RegisterExporter("otlp-http", HTTP)
}

// GRPC builds the OTLP/gRPC span and metric exporters.
func GRPC(ctx context.Context, e telemetry.Exporting) (sdktrace.SpanExporter, sdkmetric.Exporter, error) {
	var opts []otlptracegrpc.Option
	var mopts []otlpmetricgrpc.Option
	if e.Endpoint != "" {
		if strings.Contains(e.Endpoint, "://") {
			return nil, nil, fmt.Errorf("otlp-grpc endpoint %q: want host:port", e.Endpoint)
		}
		opts = append(opts, otlptracegrpc.WithEndpoint(e.Endpoint))
		mopts = append(mopts, otlpmetricgrpc.WithEndpoint(e.Endpoint))
	}
	if e.Insecure {
		opts = append(opts, otlptracegrpc.WithInsecure())
		mopts = append(mopts, otlpmetricgrpc.WithInsecure())
	}
	spans, err := otlptracegrpc.New(ctx, opts...)
	if err != nil {
		return nil, nil, err
	}
	metrics, err := otlpmetricgrpc.New(ctx, mopts...)
	if err != nil {
		_ = spans.Shutdown(ctx)
		return nil, nil, err
	}
	return spans, metrics, nil
}

// HTTP builds the OTLP/HTTP span and metric exporters.
func HTTP(ctx context.Context, e telemetry.Exporting) (sdktrace.SpanExporter, sdkmetric.Exporter, error) {
	var opts []otlptracehttp.Option
	var mopts []otlpmetrichttp.Option
	if e.Endpoint != "" {
		if strings.Contains(e.Endpoint, "://") {
			opts = append(opts, otlptracehttp.WithEndpointURL(e.Endpoint))
		} else {
			opts = append(opts, otlptracehttp.WithEndpoint(e.Endpoint))
		}
		host := e.Endpoint
		if u, err := url.Parse(e.Endpoint); err == nil && u.Host != "" {
			host = u.Host // the URL names the traces path; metrics use their own
			if u.Scheme == "http" {
				mopts = append(mopts, otlpmetrichttp.WithInsecure())
			}
		}
		mopts = append(mopts, otlpmetrichttp.WithEndpoint(host))
	}
	if e.Insecure {
		opts = append(opts, otlptracehttp.WithInsecure())
		mopts = append(mopts, otlpmetrichttp.WithInsecure())
	}
	spans, err := otlptracehttp.New(ctx, opts...)
	if err != nil {
		return nil, nil, err
	}
	metrics, err := otlpmetrichttp.New(ctx, mopts...)
	if err != nil {
		_ = spans.Shutdown(ctx)
		return nil, nil, err
	}
	return spans, metrics, nil
}
