package bench

import (
	"bytes"
	"strings"
	"testing"
)

// tlworker bench runs end to end on a small workload (its figures are
// not asserted: timings belong in benchmarks, not pass/fail tests).
func TestBenchSmoke(t *testing.T) {
	var out, errOut bytes.Buffer
	if err := Run([]string{"-n", "200", "-rounds", "1", "-callers", "4", "-servers", "tgtest,tgsim", "-queued", "100", "-send-jobs", "0", "-tracing-callers", "4", "-json", "-"}, &out, &errOut); err != nil {
		t.Fatalf("%v: %s", err, errOut.String())
	}
	for _, want := range []string{"| tgtest | 4 ", "| tgsim  | 4 ", "100 queued:", `"throughput_ratio_tlsched_gotd"`, "| sample 0.01 ", `"spans_exported_per_call"`} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("output lacks %q:\n%s", want, out.String())
		}
	}
}
