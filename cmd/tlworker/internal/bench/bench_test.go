package bench

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/tlsched/tlsched/cmd/tlworker/internal/cli"
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

// --only send takes no --readme (it would replace the whole block with the
// send table) and needs send jobs; nothing else is a choice.
func TestBenchOnlyUsage(t *testing.T) {
	for _, args := range [][]string{
		{"-only", "gotd"},
		{"-only", "send", "-send-jobs", "0"},
		{"-only", "send", "-readme", "README.md"},
	} {
		var out, errOut bytes.Buffer
		err := Run(args, &out, &errOut)
		var ue *cli.UsageError
		if !errors.As(err, &ue) {
			t.Errorf("%q: %v, want a usage error", args, err)
		}
	}
}
