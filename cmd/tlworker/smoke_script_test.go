package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/tlsched/tlsched/tgsim"
)

// scripts/smoke-telegram.sh is run by hand against Telegram; here it is
// rehearsed against tgsim (TLSCHED_SMOKE_SERVER), so that the steps it
// documents keep working: log in, resolve, send, an ordered batch, a trace.
func TestSmokeScriptRehearsal(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash")
	}
	script := filepath.Join("..", "..", "scripts", "smoke-telegram.sh")
	if out, err := exec.Command(bash, "-n", script).CombinedOutput(); err != nil {
		t.Fatalf("bash -n: %v\n%s", err, out)
	}
	bin := buildBinary(t)
	srv, conn := simFor(t, tgsim.Config{RequireLogin: true, Flood: tgsim.FloodConfig{Off: true}})
	dir := t.TempDir()
	cmd := exec.Command(bash, script)
	cmd.Env = append(os.Environ(),
		"TLSCHED_API_ID=1", "TLSCHED_API_HASH=test",
		"TLSCHED_BOT_TOKEN="+srv.BotToken(), "TLSCHED_PHONE=",
		"TLSCHED_SMOKE_TO=@user3",
		"TLSCHED_SMOKE_DIR="+dir,
		"TLSCHED_SMOKE_TLWORKER="+bin,
		"TLSCHED_SMOKE_SERVER="+strings.Join(conn, " "),
		"OTEL_EXPORTER_OTLP_ENDPOINT=",
	)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "all steps passed") {
		t.Fatalf("smoke script: %v\n%s", err, out)
	}
	// The batch ran in order: its messages got rising ids.
	var ids []int
	for _, l := range readOutLines(t, filepath.Join(dir, "ordered.out.jsonl")) {
		var r struct {
			ID int `json:"id"`
		}
		if err := json.Unmarshal(l.Result, &r); err != nil {
			t.Fatal(err)
		}
		n, _ := strconv.Atoi(strings.TrimPrefix(strings.SplitN(l.ID, "-", 2)[0], "o"))
		if n < 1 || n > 3 {
			t.Fatalf("job id %q", l.ID)
		}
		for len(ids) < n {
			ids = append(ids, 0)
		}
		ids[n-1] = r.ID
	}
	if len(ids) != 3 || !(ids[0] < ids[1] && ids[1] < ids[2]) {
		t.Fatalf("ordered batch message ids %v, want rising", ids)
	}
}

// readOutLines returns every line of a result file, in no order.
func readOutLines(t *testing.T, path string) []line {
	t.Helper()
	var out []line
	for _, ls := range readOut(t, path) {
		out = append(out, ls...)
	}
	return out
}
