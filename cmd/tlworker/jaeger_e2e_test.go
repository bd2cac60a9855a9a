package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// freePort returns a port on 127.0.0.1 nobody listens on right now.
func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// TestJaegerEndToEnd runs the demo with tracing into a real Jaeger v2 and
// reads the trace back through its query API and tlworker trace. It needs
// the binary (scripts/jaeger.sh build, then TLSCHED_JAEGER=$(scripts/jaeger.sh path)).
func TestJaegerEndToEnd(t *testing.T) {
	jaeger := os.Getenv("TLSCHED_JAEGER")
	if jaeger == "" {
		t.Skip("TLSCHED_JAEGER is not set: build Jaeger with scripts/jaeger.sh build")
	}
	bin := buildBinary(t)
	otlp, query, grpcQ, health := freePort(t), freePort(t), freePort(t), freePort(t)
	conf := filepath.Join(t.TempDir(), "jaeger.yaml")
	cfg := fmt.Sprintf(`service:
  extensions: [jaeger_storage, jaeger_query, healthcheckv2]
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [jaeger_storage_exporter]
  telemetry:
    metrics:
      level: none
extensions:
  jaeger_storage:
    backends:
      memstore:
        memory:
          max_traces: 1000
  jaeger_query:
    storage:
      traces: memstore
    http:
      endpoint: 127.0.0.1:%d
    grpc:
      endpoint: 127.0.0.1:%d
  healthcheckv2:
    use_v2: true
    http:
      endpoint: 127.0.0.1:%d
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:%d
processors:
  batch:
exporters:
  jaeger_storage_exporter:
    trace_storage: memstore
`, query, grpcQ, health, otlp)
	if err := os.WriteFile(conf, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	j := exec.CommandContext(ctx, jaeger, "--config", conf)
	jlog, err := os.Create(filepath.Join(t.TempDir(), "jaeger.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer jlog.Close()
	j.Stdout, j.Stderr = jlog, jlog
	if err := j.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); _ = j.Wait() }()
	queryURL := fmt.Sprintf("http://127.0.0.1:%d", query)
	waitFor(t, "Jaeger's query port", func() bool {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", query))
		if err == nil {
			c.Close()
		}
		return err == nil
	}, jlog.Name())

	out, err := exec.Command(bin, "demo", "-n", "300", "-progress", "none",
		"--trace-exporter", "otlp-grpc", "--trace-endpoint", fmt.Sprintf("127.0.0.1:%d", otlp), "--trace-insecure").CombinedOutput()
	if err != nil {
		t.Fatalf("demo: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`trace id ([0-9a-f]{32})`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("the demo printed no trace id:\n%s", out)
	}
	id := string(m[1])
	// Jaeger stores spans as its batches arrive, frame spans and call
	// spans in batches of their own: wait until the whole demo is there
	// and every call is linked from a frame, for up to a minute, then say
	// what is missing.
	var spans []jaegerSpan
	var names map[string]int
	links := 0
	for deadline := time.Now().Add(time.Minute); ; {
		s, err := fetchTrace(context.Background(), queryURL+"/api/traces/"+id)
		if err == nil {
			spans = s
			names, links = carriedCalls(spans)
			if names["messages.sendMessage"] == 300 && names["tlworker demo"] == 1 && links == 300 {
				break
			}
		}
		if time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if names["messages.sendMessage"] != 300 || names["mtproto.container"] == 0 || links != 300 {
		b, _ := os.ReadFile(jlog.Name())
		t.Fatalf("trace %s: spans %v, %d sendMessage spans referred to by frame spans, want 300; Jaeger's log:\n%s", id, names, links, b)
	}
	w, err := exec.Command(bin, "trace", "--query", queryURL, id).CombinedOutput()
	if err != nil || !strings.Contains(string(w), "carries messages.sendMessage") {
		t.Fatalf("tlworker trace: %v\n%s", err, w)
	}
}

// carriedCalls counts a trace's spans by name, and the messages.sendMessage
// spans a frame span (a container or a bare message) refers to, by a link
// or as its parent.
func carriedCalls(spans []jaegerSpan) (map[string]int, int) {
	names := map[string]int{}
	byID := map[string]string{}
	for _, s := range spans {
		names[s.OperationName]++
		byID[s.SpanID] = s.OperationName
	}
	carried := map[string]bool{}
	for _, s := range spans {
		if s.OperationName != "mtproto.container" && s.OperationName != "mtproto.message" {
			continue
		}
		for _, r := range s.References {
			if byID[r.SpanID] == "messages.sendMessage" {
				carried[r.SpanID] = true
			}
		}
	}
	return names, len(carried)
}

// waitFor polls an external process's state (Jaeger offers no event to
// wait on) for up to a minute.
func waitFor(t *testing.T, what string, ok func() bool, logPath string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for !ok() {
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(logPath)
			t.Fatalf("no %s within a minute; Jaeger's log:\n%s", what, b)
		}
		<-tick.C
	}
}
