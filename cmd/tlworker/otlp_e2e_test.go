package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"net"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	collmetrics "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	colltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	metricspb "go.opentelemetry.io/proto/otlp/metrics/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
)

// otlpReceiver is an OTLP/gRPC receiver (the OpenTelemetry collector's
// trace and metrics services) that keeps what it is sent: every request,
// as decoded and as the bytes on the wire.
type otlpReceiver struct {
	colltrace.UnimplementedTraceServiceServer
	collmetrics.UnimplementedMetricsServiceServer
	mu      sync.Mutex
	spans   []*tracepb.Span
	metrics []*metricspb.ResourceMetrics
	wire    [][]byte
}

func (r *otlpReceiver) Export(_ context.Context, req *colltrace.ExportTraceServiceRequest) (*colltrace.ExportTraceServiceResponse, error) {
	b, err := proto.Marshal(req)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.wire = append(r.wire, b)
	for _, rs := range req.ResourceSpans {
		r.wire = append(r.wire, []byte(rs.String()))
		for _, ss := range rs.ScopeSpans {
			r.spans = append(r.spans, ss.Spans...)
		}
	}
	return &colltrace.ExportTraceServiceResponse{}, nil
}

// metricsService is the receiver's metrics half (its Export method would
// clash with the trace service's).
type metricsService struct{ *otlpReceiver }

func (m metricsService) Export(_ context.Context, req *collmetrics.ExportMetricsServiceRequest) (*collmetrics.ExportMetricsServiceResponse, error) {
	b, err := proto.Marshal(req)
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.wire = append(m.wire, b, []byte(req.String()))
	m.metrics = append(m.metrics, req.ResourceMetrics...)
	return &collmetrics.ExportMetricsServiceResponse{}, nil
}

// startOTLPReceiver listens on 127.0.0.1 and returns the receiver and its
// address; it stops with the test.
func startOTLPReceiver(t *testing.T) (*otlpReceiver, string) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &otlpReceiver{}
	s := grpc.NewServer()
	colltrace.RegisterTraceServiceServer(s, r)
	collmetrics.RegisterMetricsServiceServer(s, metricsService{r})
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = s.Serve(l)
	}()
	t.Cleanup(func() {
		s.Stop()
		<-done
	})
	return r, l.Addr().String()
}

func attrMap(kvs []*commonpb.KeyValue) map[string]*commonpb.AnyValue {
	m := make(map[string]*commonpb.AnyValue, len(kvs))
	for _, kv := range kvs {
		m[kv.Key] = kv.Value
	}
	return m
}

// telemetryKeys are the attribute keys tlsched and tlworker may export:
// ids, method names, counts, durations, outcomes and error types (the SDK's
// exception.* for RPC errors), never a call's content or key material.
var telemetryKeys = map[string]bool{
	"rpc.system": true, "rpc.method": true, "rpc.telegram.error_code": true, "rpc.telegram.error_type": true,
	"tlsched.dc": true, "tlsched.attempt": true, "tlsched.attempts": true, "tlsched.reason": true,
	"tlsched.outcome": true, "tlsched.wait_seconds": true, "tlsched.calls": true, "tlsched.calls_linked": true,
	"tlsched.reconnect": true, "tlsched.reconnect.reason": true, "tlsched.reconnect.wait_seconds": true,
	"mtproto.msg_id": true, "mtproto.container_id": true, "mtproto.messages": true, "mtproto.bytes": true,
	"mtproto.ping_id": true, "exception.type": true, "exception.message": true,
	// the pacer's: a chat's key (an id) on span events, kinds and stats on metrics
	"tlsched.pacer.key": true, "tlsched.pacer.kind": true, "tlsched.pacer.stat": true,
	"service.name": true, "telemetry.sdk.name": true, "telemetry.sdk.language": true, "telemetry.sdk.version": true,
	// protoactor-go's actor metrics
	"address": true, "actortype": true, "messagetype": true,
}

// TestDemoTraceOverOTLP runs the demo exporting over OTLP/gRPC to a real
// OTLP receiver in this process and checks the trace a user gets: every
// call a child of its caller's span and linked from the frame spans that
// carried each of its attempts, its events in order (flood waits and
// resends where they happened, counted as the scheduler counted them),
// frame spans with their sizes, the key exchange a child of a call, and
// nothing in the whole export (spans, events, metrics) but ids, method
// names and numbers: no message text, username or key material.
func TestDemoTraceOverOTLP(t *testing.T) {
	bin := buildBinary(t)
	recv, addr := startOTLPReceiver(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, "demo", "-n", "300", "-progress", "none",
		"--trace-exporter", "otlp-grpc", "--trace-endpoint", addr, "--trace-insecure")
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("demo: %v\n%s%s", err, stdout.String(), stderr.String())
	}
	if strings.Contains(stderr.String(), "telemetry") {
		t.Fatalf("the demo reported a telemetry problem:\n%s", stderr.String())
	}
	for _, text := range []string{"demo message", "ordered 1"} {
		if strings.Contains(stderr.String(), text) {
			t.Fatalf("the demo's log holds message text %q:\n%s", text, stderr.String())
		}
	}
	out := stdout.String()
	m := regexp.MustCompile(`trace id ([0-9a-f]{32})`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("the demo printed no trace id:\n%s", out)
	}
	traceID := m[1]
	// The demo exits after Shutdown has flushed: everything is here, no
	// polling.
	recv.mu.Lock()
	defer recv.mu.Unlock()

	byID := map[string]*tracepb.Span{}
	var root *tracepb.Span
	var calls, frames []*tracepb.Span
	for _, s := range recv.spans {
		byID[hex.EncodeToString(s.SpanId)] = s
		if hex.EncodeToString(s.TraceId) != traceID {
			continue
		}
		switch s.Name {
		case "tlworker demo":
			root = s
		case "messages.sendMessage":
			calls = append(calls, s)
		case "mtproto.container", "mtproto.message":
			frames = append(frames, s)
		}
	}
	if root == nil || len(calls) != 300 {
		t.Fatalf("trace %s: root span %v, %d sendMessage spans, want 300", traceID, root != nil, len(calls))
	}

	// Every call linked from a frame span of its trace (the Jaeger test's
	// check; 154 of 300 before: the SDK dropped links past 128 a span).
	linkedFrom := map[string][]int64{} // call span → frame msg_ids
	for _, f := range frames {
		for _, l := range f.Links {
			id := hex.EncodeToString(l.SpanId)
			linkedFrom[id] = append(linkedFrom[id], attrMap(f.Attributes)["mtproto.msg_id"].GetIntValue())
		}
	}
	linked := 0
	for _, c := range calls {
		if len(linkedFrom[hex.EncodeToString(c.SpanId)]) > 0 {
			linked++
		}
	}
	if linked != 300 {
		t.Fatalf("trace %s: %d of 300 sendMessage spans linked from a frame span", traceID, linked)
	}

	// Frames: sizes, parent = first link.
	for _, f := range frames {
		a := attrMap(f.Attributes)
		msgs, size := a["mtproto.messages"].GetIntValue(), a["mtproto.bytes"].GetIntValue()
		total, linked := a["tlsched.calls"].GetIntValue(), a["tlsched.calls_linked"].GetIntValue()
		if len(f.Links) == 0 || int64(len(f.Links)) != linked || linked > total || total > msgs || size <= 0 || f.DroppedLinksCount != 0 {
			t.Fatalf("frame span %s: %d links (%d dropped), calls %d of %d, messages %d, bytes %d", f.Name, len(f.Links), f.DroppedLinksCount, linked, total, msgs, size)
		}
		if !bytes.Equal(f.ParentSpanId, f.Links[0].SpanId) {
			t.Fatalf("frame span %s is not a child of its first call", f.Name)
		}
		if (f.Name == "mtproto.container") != (msgs > 1) {
			t.Fatalf("a frame of %d messages is named %s", msgs, f.Name)
		}
	}

	// Calls: parent, links, events.
	schedRetries, floods := 0, 0
	for _, c := range calls {
		id := hex.EncodeToString(c.SpanId)
		if !bytes.Equal(c.ParentSpanId, root.SpanId) {
			t.Fatalf("call %s is not a child of the demo's span", id)
		}
		var seq []string
		var sentFrames []int64
		attempt := 0
		for i, e := range c.Events {
			a := attrMap(e.Attributes)
			seq = append(seq, e.Name)
			switch e.Name {
			case "sent":
				attempt++
				if got := a["tlsched.attempt"].GetIntValue(); got != int64(attempt) {
					t.Fatalf("call %s: sent event %d says attempt=%d (events %v)", id, attempt, got, seq)
				}
				if attempt > 1 && c.Events[i-1].Name != "resent" {
					t.Fatalf("call %s: attempt %d without a resent event before it (events %v)", id, attempt, seq)
				}
				sentFrames = append(sentFrames, a["mtproto.container_id"].GetIntValue())
			case "resent":
				switch r := a["tlsched.reason"].GetStringValue(); r {
				case "retry":
					schedRetries++
				case "flood_wait":
					schedRetries++
					if !slices.Contains(seq, "flood_wait") {
						t.Fatalf("call %s: resent for a flood wait it did not meet (events %v)", id, seq)
					}
				case "":
					t.Fatalf("call %s: resent with no reason", id)
				}
			case "flood_wait":
				floods++
				if a["tlsched.wait_seconds"].GetDoubleValue() <= 0 {
					t.Fatalf("call %s: flood wait of no seconds", id)
				}
			}
		}
		if len(seq) < 3 || seq[0] != "queued" || seq[len(seq)-1] != "result" || attempt == 0 {
			t.Fatalf("call %s: events %v, want queued, sent…, result", id, seq)
		}
		if got := attrMap(c.Attributes)["tlsched.attempts"].GetIntValue(); got != int64(attempt) {
			t.Fatalf("call %s: tlsched.attempts=%d after %d sent events", id, got, attempt)
		}
		// Each attempt's frame links the call.
		for _, fid := range sentFrames {
			if !slices.Contains(linkedFrom[id], fid) {
				t.Fatalf("call %s: its frame %d (of %v) does not link it; linked from %v", id, fid, sentFrames, linkedFrom[id])
			}
		}
	}
	if floods == 0 {
		t.Fatalf("no flood_wait event: the demo's flood scene left no trace")
	}

	// The scheduler's own count of sends after the first (migrations,
	// flood waits, backoffs) matches the resent events it caused, over
	// every call of the run (resolves and the history read included).
	sm := regexp.MustCompile(`resends\s+(\d+) sends for (\d+) calls`).FindStringSubmatch(out)
	if sm == nil {
		t.Fatalf("no resends line in the summary:\n%s", out)
	}
	sent, submitted := atoi(t, sm[1]), atoi(t, sm[2])
	allRetries := 0
	for _, s := range recv.spans {
		for _, e := range s.Events {
			if r := attrMap(e.Attributes)["tlsched.reason"].GetStringValue(); e.Name == "resent" && (r == "retry" || r == "flood_wait") {
				allRetries++
			}
		}
	}
	if allRetries != sent-submitted {
		t.Fatalf("%d resent events of the scheduler's retries in the export, the scheduler counted %d sends for %d calls", allRetries, sent, submitted)
	}

	// The key exchanges are children of the calls that waited for them.
	exchanges := 0
	for _, s := range recv.spans {
		if s.Name != "mtproto.key_exchange" {
			continue
		}
		exchanges++
		p := byID[hex.EncodeToString(s.ParentSpanId)]
		if p == nil || attrMap(p.Attributes)["rpc.method"] == nil {
			t.Fatalf("key exchange span (dc %d) is not a child of a call", attrMap(s.Attributes)["tlsched.dc"].GetIntValue())
		}
	}
	if exchanges == 0 {
		t.Fatal("no key exchange span")
	}

	t.Logf("trace %s: %d spans exported, %d frame spans, %d flood waits, %d scheduler retries of sendMessage, %d key exchanges",
		traceID, len(recv.spans), len(frames), floods, schedRetries, exchanges)
	checkNoSecrets(t, recv)
}

// checkNoSecrets fails if the export holds an attribute key outside
// telemetryKeys, or any of the demo's message texts or usernames on the
// wire.
func checkNoSecrets(t *testing.T, recv *otlpReceiver) {
	t.Helper()
	keys := func(where string, kvs []*commonpb.KeyValue) {
		for _, kv := range kvs {
			if !telemetryKeys[kv.Key] {
				t.Errorf("%s: attribute %q = %v is not an id, method name or number", where, kv.Key, kv.Value)
			}
			if kv.Value.GetBytesValue() != nil {
				t.Errorf("%s: attribute %q holds bytes", where, kv.Key)
			}
		}
	}
	for _, s := range recv.spans {
		keys("span "+s.Name, s.Attributes)
		for _, e := range s.Events {
			keys("span "+s.Name+" event "+e.Name, e.Attributes)
		}
		for _, l := range s.Links {
			keys("span "+s.Name+" link", l.Attributes)
		}
	}
	if len(recv.metrics) == 0 {
		t.Error("no metrics exported")
	}
	for _, rm := range recv.metrics {
		keys("metrics resource", rm.Resource.GetAttributes())
		for _, sm := range rm.ScopeMetrics {
			for _, m := range sm.Metrics {
				for _, kvs := range metricAttrs(m) {
					keys("metric "+m.Name, kvs)
				}
			}
		}
	}
	// What callers put in calls: the demo's texts and usernames.
	for _, secret := range []string{"demo message", "ordered 1", "supergroup", "tgsim_bot", "user1"} {
		for _, b := range recv.wire {
			if bytes.Contains(b, []byte(secret)) {
				t.Fatalf("the export holds %q", secret)
			}
		}
	}
}

func metricAttrs(m *metricspb.Metric) [][]*commonpb.KeyValue {
	var out [][]*commonpb.KeyValue
	switch d := m.Data.(type) {
	case *metricspb.Metric_Sum:
		for _, p := range d.Sum.DataPoints {
			out = append(out, p.Attributes)
		}
	case *metricspb.Metric_Gauge:
		for _, p := range d.Gauge.DataPoints {
			out = append(out, p.Attributes)
		}
	case *metricspb.Metric_Histogram:
		for _, p := range d.Histogram.DataPoints {
			out = append(out, p.Attributes)
		}
	case *metricspb.Metric_ExponentialHistogram:
		for _, p := range d.ExponentialHistogram.DataPoints {
			out = append(out, p.Attributes)
		}
	}
	return out
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
