package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"testing"

	"github.com/tlsched/tlsched/telemetry"
)

func TestTracingExample(t *testing.T) {
	var out bytes.Buffer
	id, err := run(context.Background(), telemetry.Config{Exporter: "stdout", Stdout: &out}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]int{}
	links := 0
	dec := json.NewDecoder(&out)
	for dec.More() {
		var s struct {
			Name        string
			SpanContext struct{ TraceID string }
			Parent      struct{ TraceID string }
			Links       []any
		}
		if err := dec.Decode(&s); err != nil {
			t.Fatal(err)
		}
		names[s.Name]++
		if s.Name == "messages.sendMessage" && s.SpanContext.TraceID != id {
			t.Fatalf("call span in trace %s, want the batch's %s", s.SpanContext.TraceID, id)
		}
		links += len(s.Links)
	}
	if names["messages.sendMessage"] != 5 || names["send batch"] != 1 || names["mtproto.container"]+names["mtproto.message"] == 0 || links < 5 {
		t.Fatalf("spans %v, %d links", names, links)
	}
}
