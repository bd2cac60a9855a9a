package main

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// A query service answering like Jaeger's /api/traces/ID: a root span, two
// call spans under it, and a container span linked to both.
const traceFixture = `{"data":[{"traceID":"abc123","spans":[
 {"traceID":"abc123","spanID":"r","operationName":"tlworker demo","references":[],"startTime":1000000,"duration":10000},
 {"traceID":"abc123","spanID":"c1","operationName":"messages.sendMessage","references":[{"refType":"CHILD_OF","spanID":"r"}],"startTime":1001000,"duration":4000},
 {"traceID":"abc123","spanID":"c2","operationName":"messages.sendMessage","references":[{"refType":"CHILD_OF","spanID":"r"}],"startTime":1002000,"duration":5000},
 {"traceID":"abc123","spanID":"k","operationName":"mtproto.container","references":[{"refType":"FOLLOWS_FROM","spanID":"c1"},{"refType":"FOLLOWS_FROM","spanID":"c2"}],"startTime":1003000,"duration":100}
]}],"errors":null}`

func TestTraceWaterfall(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/traces/abc123" {
			http.NotFound(w, r)
			return
		}
		w.Write([]byte(traceFixture))
	}))
	defer srv.Close()
	var out, errOut bytes.Buffer
	if code := run([]string{"trace", "--query", srv.URL, "--width", "20", "abc123"}, nil, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 5 || !strings.Contains(lines[0], "4 spans, 10ms") {
		t.Fatalf("waterfall:\n%s", out.String())
	}
	if !strings.HasPrefix(lines[1], "tlworker demo") || !strings.HasPrefix(lines[2], "  messages.sendMessage") ||
		!strings.Contains(lines[1], "|████████████████████|") || !strings.Contains(lines[4], "carries messages.sendMessage ×2") {
		t.Fatalf("waterfall:\n%s", out.String())
	}
	// An unknown trace and a bad id.
	if code := run([]string{"trace", "--query", srv.URL, "ffff"}, nil, &out, &errOut); code != 1 || !strings.Contains(errOut.String(), "not found") {
		t.Fatalf("unknown trace: exit %d, %s", code, errOut.String())
	}
	if code := run([]string{"trace", "not-hex"}, nil, &out, &errOut); code != 2 {
		t.Fatalf("bad id: exit %d", code)
	}
}
