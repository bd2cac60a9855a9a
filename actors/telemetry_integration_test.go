package actors

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/gotd/td/bin"
	"github.com/gotd/td/exchange"
	"github.com/gotd/td/tg"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/tlsched/tlsched/internal/faultproxy"
	"github.com/tlsched/tlsched/mtproto"
	"github.com/tlsched/tlsched/telemetry"
	"github.com/tlsched/tlsched/tgsim"
)

// An ordered batch of three messages into a group whose budget is two a
// second: the third meets FLOOD_WAIT_1. The trace shows three call spans
// under the caller's span, each queued, sent and answered, the third with a
// flood_wait event and a second send; container spans link to the calls
// they carried; the metrics count the calls and the wait.
func TestTelemetryOrderedBatchWithFloodWait(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	reader := sdkmetric.NewManualReader()
	tel, err := telemetry.Setup(context.Background(), telemetry.Config{Exporter: "none", SpanProcessor: rec, MetricReader: reader})
	if err != nil {
		t.Fatal(err)
	}
	defer tel.Shutdown(context.Background())

	srv, err := tgsim.Start(tgsim.Config{Key: serverKey(), Flood: tgsim.FloodConfig{Group: tgsim.Rate{N: 2, Per: time.Second}}})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	dcs := srv.DCAddrs()
	c := startClient(t, Config{DCs: dcs, PublicKeys: []exchange.PublicKey{srv.PublicKey()}, Store: NewMemoryStore(), Telemetry: tel})
	ctx := testCtx(t)
	r, err := Do[*tg.ContactsResolvedPeer](ctx, c, &tg.ContactsResolveUsernameRequest{Username: "supergroup1"})
	if err != nil {
		t.Fatal(err)
	}
	ch := r.Chats[0].(*tg.Channel)
	peer := &tg.InputPeerChannel{ChannelID: ch.ID, AccessHash: ch.AccessHash}

	ctx, parent := tel.TracerProvider().Tracer("test").Start(ctx, "batch")
	reqs := make([]bin.Encoder, 3)
	for i := range reqs {
		reqs[i] = &tg.MessagesSendMessageRequest{Peer: peer, Message: fmt.Sprint(i), RandomID: int64(i + 1)}
	}
	if _, err := c.InvokeAll(ctx, reqs, Ordered()); err != nil {
		t.Fatal(err)
	}
	parent.End()

	var calls, containers []sdktrace.ReadOnlySpan
	for _, s := range rec.Ended() {
		switch s.Name() {
		case "messages.sendMessage":
			calls = append(calls, s)
		case "mtproto.container", "mtproto.message":
			containers = append(containers, s)
		}
	}
	if len(calls) != 3 {
		t.Fatalf("%d sendMessage spans, want 3", len(calls))
	}
	floods := 0
	for _, s := range calls {
		if s.Parent().SpanID() != parent.SpanContext().SpanID() {
			t.Fatalf("call span %s is not a child of the caller's span", s.Name())
		}
		ev := map[string]int{}
		for _, e := range s.Events() {
			ev[e.Name]++
		}
		if ev["queued"] != 1 || ev["sent"] < 1 || ev["result"] != 1 {
			t.Fatalf("call span events %v", ev)
		}
		if ev["flood_wait"] > 0 {
			floods++
			if ev["sent"] < 2 {
				t.Fatalf("the flooded call was sent %d times, want a second send after the wait", ev["sent"])
			}
		}
	}
	if floods != 1 {
		t.Fatalf("%d call spans with a flood_wait event, want 1", floods)
	}
	linked := map[string]bool{}
	for _, s := range containers {
		for _, l := range s.Links() {
			linked[l.SpanContext.SpanID().String()] = true
		}
	}
	for _, s := range calls {
		if !linked[s.SpanContext().SpanID().String()] {
			t.Fatalf("no container span links to call span %s", s.SpanContext().SpanID())
		}
	}

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, p := range d.DataPoints {
					got[m.Name] += float64(p.Value)
				}
			case metricdata.Sum[float64]:
				for _, p := range d.DataPoints {
					got[m.Name] += p.Value
				}
			case metricdata.Histogram[int64]:
				for _, p := range d.DataPoints {
					got[m.Name+".count"] += float64(p.Count)
				}
			case metricdata.Histogram[float64]:
				for _, p := range d.DataPoints {
					got[m.Name+".count"] += float64(p.Count)
				}
			}
		}
	}
	// 4 calls: the resolve and the three sends.
	if got[telemetry.MetricCalls] != 4 || got[telemetry.MetricFloodWait] < 1 || got[telemetry.MetricCallLatency+".count"] != 4 || got[telemetry.MetricContainerMsgs+".count"] < 2 {
		t.Fatalf("metrics: %v", got)
	}
}

// The connection's life is in the traces: the key exchange is a child of
// the call that waited for it, each answered liveness ping is an
// mtproto.ping span, and the connect after a cut says why it reconnected.
func TestTelemetryConnectionLife(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tel, err := telemetry.Setup(context.Background(), telemetry.Config{Exporter: "none", SpanProcessor: rec})
	if err != nil {
		t.Fatal(err)
	}
	defer tel.Shutdown(context.Background())
	_, p, c := startProxied(t, tgsim.Config{}, Config{Telemetry: tel,
		Session: mtproto.Config{PingInterval: 100 * time.Millisecond}})
	ctx := testCtx(t)
	send := func(random int64) trace.SpanContext {
		cctx, span := tel.TracerProvider().Tracer("test").Start(ctx, "caller")
		defer span.End()
		if _, err := c.Call(cctx, &tg.MessagesSendMessageRequest{Peer: &tg.InputPeerSelf{}, Message: "hi", RandomID: random}); err != nil {
			t.Fatal(err)
		}
		return span.SpanContext()
	}
	first := send(1)
	// Idle: the session pings every PingInterval.
	deadline := time.Now().Add(10 * time.Second)
	for count(rec, "mtproto.ping") < 2 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	p.Cut()
	deadline = time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		send(2)
		if reconnects(rec) > 0 {
			break
		}
	}
	var exchange, ping, reconnect sdktrace.ReadOnlySpan
	for _, s := range rec.Ended() {
		a := map[attribute.Key]attribute.Value{}
		for _, kv := range s.Attributes() {
			a[kv.Key] = kv.Value
		}
		switch {
		case s.Name() == "mtproto.key_exchange":
			exchange = s
		case s.Name() == "mtproto.ping":
			ping = s
		case s.Name() == "mtproto.connect" && a["tlsched.reconnect"].AsBool():
			if a["tlsched.reconnect.reason"].AsString() == "" {
				t.Fatalf("reconnect span without a reason: %v", s.Attributes())
			}
			reconnect = s
		}
	}
	if exchange == nil || exchange.Parent().TraceID() != first.TraceID() {
		t.Fatalf("key exchange span %v is not in the first call's trace", exchange)
	}
	if ping == nil || ping.EndTime().Sub(ping.StartTime()) <= 0 {
		t.Fatalf("no mtproto.ping span with a round trip (%v)", ping)
	}
	if reconnect == nil {
		t.Fatal("no reconnect span after the cut")
	}
}

func count(rec *tracetest.SpanRecorder, name string) int {
	n := 0
	for _, s := range rec.Ended() {
		if s.Name() == name {
			n++
		}
	}
	return n
}

func reconnects(rec *tracetest.SpanRecorder) int {
	n := 0
	for _, s := range rec.Ended() {
		for _, kv := range s.Attributes() {
			if kv.Key == "tlsched.reconnect" && kv.Value.AsBool() {
				n++
			}
		}
	}
	return n
}

// Every attempt of every call is linked from the frame that carried it,
// through cuts: the calls in flight when a connection dies go out again in
// later frames (resumed sessions, fresh ones), and each of those frames
// links them too. The frame of each "sent" event is found by its msg_id.
func TestTelemetryEveryAttemptLinkedThroughCuts(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tel, err := telemetry.Setup(context.Background(), telemetry.Config{Exporter: "none", SpanProcessor: rec})
	if err != nil {
		t.Fatal(err)
	}
	defer tel.Shutdown(context.Background())
	_, p, c := startProxied(t, tgsim.Config{Key: serverKey(), Flood: tgsim.FloodConfig{Off: true}}, Config{Telemetry: tel})
	ctx := testCtx(t)
	p.CutAfter(faultproxy.CutRule{Min: 2_000, Max: 60_000})
	const n = 2000
	cctx, caller := tel.TracerProvider().Tracer("test").Start(ctx, "caller")
	if err := sendAll(cctx, c, 1, n, 100); err != nil {
		t.Fatal(err)
	}
	caller.End()
	if st := p.Stats(); st.Cuts < 3 {
		t.Fatalf("faults not exercised: %+v", st)
	}
	linked := map[int64]map[trace.SpanID]bool{} // frame msg_id → calls
	for _, s := range rec.Ended() {
		if s.Name() != telemetry.SpanContainer && s.Name() != telemetry.SpanMessage {
			continue
		}
		var id int64
		for _, kv := range s.Attributes() {
			if kv.Key == "mtproto.msg_id" {
				id = kv.Value.AsInt64()
			}
		}
		if linked[id] == nil {
			linked[id] = map[trace.SpanID]bool{}
		}
		for _, l := range s.Links() {
			linked[id][l.SpanContext.SpanID()] = true
		}
	}
	calls, attempts, later := 0, 0, 0
	for _, s := range rec.Ended() {
		if s.Name() != "messages.sendMessage" {
			continue
		}
		calls++
		k := 0
		for _, e := range s.Events() {
			if e.Name != "sent" {
				continue
			}
			k++
			var frame, attempt int64
			for _, kv := range e.Attributes {
				switch kv.Key {
				case "mtproto.container_id":
					frame = kv.Value.AsInt64()
				case "tlsched.attempt":
					attempt = kv.Value.AsInt64()
				}
			}
			if attempt != int64(k) {
				t.Fatalf("call %s: sent event %d says attempt %d", s.SpanContext().SpanID(), k, attempt)
			}
			if !linked[frame][s.SpanContext().SpanID()] {
				t.Fatalf("call %s: attempt %d went out in frame %d, which does not link it", s.SpanContext().SpanID(), k, frame)
			}
			attempts++
			if k > 1 {
				later++
			}
		}
	}
	if calls != n || later == 0 {
		t.Fatalf("%d call spans of %d, %d attempts after the first (want some: the cuts lose calls in flight)", calls, n, later)
	}
	t.Logf("%d calls, %d attempts, %d of them later ones, %d cuts", calls, attempts, later, p.Stats().Cuts)
}
