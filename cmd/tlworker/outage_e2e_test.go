package main

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tlsched/tlsched/cmd/tlworker/internal/jobs"
	"github.com/tlsched/tlsched/tgsim"
)

// Jobs for a DC that stays unreachable fail as not sent once
// --outage-timeout has passed; tlworker exits 1 with a one-line reason as
// soon as every job has its line, and --resume --retry-not-sent runs
// exactly those jobs again once the DC is back.
func TestUnreachableDCThenRetryNotSent(t *testing.T) {
	bin := buildBinary(t)
	srv, conn := simFor(t, tgsim.Config{})
	key := conn[len(conn)-1]
	var dc2, dc3 string
	for _, d := range srv.DCs() {
		switch d.ID {
		case 2:
			dc2 = d.Addr
		case 3:
			dc3 = d.Addr
		}
	}
	if dc2 == "" || dc3 == "" {
		t.Fatalf("tgsim DCs %v: want 2 and 3", srv.DCs())
	}
	jobsFile := writeJobs(t, []string{
		`{"id":"home","method":"help.getNearestDc"}`,
		`{"id":"far","method":"help.getNearestDc","dc":3}`,
		`{"id":"far2","method":"help.getNearestDc","dc":3,"after":"far"}`,
	})
	out := filepath.Join(t.TempDir(), "out.jsonl")
	run := func(dc3addr string, extra ...string) (int, string) {
		args := append([]string{"send", "--jobs", jobsFile, "--out", out, "--progress", "none", "--outage-timeout", "500ms",
			"--dc", "2=" + dc2, "--dc", "3=" + dc3addr, "--server-key", key}, extra...)
		cmd := exec.Command(bin, args...)
		b, _ := cmd.CombinedOutput()
		return cmd.ProcessState.ExitCode(), string(b)
	}
	code, stderr := run("127.0.0.1:1")
	if code != 1 || !strings.Contains(stderr, "server stayed unreachable") || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
		t.Fatalf("unreachable dc 3: exit %d, output %q; want 1 and one line", code, stderr)
	}
	got := readOut(t, out)
	if l := got["home"]; len(l) != 1 || !l[0].OK {
		t.Fatalf("home: %+v", l)
	}
	for _, id := range []string{"far", "far2"} {
		if l := got[id]; len(l) != 1 || l[0].OK || l[0].Error.Kind != jobs.KindNotSent {
			t.Fatalf("%s: %+v, want one line of kind not_sent", id, l)
		}
	}

	code, stderr = run(dc3, "--resume", "--retry-not-sent")
	if code != 0 {
		t.Fatalf("rerun: exit %d, %q", code, stderr)
	}
	got = readOut(t, out)
	if l := got["home"]; len(l) != 1 {
		t.Fatalf("home ran again: %+v", l)
	}
	for _, id := range []string{"far", "far2"} {
		if l := got[id]; len(l) != 2 || !l[1].OK {
			t.Fatalf("%s: %s, want a second line, ok", id, fmt.Sprint(l))
		}
	}
}
