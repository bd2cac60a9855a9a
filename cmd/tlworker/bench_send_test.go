package main

import (
	"bytes"
	"strings"
	"testing"

	benchcmd "github.com/tlsched/tlsched/cmd/tlworker/internal/bench"
)

// tlworker bench's send row runs the real tlworker binary against servers
// in child processes of this test binary (TestMain); its figures are not
// asserted, so it may share the machine with the tests that wait.
func TestBenchSendRow(t *testing.T) {
	t.Parallel()
	var out, errOut bytes.Buffer
	err := benchcmd.Run([]string{"-n", "100", "-rounds", "1", "-callers", "1", "-servers", "tgtest,tgsim", "-queued", "",
		"-send-jobs", "300", "-tlworker", buildBinary(t), "-json", "-"}, &out, &errOut)
	if err != nil {
		t.Fatalf("%v: %s", err, errOut.String())
	}
	for _, want := range []string{"| tgtest | 300 ", "| tgsim  | 300 ", `"steady_ratio_send_library"`} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("output lacks %q:\n%s", want, out.String())
		}
	}
}
