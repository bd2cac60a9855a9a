// The tracing flags every command that starts the actor system shares
// (--trace-exporter, --trace-endpoint, …) and the telemetry setup they map onto.

package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/tlsched/tlsched/cmd/tlworker/internal/cli"
	"github.com/tlsched/tlsched/telemetry"
	_ "github.com/tlsched/tlsched/telemetry/otlp" // --trace-exporter otlp-grpc, otlp-http
)

// traceFlags map onto telemetry.Config; empty values defer to OTEL_*.
type traceFlags struct {
	exporter, endpoint, service string
	insecure                    bool
	sample                      float64
}

func (t *traceFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&t.exporter, "trace-exporter", "", "tracing: otlp-grpc, otlp-http, stdout or none (default OTEL_TRACES_EXPORTER, else none)")
	fs.StringVar(&t.endpoint, "trace-endpoint", "", "tracing: the OTLP collector, host:port or URL (default OTEL_EXPORTER_OTLP_ENDPOINT)")
	fs.BoolVar(&t.insecure, "trace-insecure", false, "tracing: OTLP without TLS (a local collector)")
	fs.Float64Var(&t.sample, "trace-sample", -1, "tracing: fraction of traces kept, 0 to 1 (default OTEL_TRACES_SAMPLER_ARG, else 1)")
	fs.StringVar(&t.service, "service-name", "tlworker", "tracing: service.name")
}

// setup starts telemetry; problems exporting later are reported once on
// stderr and never stop the run.
func (t *traceFlags) setup(ctx context.Context, stdout, stderr io.Writer) (*telemetry.Telemetry, error) {
	cfg := telemetry.Config{
		Exporter: t.exporter, Endpoint: t.endpoint, Insecure: t.insecure, ServiceName: t.service, Stdout: stdout,
		Logf: func(format string, args ...any) { fmt.Fprintf(stderr, "tlworker: "+format+"\n", args...) },
		// A program owns its process: OpenTelemetry's globals (and its error
		// handler, which then says export errors once) are its own.
		SetGlobal: true,
	}
	if t.sample >= 0 {
		if t.sample > 1 {
			return nil, cli.Usagef("--trace-sample %v: want 0 to 1", t.sample)
		}
		cfg.SampleRatio = &t.sample
	}
	tel, err := telemetry.Setup(ctx, cfg)
	if err != nil {
		return nil, cli.Usagef("%v", err)
	}
	return tel, nil
}
