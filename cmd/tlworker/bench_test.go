//go:build bench

package main

import (
	"bytes"
	"strings"
	"testing"
)

// The bench command runs end to end through the command table on a small
// workload (its figures are not asserted: timings belong in benchmarks,
// not pass/fail tests). internal/bench has the same test without the tag.
func TestBenchSmoke(t *testing.T) {
	var out, errOut bytes.Buffer
	code := run([]string{"bench", "-n", "200", "-rounds", "1", "-callers", "4", "-servers", "tgtest,tgsim", "-queued", "100", "-send-jobs", "0", "-json", "-"}, nil, &out, &errOut)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	for _, want := range []string{"| tgtest | 4 ", "| tgsim  | 4 ", "100 queued:", `"throughput_ratio_tlsched_gotd"`} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("output lacks %q:\n%s", want, out.String())
		}
	}
}
