package telemetry

import (
	"context"
	"testing"
	"time"

	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

func recording(t *testing.T) (*Telemetry, *tracetest.SpanRecorder) {
	t.Helper()
	rec := tracetest.NewSpanRecorder()
	tel, err := Setup(context.Background(), Config{Exporter: "none", SpanProcessor: rec})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tel.Shutdown(context.Background()) })
	return tel, rec
}

// A frame links every call it carries, whatever their number and traces:
// the SDK drops links past 128 per span silently (the demo's trace lost
// 146 of 274 calls of one container so), and a frame span lives in one
// trace only.
func TestFrameLinksEveryCall(t *testing.T) {
	tel, rec := recording(t)
	ctxA, a := tel.TracerProvider().Tracer("test").Start(context.Background(), "caller A")
	ctxB, b := tel.TracerProvider().Tracer("test").Start(context.Background(), "caller B")
	var calls []trace.SpanContext
	want := map[trace.SpanID]bool{}
	for i := range 300 {
		ctx := ctxA
		if i%3 == 0 {
			ctx = ctxB
		}
		_, c := tel.StartCall(ctx, "messages.sendMessage")
		calls = append(calls, c.SpanContext())
		want[c.SpanContext().SpanID()] = true
		c.End(nil)
	}
	calls = append(calls, trace.SpanContext{}) // a call not traced
	tel.Frame(2, 77, true, calls, 302, 9000)
	a.End()
	b.End()
	got := map[trace.SpanID]bool{}
	frames := 0
	for _, s := range rec.Ended() {
		if s.Name() != SpanContainer {
			continue
		}
		frames++
		if s.DroppedLinks() != 0 || len(s.Links()) > MaxFrameLinks {
			t.Errorf("frame span with %d links, %d dropped", len(s.Links()), s.DroppedLinks())
		}
		for _, l := range s.Links() {
			if l.SpanContext.TraceID() != s.SpanContext().TraceID() {
				t.Errorf("frame span in trace %s links a call of trace %s", s.SpanContext().TraceID(), l.SpanContext.TraceID())
			}
			got[l.SpanContext.SpanID()] = true
		}
		if s.Parent().SpanID() != s.Links()[0].SpanContext.SpanID() {
			t.Errorf("frame span's parent is not its first call")
		}
	}
	if len(got) != 300 || frames != 3 { // trace A: 200 calls in 2 spans, B: 100 in 1
		t.Fatalf("%d of 300 calls linked from %d frame spans", len(got), frames)
	}
	for id := range want {
		if !got[id] {
			t.Fatalf("call %s not linked", id)
		}
	}
}

// A frame with no traced call (acks, pings) makes no span.
func TestAckOnlyFrameMakesNoSpan(t *testing.T) {
	tel, rec := recording(t)
	tel.Frame(1, 5, false, nil, 1, 40)
	tel.Frame(1, 6, true, []trace.SpanContext{{}}, 2, 80)
	if n := len(rec.Ended()); n != 0 {
		t.Fatalf("%d spans for frames with no traced call", n)
	}
}

// Attempts are the call's, over sessions and batches: a flood wait and the
// send after it is attempt 2, with a resent event saying why.
func TestAttemptsCountedPerCall(t *testing.T) {
	tel, rec := recording(t)
	_, c := tel.StartCall(context.Background(), "messages.sendMessage")
	c.Sent(2, 10, 10, "")
	c.FloodWait(3 * time.Second)
	c.Sent(2, 20, 21, "") // a later batch: the session's attempt 1 again
	c.Sent(2, 30, 31, "bad_server_salt")
	c.End(nil)
	s := rec.Ended()[0]
	var seq []string
	for _, e := range s.Events() {
		v := e.Name
		for _, kv := range e.Attributes {
			if kv.Key == "tlsched.attempt" || kv.Key == "tlsched.reason" {
				v += "(" + kv.Value.Emit() + ")"
			}
		}
		seq = append(seq, v)
	}
	want := []string{"queued", "sent(1)", "flood_wait", "resent(flood_wait)", "sent(2)", "resent(bad_server_salt)", "sent(3)", "result"}
	if len(seq) != len(want) {
		t.Fatalf("events %v, want %v", seq, want)
	}
	for i := range want {
		if seq[i] != want[i] {
			t.Fatalf("events %v, want %v", seq, want)
		}
	}
}

// The user's providers are used as given, the globals are left alone
// unless asked, and Shutdown puts them back and leaves the user's
// providers running.
func TestUserProvidersAndGlobals(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	defer tp.Shutdown(context.Background())
	before := globalTP()
	tel, err := Setup(context.Background(), Config{TracerProvider: tp})
	if err != nil {
		t.Fatal(err)
	}
	if globalTP() != before {
		t.Fatal("Setup without SetGlobal replaced the global tracer provider")
	}
	_, c := tel.StartCall(context.Background(), "help.getConfig")
	c.End(nil)
	if len(rec.Ended()) != 1 {
		t.Fatalf("%d spans in the user's provider", len(rec.Ended()))
	}
	tel2, err := Setup(context.Background(), Config{TracerProvider: tp, SetGlobal: true})
	if err != nil {
		t.Fatal(err)
	}
	if globalTP() != trace.TracerProvider(tp) {
		t.Fatal("SetGlobal did not set the global tracer provider")
	}
	if err := tel2.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if globalTP() != before {
		t.Fatal("Shutdown did not put the global tracer provider back")
	}
	_, c = tel.StartCall(context.Background(), "help.getConfig")
	c.End(nil)
	if len(rec.Ended()) != 2 {
		t.Fatal("Shutdown shut down the user's provider")
	}
	if _, err := Setup(context.Background(), Config{TracerProvider: tp, Exporter: "stdout"}); err == nil {
		t.Fatal("Setup took a provider and an exporter")
	}
}

func globalTP() trace.TracerProvider { return otel.GetTracerProvider() }
