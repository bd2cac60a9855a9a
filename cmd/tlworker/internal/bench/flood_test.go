package bench

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// tlworker bench --flood runs end to end on a tiny broadcast: every
// client sends every message exactly once (tgsim stores what was
// answered; random_id keeps a resend from storing twice) and the table
// and the README block have a row per client. Figures are not asserted:
// timings belong in the benchmark, not in pass/fail tests.
func TestBenchFloodSmoke(t *testing.T) {
	t.Parallel() // it waits on flood waits and pacing more than it computes
	dir := t.TempDir()
	readme := filepath.Join(dir, "README.md")
	if err := os.WriteFile(readme, []byte("before\n<!-- bench-flood:start -->\nold\n<!-- bench-flood:end -->\nafter\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	plot := filepath.Join(dir, "flood.svg")
	var out, errOut bytes.Buffer
	start := time.Now()
	// Gentle limits (no escalation, bursts of 3 in private chats, an even
	// spread) keep the reactive clients quick. -timeout is Telegram time:
	// 20 s real at -scale 4.
	err := Run([]string{"--flood", "-n", "60", "-private", "6", "-groups", "2", "-rounds", "1", "-scale", "4", "-zipf", "0", "-escalation", "1", "-private-burst", "3",
		"-latency", "2ms", "-timeout", "80s", "-readme", readme, "-plot", plot}, &out, &errOut)
	if err != nil {
		t.Fatalf("%v: %s", err, errOut.String())
	}
	t.Logf("%s in %v:\n%s", errOut.String(), time.Since(start), out.String())
	b, err := os.ReadFile(readme)
	if err != nil {
		t.Fatal(err)
	}
	for _, who := range floodClients {
		row := "| " + who + " "
		if !strings.Contains(out.String(), row) || !strings.Contains(string(b), row) {
			t.Fatalf("no row for %s:\n%s", who, b)
		}
		// Each client's row ends in "sent / failed": 60 / 0.
		for _, l := range strings.Split(out.String(), "\n") {
			if strings.HasPrefix(l, row) && !strings.Contains(l, "| 60 / 0 ") {
				t.Fatalf("%s did not send every message once: %s", who, l)
			}
		}
	}
	if !strings.HasPrefix(string(b), "before\n") || !strings.HasSuffix(string(b), "<!-- bench-flood:end -->\nafter\n") || strings.Contains(string(b), "old\n") {
		t.Fatalf("README block not replaced:\n%s", b)
	}
	if svg, err := os.ReadFile(plot); err != nil || !bytes.Contains(svg, []byte("<polyline")) {
		t.Fatalf("plot: %v %.200s", err, svg)
	}
}
