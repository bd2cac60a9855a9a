package jobs

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// Jobs that fail because the server stayed unreachable: their lines say
// which kind (not sent, may have run), Run returns an *UnreachableError,
// and a rerun with --resume --retry-not-sent sends exactly the jobs that
// were not sent (and their dependents), never one that may have run.
func TestUnreachableJobsAndRetryNotSent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.jsonl")
	jobs := []string{
		msg("a", "unreachable"),
		msg("b", "B", `,"after":"a"`),
		msg("c", "unreachable-sent"),
		msg("d", "D"),
		msg("e", "flood"),
	}
	var out bytes.Buffer
	// One worker: a has failed before b is read.
	err := Run(context.Background(), Config{Sender: &fakeSender{}, Peers: memoryCache(t), Jobs: strings.NewReader(strings.Join(jobs, "\n")), Results: &out, Concurrency: 1})
	var ue *UnreachableError
	if !errors.As(err, &ue) || ue.NotSent != 1 || ue.MayHaveRun != 1 {
		t.Fatalf("Run: %v, want an *UnreachableError with 1 not sent and 1 that may have run", err)
	}
	if msg := err.Error(); strings.Contains(msg, "\n") || !strings.Contains(msg, "--resume --retry-not-sent") || !strings.Contains(msg, "connection refused") {
		t.Fatalf("Run's error %q: want one line naming the cause and the flag", msg)
	}
	kinds := map[string]string{}
	for _, l := range resultLines(t, out.Bytes()) {
		k := ""
		if l.Error != nil {
			k = l.Error.Kind
		}
		kinds[l.ID] = k
	}
	want := map[string]string{"a": KindNotSent, "b": KindNotSent, "c": KindMayHaveRun, "d": "", "e": ""}
	for id, k := range want {
		if got, ok := kinds[id]; !ok || got != k {
			t.Errorf("job %s: kind %q (line %v), want %q", id, got, ok, k)
		}
	}
	if err := os.WriteFile(path, out.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}

	// The rerun, the server back.
	done, err := Previous(path, true)
	if err != nil {
		t.Fatal(err)
	}
	s := &fakeSender{}
	var again bytes.Buffer
	rerun := []string{msg("a", "A"), msg("b", "B", `,"after":"a"`), msg("c", "C"), msg("d", "D2"), msg("e", "E")}
	if err := Run(context.Background(), Config{Sender: s, Peers: memoryCache(t), Jobs: strings.NewReader(strings.Join(rerun, "\n")), Results: &again, Done: done}); err != nil {
		t.Fatal(err)
	}
	var texts []string
	for text := range s.sends() {
		texts = append(texts, text)
	}
	slices.Sort(texts)
	if !slices.Equal(texts, []string{"A", "B"}) {
		t.Fatalf("the rerun sent %v, want exactly the not-sent jobs [A B]", texts)
	}
}
