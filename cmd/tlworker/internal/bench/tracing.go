package bench

import (
	"context"
	"crypto/rsa"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gotd/td/exchange"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/tlsched/tlsched/actors"
	"github.com/tlsched/tlsched/telemetry"
)

// The cost of tracing: the library in process with tracing off, and on at
// each sampling ratio of --tracing, the same workload, a fresh server each
// run. "On" is the whole OpenTelemetry path a user pays for but the
// network: spans and metrics recorded, batched (the SDK's batch processor,
// its defaults) and encoded as OTLP protobuf by the OTLP exporter, whose
// client then drops the bytes instead of sending them to a collector.
// Calls have no caller span, so each is the root of its own trace (the
// sampling decision is per call) and gets a frame span of its own.

// tracingRow is one server, callers and sampling ratio (-1: off).
type tracingRow struct {
	Server       string  `json:"server"`
	Callers      int     `json:"callers"`
	Sample       float64 `json:"sample"` // -1: tracing off
	Figures      figures `json:"tlsched"`
	SpansPerCall float64 `json:"spans_exported_per_call"`
	VsOff        float64 `json:"calls_per_s_vs_off"`
}

// discardClient is an OTLP exporter client that encodes what it is given
// and drops it, counting spans.
type discardClient struct{ spans atomic.Int64 }

func (*discardClient) Start(context.Context) error { return nil }
func (*discardClient) Stop(context.Context) error  { return nil }
func (d *discardClient) UploadTraces(_ context.Context, rs []*tracepb.ResourceSpans) error {
	for _, r := range rs {
		if _, err := proto.Marshal(r); err != nil {
			return err
		}
		for _, ss := range r.ScopeSpans {
			d.spans.Add(int64(len(ss.Spans)))
		}
	}
	return nil
}

// parseSamples reads --tracing: "off" and ratios from 0 to 1.
func parseSamples(s string) ([]float64, error) {
	var out []float64
	for _, x := range strings.Split(s, ",") {
		x = strings.TrimSpace(x)
		if x == "off" {
			out = append(out, -1)
			continue
		}
		r, err := strconv.ParseFloat(x, 64)
		if err != nil || r < 0 || r > 1 {
			return nil, fmt.Errorf("--tracing %q: want off and ratios from 0 to 1, like off,1,0.01", s)
		}
		out = append(out, r)
	}
	return out, nil
}

// tracingRows measures each sampling ratio, in alternating rounds.
func tracingRows(servers []string, key *rsa.PrivateKey, n, callers, rounds int, samples []float64, logf func(string, ...any)) ([]tracingRow, error) {
	var rows []tracingRow
	for _, server := range servers {
		figs := make([][]figures, len(samples))
		spans := make([][]float64, len(samples))
		for r := range rounds {
			logf("%s, tracing cost, %d callers, round %d/%d", server, callers, r+1, rounds)
			for i, sample := range samples {
				s, err := StartServer(server, key)
				if err != nil {
					return nil, err
				}
				f, sp, err := runTraced(s, key, n, callers, sample)
				s.Stop()
				if err != nil {
					return nil, fmt.Errorf("tracing %v on %s: %w", sample, server, err)
				}
				figs[i] = append(figs[i], f)
				spans[i] = append(spans[i], sp)
			}
		}
		var off float64
		for i, sample := range samples {
			row := tracingRow{Server: server, Callers: callers, Sample: sample, Figures: median(figs[i]), SpansPerCall: medianOf(spans[i])}
			if sample < 0 {
				off = row.Figures.CallsPerSec
			}
			rows = append(rows, row)
		}
		for i := range rows {
			if rows[i].Server == server && off > 0 {
				rows[i].VsOff = rows[i].Figures.CallsPerSec / off
			}
		}
	}
	return rows, nil
}

// runTraced is runOurs with tracing at sample (-1: off); the final flush
// of spans and metrics is inside the measured run.
func runTraced(s *Server, key *rsa.PrivateKey, n, callers int, sample float64) (figures, float64, error) {
	ctx := context.Background()
	d := &countingDialer{}
	cfg := actors.Config{
		DCs: map[int]string{2: s.Addr}, PublicKeys: []exchange.PublicKey{{RSA: &key.PublicKey}},
		Store: actors.NewMemoryStore(), Dialer: d,
	}
	var tel *telemetry.Telemetry
	dc := &discardClient{}
	if sample >= 0 {
		exp, err := otlptrace.New(ctx, dc)
		if err != nil {
			return figures{}, 0, err
		}
		tel, err = telemetry.Setup(ctx, telemetry.Config{
			Exporter: "none", SampleRatio: &sample,
			SpanProcessor: sdktrace.NewBatchSpanProcessor(exp),
			MetricReader:  sdkmetric.NewManualReader(),
		})
		if err != nil {
			return figures{}, 0, err
		}
		cfg.Telemetry = tel
	}
	c, err := actors.Start(ctx, cfg)
	if err != nil {
		return figures{}, 0, err
	}
	defer closeClient(c, 10*time.Second)
	if _, err := c.Call(ctx, sendReq(1<<40)); err != nil { // connect first
		return figures{}, 0, err
	}
	spans0 := dc.spans.Load()
	f, err := measure(s, d, n, callers, func() ([]time.Duration, error) {
		lat, err := spread(n, callers, func(i int64) error { _, err := c.Call(ctx, sendReq(i)); return err })
		if err == nil {
			sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			err = tel.Shutdown(sctx)
			cancel()
		}
		return lat, err
	})
	return f, float64(dc.spans.Load()-spans0) / float64(n), err
}
