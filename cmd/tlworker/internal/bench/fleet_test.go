package bench

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestMain(m *testing.M) {
	ChildMain()
	os.Exit(m.Run())
}

// tlworker bench --fleet runs end to end at small scale, tgsim in a child
// process: a row per size and state, both bring-up rows, the throughput
// row, the README block replaced. Figures are not asserted (timings belong
// in the benchmark), except what is structure: every state has a row,
// messages were delivered, none failed.
func TestBenchFleetSmoke(t *testing.T) {
	dir := t.TempDir()
	readme := filepath.Join(dir, "README.md")
	if err := os.WriteFile(readme, []byte("before\n<!-- bench-fleet:start -->\nold\n<!-- bench-fleet:end -->\nafter\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	start := time.Now()
	err := Run([]string{"--fleet", "-accounts", "1,10", "-bringup", "10", "-send", "10", "-chats", "10", "-rate", "5", "-scale", "1",
		"-warmup", "1s", "-duration", "2s", "-readme", readme}, &out, &errOut)
	if err != nil {
		t.Fatalf("%v: %s", err, errOut.String())
	}
	t.Logf("%s in %v:\n%s", errOut.String(), time.Since(start), out.String())
	b, err := os.ReadFile(readme)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"1", "10"} {
		for _, state := range []string{stateNever, stateConnected, stateIdle} {
			row := "| " + n + " "
			found := false
			for _, l := range strings.Split(out.String(), "\n") {
				if strings.HasPrefix(l, row) && strings.Contains(l, state) {
					found = true
				}
			}
			if !found {
				t.Fatalf("no row for %s accounts %s:\n%s", n, state, out.String())
			}
		}
	}
	for _, want := range []string{"prepared on the server", "key exchange per account", "| sum of limits msg/s"} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("no %q in:\n%s", want, out.String())
		}
	}
	// The throughput row (accounts, time scale, sum of limits, delivered,
	// goodput, flood waits, by budget, accounts cut, failed, …): 10 accounts, sum 50/s, some
	// delivered, nothing failed.
	var sendRow string
	for _, l := range strings.Split(out.String(), "\n") {
		if strings.HasPrefix(l, "| 10 ") && strings.Contains(l, "| 50 ") {
			sendRow = l
		}
	}
	cells := strings.Split(sendRow, "|")
	if len(cells) < 12 || strings.TrimSpace(cells[4]) == "0" || strings.TrimSpace(cells[9]) != "0" {
		t.Fatalf("throughput row: delivered none or some failed: %q", sendRow)
	}
	if !strings.HasPrefix(string(b), "before\n") || !strings.HasSuffix(string(b), "<!-- bench-fleet:end -->\nafter\n") || strings.Contains(string(b), "old\n") {
		t.Fatalf("README block not replaced:\n%s", b)
	}
}
