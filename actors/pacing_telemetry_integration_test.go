package actors

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/gotd/td/exchange"
	"github.com/gotd/td/tg"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"golang.org/x/sync/errgroup"

	"github.com/tlsched/tlsched/scheduler"
	"github.com/tlsched/tlsched/telemetry"
	"github.com/tlsched/tlsched/tgsim"
)

// Paced writes to one private chat, faster than the server allows: the
// calls the pacer holds carry a "pacer.wait" event with the chat and the
// wait, the waits are in the tlsched.pacer.wait histogram by chat kind,
// the rates (and the chat's limit learned from the flood) in the
// tlsched.pacer.rate gauges without chat ids, and Client.Pacing reports
// the same.
func TestPacingTelemetry(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	reader := sdkmetric.NewManualReader()
	tel, err := telemetry.Setup(context.Background(), telemetry.Config{Exporter: "none", SpanProcessor: rec, MetricReader: reader})
	if err != nil {
		t.Fatal(err)
	}
	defer tel.Shutdown(context.Background())
	srv, err := tgsim.Start(tgsim.Config{Key: serverKey(), Flood: tgsim.FloodConfig{
		PrivateChat: tgsim.Rate{N: 2, Per: time.Second}, Messages: tgsim.Rate{N: 100, Per: time.Second},
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	dcs := srv.DCAddrs()
	c := startClient(t, Config{DCs: dcs, PublicKeys: []exchange.PublicKey{srv.PublicKey()}, Store: NewMemoryStore(), Telemetry: tel,
		Scheduler: scheduler.Config{HomeDC: 2, Pacing: scheduler.PacingConfig{On: true,
			Private: scheduler.Rate{N: 8, Per: time.Second, Burst: 1}}}})
	ctx := testCtx(t)
	u := resolveUser(t, c, "user1")
	const n = 6
	var g errgroup.Group
	for i := range n {
		g.Go(func() error {
			_, err := c.Call(ctx, &tg.MessagesSendMessageRequest{Peer: u, Message: "hi", RandomID: int64(i + 1)})
			return err
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	rep, err := c.Pacing(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("report: %+v", rep)
	if !rep.On || rep.Sent < n || rep.Waited <= 0 || rep.Stats.Paced < n {
		t.Fatalf("report: %+v, want pacing on, at least %d paced sends and some wait", rep, n)
	}
	if rep.FloodWaits == 0 || rep.FloodWaited < time.Second || rep.Stats.ChatCuts == 0 || len(rep.Chats) != 1 {
		t.Fatalf("report: %+v, want the chat's flood met and its limit learned", rep)
	}

	// Span events.
	events := 0
	for _, s := range rec.Ended() {
		if s.Name() != "messages.sendMessage" {
			continue
		}
		for _, e := range s.Events() {
			if e.Name != telemetry.EventPacerWait {
				continue
			}
			events++
			a := map[string]any{}
			for _, kv := range e.Attributes {
				a[string(kv.Key)] = kv.Value.AsInterface()
			}
			if key, _ := a[telemetry.AttrPacerKey].(string); !strings.HasPrefix(key, "user:") || a[telemetry.AttrPacerKind] != "private" {
				t.Fatalf("pacer.wait event attributes %v", a)
			}
			if w, _ := a["tlsched.wait_seconds"].(float64); w <= 0 || w > 10 {
				t.Fatalf("pacer.wait of %v s", a["tlsched.wait_seconds"])
			}
		}
	}
	if events == 0 {
		t.Fatal("no pacer.wait event on any call span")
	}

	// Metrics.
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	var waits uint64
	rates := map[string]float64{}
	learned := map[string]int64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			switch m.Name {
			case telemetry.MetricPacerWait:
				for _, p := range m.Data.(metricdata.Histogram[float64]).DataPoints {
					if k, _ := p.Attributes.Value(telemetry.AttrPacerKind); k.AsString() != "private" || p.Attributes.Len() != 1 {
						t.Fatalf("pacer wait histogram attributes %v", p.Attributes.ToSlice())
					}
					waits += p.Count
				}
			case telemetry.MetricPacerRate:
				for _, p := range m.Data.(metricdata.Gauge[float64]).DataPoints {
					k, _ := p.Attributes.Value(telemetry.AttrPacerKind)
					s, _ := p.Attributes.Value(telemetry.AttrPacerStat)
					rates[k.AsString()+"/"+s.AsString()] = p.Value
				}
			case telemetry.MetricPacerLearned:
				for _, p := range m.Data.(metricdata.Gauge[int64]).DataPoints {
					k, _ := p.Attributes.Value(telemetry.AttrPacerKind)
					learned[k.AsString()] = p.Value
				}
			}
		}
	}
	t.Logf("pacer waits recorded %d, rates %v, learned %v", waits, rates, learned)
	if int(waits) < events || waits == 0 {
		t.Fatalf("histogram counts %d waits, spans show %d", waits, events)
	}
	if rates["account/current"] != rep.Account || rates["private/default"] != rep.Private || rates["private/min"] != rep.Chats[0].Rate ||
		rates["private/min"] >= rates["private/default"] || rates["group/default"] != rep.Group {
		t.Fatalf("rate gauges %v, report %+v", rates, rep)
	}
	if learned["private"] != 1 || learned["group"] != 0 {
		t.Fatalf("learned gauges %v, want 1 private chat", learned)
	}
}
