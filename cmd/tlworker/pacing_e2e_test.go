package main

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tlsched/tlsched/tgsim"
)

// tlworker send --pacing shows the paced rate beside the limits in its
// progress line and ends with what the run met and learned; without
// --pacing the summary says pacing was off.
func TestSendPacingProgressAndSummary(t *testing.T) {
	bin := buildBinary(t)
	// Telegram's bot limits (one message a second in a private chat):
	// paced, nothing floods.
	srv, conn := simFor(t, tgsim.Config{})
	// 4 messages to each of 3 private chats; the job ids make the
	// random_ids, so each run has its own.
	run := func(run string, extra ...string) string {
		var jobs []string
		for i := range 12 {
			jobs = append(jobs, fmt.Sprintf(`{"id":"%s%d","method":"messages.sendMessage","params":{"peer":"@user%d","message":"hi %d"}}`, run, i, i%3+1, i))
		}
		jobsFile := writeJobs(t, jobs)
		out := filepath.Join(t.TempDir(), "out.jsonl")
		cmd := exec.Command(bin, append(append([]string{"send", "--jobs", jobsFile, "--out", out, "--progress", "plain"}, extra...), conn...)...)
		b, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("tlworker send %v: %v\n%s", extra, err, b)
		}
		for id, l := range readOut(t, out) {
			if len(l) != 1 || !l[0].OK {
				t.Fatalf("job %s: %+v", id, l)
			}
		}
		return string(b)
	}

	paced := run("paced", "--pacing")
	t.Logf("paced run:\n%s", paced)
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^calls 12 of 12: ok 12, failed 0, \d+/s; paced [0-9.]+/s; limits: account [0-9.]+/s, private chat 0\.\d\d/s, group 0\.\d\d/s; 0 waiting their turn; flood waits 0$`),
		regexp.MustCompile(`(?m)^flood waits met: 0 \(0\.0 s waited\); pacing: 12 sends paced \(retries included\), waiting [0-9.]+ s for their turn on average$`),
		regexp.MustCompile(`(?m)^limits learned: none \(as configured: account [0-9.]+/s, private chat 0\.\d\d/s, group 0\.\d\d/s\)$`),
	} {
		if !want.MatchString(paced) {
			t.Errorf("paced run's output lacks %s", want)
		}
	}
	if n := srv.Counters().FloodWaits["messages.sendMessage"]; n != 0 {
		t.Errorf("paced run met %d flood waits", n)
	}

	// Without pacing the messages after the first to each chat flood.
	reactive := run("reactive")
	t.Logf("reactive run:\n%s", reactive)
	if strings.Contains(reactive, "paced") || !regexp.MustCompile(`(?m)^flood waits met: [1-9]\d* \([1-9][0-9.]* s waited\); pacing off`).MatchString(reactive) {
		t.Errorf("reactive run's output: want no pacing in the progress, and a summary with the flood waits met saying pacing is off")
	}
}

// tlworker demo plays the pacing scene beside the bulk: its summary shows
// the paced writes, the rates beside the published limits, the flood waits
// met and the limits learned, and every paced write succeeded.
func TestDemoShowsPacing(t *testing.T) {
	bin := buildBinary(t)
	start := time.Now()
	out, err := exec.Command(bin, "demo", "-n", "300", "-progress", "none").CombinedOutput()
	if err != nil {
		t.Fatalf("demo: %v\n%s", err, out)
	}
	t.Logf("demo took %v:\n%s", time.Since(start).Round(time.Millisecond), out)
	for _, want := range []string{
		`(?m)^pacing scene alongside: 44 messages to 4 private chats and 2 groups`,
		`(?m)^pacing \(a second tgsim: Telegram's bot limits on a clock 4× faster, each chat's ±30%; Telegram seconds\)$`,
		`(?m)^  paced writes\s+44 to 4 private chats and 2 groups in [0-9.]+m?s \([0-9.]+m?s real; ok 44, failed 0\)$`,
		`(?m)^  paced at\s+account [0-9.]+/s, private chat [0-9.]+/s, group [0-9.]+/s \(published limits 30\.0/s, 1\.00/s, 0\.33/s\)$`,
		`(?m)^  flood waits\s+\d+ met \([0-9.]+ s waited; tgsim issued \d+\)$`,
		`(?m)^  limits learned\s+\S`,
	} {
		if !regexp.MustCompile(want).Match(out) {
			t.Errorf("demo output lacks %s", want)
		}
	}
}
