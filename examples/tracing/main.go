// Command tracing sends an ordered batch with every call and container
// traced to an OpenTelemetry backend:
//
//	go run ./examples/tracing                                              # spans as JSON on stdout
//	go run ./examples/tracing -exporter otlp-grpc -endpoint 127.0.0.1:4317  # to a collector (Jaeger, say)
//
// The batch runs under one root span: each call is a child span (queued,
// sent with its msg_id and container, result), and each container written is
// a span linked to the calls it carried.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"time"

	"github.com/gotd/td/bin"
	"github.com/gotd/td/exchange"
	"github.com/gotd/td/tg"

	"github.com/tlsched/tlsched/actors"
	"github.com/tlsched/tlsched/telemetry"
	_ "github.com/tlsched/tlsched/telemetry/otlp" // -exporter otlp-grpc, otlp-http
	"github.com/tlsched/tlsched/tgsim"
)

func main() {
	exporter := flag.String("exporter", "stdout", "otlp-grpc, otlp-http, stdout or none")
	endpoint := flag.String("endpoint", "", "the collector (host:port for grpc, URL for http)")
	flag.Parse()
	id, err := run(context.Background(), telemetry.Config{Exporter: *exporter, Endpoint: *endpoint, Insecure: true, ServiceName: "tracing-example", Stdout: os.Stdout}, os.Stderr)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Fprintf(os.Stderr, "trace id %s\n", id)
}

// run sends five messages as one ordered batch under a root span and
// returns the trace id.
func run(ctx context.Context, tcfg telemetry.Config, log io.Writer) (string, error) {
	tel, err := telemetry.Setup(ctx, tcfg)
	if err != nil {
		return "", err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := tel.Shutdown(sctx); err != nil {
			fmt.Fprintf(log, "flushing spans: %v\n", err)
		}
	}()
	srv, err := tgsim.Start(tgsim.Config{Flood: tgsim.FloodConfig{Off: true}})
	if err != nil {
		return "", err
	}
	defer srv.Close()
	dcs := srv.DCAddrs()
	client, err := actors.Start(ctx, actors.Config{DCs: dcs, PublicKeys: []exchange.PublicKey{srv.PublicKey()}, Store: actors.NewMemoryStore(), Telemetry: tel})
	if err != nil {
		return "", err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		client.Close(cctx)
	}()

	ctx, root := tel.TracerProvider().Tracer("tracing-example").Start(ctx, "send batch")
	defer root.End()
	reqs := make([]bin.Encoder, 5)
	for i := range reqs {
		reqs[i] = &tg.MessagesSendMessageRequest{Peer: &tg.InputPeerSelf{}, Message: fmt.Sprintf("traced %d", i+1), RandomID: int64(i + 1)}
	}
	if _, err := client.InvokeAll(ctx, reqs, actors.Ordered()); err != nil {
		return "", err
	}
	return root.SpanContext().TraceID().String(), nil
}
