// Package telemetry sets up OpenTelemetry for tlsched and holds the span and
// metric names the actors use: one span per call (named after the method,
// a child of the caller's span, from submit to result, with queued / sent /
// flood_wait / resent / result events), frame spans linked to every call a
// frame carries (record.go: Frame), spans for connects (with the reason of
// a reconnect), key exchanges (a child of the call that waited for it) and
// liveness pings, and metrics for calls, latency, queue wait, containers,
// flood waits, resends, reconnects and ping round trips.
//
// Spans and metrics carry ids, method names, counts and durations only:
// never a call's body (message text, phone numbers, codes, tokens) nor key
// material (TestDemoTraceOverOTLP in cmd/tlworker checks the demo's whole
// export).
//
// A nil *Telemetry is valid and records nothing; with no exporter the cost
// per call is a few nil checks.
package telemetry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	"go.opentelemetry.io/otel/metric"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.26.0"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// Config says where traces go. Empty fields take the standard OTEL_*
// environment variables, then the defaults.
type Config struct {
	// Exporter is "otlp-grpc", "otlp-http", "stdout" or "none"; the OTLP
	// ones need package telemetry/otlp imported (it registers them, so
	// that a program without it links no gRPC), and any name another
	// package registered (RegisterExporter) is taken too. Default:
	// OTEL_TRACES_EXPORTER ("otlp" picks grpc or http by
	// OTEL_EXPORTER_OTLP_PROTOCOL), else "none".
	Exporter string
	// Endpoint is the collector, host:port (grpc) or a URL (http). Default:
	// the exporter's own (OTEL_EXPORTER_OTLP_ENDPOINT, localhost:4317/4318).
	Endpoint string
	// Insecure sends OTLP without TLS (a local collector).
	Insecure bool
	// ServiceName defaults to OTEL_SERVICE_NAME, else "tlsched".
	ServiceName string
	// SampleRatio is the fraction of traces kept, 0 to 1. Nil: 1, or
	// OTEL_TRACES_SAMPLER_ARG. A call span follows its parent's decision.
	SampleRatio *float64
	// Stdout receives the stdout exporter's output. Default os.Stdout.
	Stdout io.Writer
	// SpanProcessor, if set, is added as is (tests use an in-memory
	// recorder); Exporter may then be "none".
	SpanProcessor sdktrace.SpanProcessor
	// MetricReader, if set, also reads the metrics (tests use a manual
	// reader). The OTLP exporters send metrics to the same collector.
	MetricReader sdkmetric.Reader
	// Logf receives one line when exporting starts failing (and one when it
	// recovers). Default: stderr.
	Logf func(format string, args ...any)

	// TracerProvider, if set, is where spans go: the user's own provider,
	// with its exporters, sampler and resource. Exporter, Endpoint,
	// Insecure, ServiceName, SampleRatio, Stdout and SpanProcessor must
	// then be empty. Shutdown does not shut it down: its owner does.
	TracerProvider trace.TracerProvider
	// MeterProvider, if set, is where metrics go (the user's own, as
	// TracerProvider; MetricReader must then be nil). Without it and
	// with a TracerProvider, no metrics are recorded.
	MeterProvider metric.MeterProvider
	// SetGlobal makes the providers the global ones (otel.SetTracerProvider,
	// otel.SetMeterProvider), so that libraries reading the globals
	// (protoactor-go's actor metrics among them) join them. Shutdown puts
	// back the globals it found. Default false: the globals are left alone.
	SetGlobal bool
}

// Telemetry is what the actors record into. Its zero value and nil record
// nothing.
type Telemetry struct {
	tracer trace.Tracer
	tp     trace.TracerProvider
	mp     metric.MeterProvider
	// owned are the providers Setup built, shut down by Shutdown.
	ownTP *sdktrace.TracerProvider
	ownMP *sdkmetric.MeterProvider
	// restore puts back the globals found by a SetGlobal Setup.
	restore func()
	m       instruments
	on      bool
}

// Setup returns the Telemetry to hand to actors.Config: on the providers
// given (Config.TracerProvider, Config.MeterProvider), or on providers it
// builds from Config's exporter settings. It sets the global providers only
// when Config.SetGlobal says so. Shutdown flushes what Setup built and puts
// back the globals. Export problems never fail or block a call: spans are
// batched and dropped when the queue is full, and Logf is told once.
func Setup(ctx context.Context, cfg Config) (*Telemetry, error) {
	if cfg.TracerProvider != nil || cfg.MeterProvider != nil {
		return withProviders(cfg)
	}
	exp := cfg.Exporter
	if exp == "" {
		switch os.Getenv("OTEL_TRACES_EXPORTER") {
		case "otlp":
			exp = "otlp-grpc"
			if strings.HasPrefix(os.Getenv("OTEL_EXPORTER_OTLP_PROTOCOL"), "http") {
				exp = "otlp-http"
			}
		case "console", "stdout":
			exp = "stdout"
		default:
			exp = "none"
		}
	}
	name := cfg.ServiceName
	if name == "" {
		name = os.Getenv("OTEL_SERVICE_NAME")
	}
	if name == "" {
		name = "tlsched"
	}
	ratio := 1.0
	if cfg.SampleRatio != nil {
		ratio = *cfg.SampleRatio
	} else if v := os.Getenv("OTEL_TRACES_SAMPLER_ARG"); v != "" {
		r, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return nil, fmt.Errorf("telemetry: OTEL_TRACES_SAMPLER_ARG=%q is not a number", v)
		}
		ratio = r
	}
	if ratio < 0 || ratio > 1 {
		return nil, fmt.Errorf("telemetry: sampling ratio %v is not between 0 and 1", ratio)
	}
	logf := cfg.Logf
	if logf == nil {
		logf = func(format string, args ...any) { fmt.Fprintf(os.Stderr, format+"\n", args...) }
	}

	var exporter sdktrace.SpanExporter
	var metricExp sdkmetric.Exporter
	var err error
	switch exp {
	case "none":
	case "stdout":
		w := cfg.Stdout
		if w == nil {
			w = os.Stdout
		}
		exporter, err = stdouttrace.New(stdouttrace.WithWriter(w))
	default:
		build, ok := registered(exp)
		if !ok {
			if exp == "otlp-grpc" || exp == "otlp-http" {
				return nil, fmt.Errorf("telemetry: exporter %q is not linked in: import github.com/tlsched/tlsched/telemetry/otlp", exp)
			}
			return nil, fmt.Errorf("telemetry: exporter %q: want otlp-grpc, otlp-http (with telemetry/otlp imported), stdout or none", exp)
		}
		exporter, metricExp, err = build(ctx, Exporting{Endpoint: cfg.Endpoint, Insecure: cfg.Insecure})
	}
	if err != nil {
		return nil, fmt.Errorf("telemetry: %s exporter: %w", exp, err)
	}
	if exporter == nil && cfg.SpanProcessor == nil && cfg.MetricReader == nil {
		return &Telemetry{}, nil // nothing to record into: near zero cost
	}

	res := resource.NewWithAttributes(semconv.SchemaURL, semconv.ServiceName(name))
	topts := []sdktrace.TracerProviderOption{
		sdktrace.WithResource(res),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(ratio))),
	}
	if exporter != nil {
		topts = append(topts, sdktrace.WithBatcher(&reporting{SpanExporter: exporter, logf: logf, what: exp}))
	}
	if cfg.SpanProcessor != nil {
		topts = append(topts, sdktrace.WithSpanProcessor(cfg.SpanProcessor))
	}
	tp := sdktrace.NewTracerProvider(topts...)
	t := &Telemetry{tp: tp, ownTP: tp, on: true}
	t.tracer = t.tp.Tracer(instrumentation)
	mopts := []sdkmetric.Option{sdkmetric.WithResource(res)}
	if cfg.MetricReader != nil {
		mopts = append(mopts, sdkmetric.WithReader(cfg.MetricReader))
	}
	if metricExp != nil {
		// OTLP exporters send metrics too, every OTEL_METRIC_EXPORT_INTERVAL
		// (default 60 s) and at Shutdown.
		mopts = append(mopts, sdkmetric.WithReader(sdkmetric.NewPeriodicReader(metricExp)))
	}
	t.ownMP = sdkmetric.NewMeterProvider(mopts...)
	t.mp = t.ownMP
	if cfg.SetGlobal {
		// The SDK's own errors (a metric export failing, say) are said
		// once, like span export failures, instead of a log line each
		// time. The error handler is global too: only set with the
		// providers.
		var once sync.Once
		t.setGlobal(otel.ErrorHandlerFunc(func(err error) {
			if strings.Contains(err.Error(), "traces export") {
				return // the span exporter's wrapper has said it
			}
			once.Do(func() { logf("telemetry: %v (further OpenTelemetry errors are not shown; calls go on)", err) })
		}))
	}
	if err := t.m.init(t.mp.Meter(instrumentation)); err != nil {
		return nil, err
	}
	return t, nil
}

// instrumentation names tlsched's tracer and meter.
const instrumentation = "github.com/tlsched/tlsched"

// withProviders is Setup on the user's own providers.
func withProviders(cfg Config) (*Telemetry, error) {
	if cfg.Exporter != "" || cfg.Endpoint != "" || cfg.Insecure || cfg.ServiceName != "" || cfg.SampleRatio != nil ||
		cfg.Stdout != nil || cfg.SpanProcessor != nil || cfg.MetricReader != nil {
		return nil, errors.New("telemetry: Config.TracerProvider or MeterProvider given: the exporter, sampling, service name, SpanProcessor and MetricReader are the providers' own and must be empty")
	}
	t := &Telemetry{tp: cfg.TracerProvider, mp: cfg.MeterProvider, on: true}
	if t.tp == nil {
		t.tp = noop.NewTracerProvider()
	}
	if t.mp == nil {
		t.mp = metricnoop.NewMeterProvider()
	}
	t.tracer = t.tp.Tracer(instrumentation)
	if cfg.SetGlobal {
		t.setGlobal(nil)
	}
	if err := t.m.init(t.mp.Meter(instrumentation)); err != nil {
		return nil, err
	}
	return t, nil
}

// setGlobal installs t's providers (and eh, if not nil) as the globals and
// remembers the ones found, for Shutdown.
func (t *Telemetry) setGlobal(eh otel.ErrorHandler) {
	prevTP, prevMP, prevEH := otel.GetTracerProvider(), otel.GetMeterProvider(), otel.GetErrorHandler()
	otel.SetTracerProvider(t.tp)
	otel.SetMeterProvider(t.mp)
	if eh != nil {
		otel.SetErrorHandler(eh)
	}
	t.restore = func() {
		otel.SetTracerProvider(prevTP)
		otel.SetMeterProvider(prevMP)
		if eh != nil {
			otel.SetErrorHandler(prevEH)
		}
	}
}

// Shutdown flushes the spans and metrics of the providers Setup built and
// stops their exporters, and puts back the global providers a SetGlobal
// Setup replaced. Providers handed in are their owner's to shut down:
// Shutdown only removes tlsched's gauge callback from the meter provider;
// spans and counts recorded later still go to them.
func (t *Telemetry) Shutdown(ctx context.Context) error {
	if t == nil || !t.on {
		return nil
	}
	if t.restore != nil {
		t.restore()
		t.restore = nil
	}
	var errs []error
	if t.m.gaugeReg != nil && t.ownMP == nil {
		// A provider handed in outlives us: stop it calling into a
		// client that is gone. Ours reads the gauges a last time below.
		errs = append(errs, t.m.gaugeReg.Unregister())
		t.m.gaugeReg = nil
	}
	if t.ownTP != nil {
		errs = append(errs, t.ownTP.Shutdown(ctx))
	}
	if t.ownMP != nil {
		errs = append(errs, t.ownMP.Shutdown(ctx))
	}
	return errors.Join(errs...)
}

// TracerProvider is the provider spans go to (a no-op one when off).
func (t *Telemetry) TracerProvider() trace.TracerProvider {
	if t == nil || !t.on {
		return noop.NewTracerProvider()
	}
	return t.tp
}

// MeterProvider is the provider metrics go to (nil when off).
func (t *Telemetry) MeterProvider() metric.MeterProvider {
	if t == nil || !t.on {
		return nil
	}
	return t.mp
}

// reporting wraps an exporter to say once that export is failing, and once
// that it works again.
type reporting struct {
	sdktrace.SpanExporter
	logf    func(string, ...any)
	what    string
	mu      sync.Mutex
	failing bool
}

func (r *reporting) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	err := r.SpanExporter.ExportSpans(ctx, spans)
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case err != nil && !r.failing:
		r.failing = true
		r.logf("telemetry: exporting spans (%s) is failing: %v; calls go on, spans are dropped until it recovers", r.what, err)
	case err == nil && r.failing:
		r.failing = false
		r.logf("telemetry: exporting spans (%s) works again", r.what)
	}
	return err
}
