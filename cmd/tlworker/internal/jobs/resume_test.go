package jobs

import (
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPrevious(t *testing.T) {
	for _, tc := range []struct {
		name     string
		file     *string // nil: no file
		retry    bool    // --retry-not-sent
		want     map[string]bool
		err      string
		leftover string // the file afterwards
	}{
		{name: "no file", want: map[string]bool{}},
		{name: "empty", file: ptr(""), want: map[string]bool{}, leftover: ""},
		{name: "ok and failed", file: ptr("{\"id\":\"a\",\"ok\":true}\n{\"id\":\"b\",\"ok\":false,\"error\":{\"code\":420,\"message\":\"FLOOD_WAIT_3\"}}\n"),
			want: map[string]bool{"a": true, "b": false}, leftover: "{\"id\":\"a\",\"ok\":true}\n{\"id\":\"b\",\"ok\":false,\"error\":{\"code\":420,\"message\":\"FLOOD_WAIT_3\"}}\n"},
		{name: "last line cut short", file: ptr("{\"id\":\"a\",\"ok\":true}\n{\"id\":\"b\",\"o"),
			want: map[string]bool{"a": true}, leftover: "{\"id\":\"a\",\"ok\":true}\n"},
		{name: "a later line wins", file: ptr("{\"id\":\"a\",\"ok\":false}\n{\"id\":\"a\",\"ok\":true}\n"), want: map[string]bool{"a": true}},
		{name: "not sent, kept without --retry-not-sent", file: ptr(notSentFile), want: map[string]bool{"a": true, "b": false, "c": false, "d": false, "e": false}},
		{name: "--retry-not-sent runs exactly the not-sent jobs again", file: ptr(notSentFile), retry: true, want: map[string]bool{"a": true, "c": false, "e": false}},
		{name: "--retry-not-sent: a later line wins", retry: true,
			file: ptr(notSentFile + `{"id":"b","ok":true}` + "\n" + `{"id":"c","ok":false,"error":{"code":0,"message":"x","kind":"not_sent"}}` + "\n"),
			want: map[string]bool{"a": true, "b": true, "e": false}},
		{name: "not a result line", file: ptr("{\"id\":\"a\",\"ok\":true}\nhello\n"), err: "line 2 is not a result line"},
		{name: "no id", file: ptr("{\"ok\":true}\n"), err: "line 1 is not a result line"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "out.jsonl")
			if tc.file != nil {
				if err := os.WriteFile(path, []byte(*tc.file), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			got, err := Previous(path, tc.retry)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !maps.Equal(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			if tc.file != nil && tc.leftover != "" {
				b, _ := os.ReadFile(path)
				if string(b) != tc.leftover {
					t.Fatalf("file afterwards %q, want %q", b, tc.leftover)
				}
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

// notSentFile has a job that succeeded (a), one not sent (b), one that may
// have run (c), one whose dependent was not sent with it (d after b), and
// an RPC error (e).
var notSentFile = `{"id":"a","ok":true}
{"id":"b","ok":false,"error":{"code":0,"message":"dc 2 unreachable since 2026-12-01T12:00:00Z: not sent: connection refused","kind":"not_sent"}}
{"id":"c","ok":false,"error":{"code":0,"message":"dc 2 unreachable since 2026-12-01T12:00:00Z: sent without an answer, it may have run: connection refused","kind":"may_have_run"}}
{"id":"d","ok":false,"error":{"code":0,"message":"not run: job \"b\" it must run after was not sent","kind":"not_sent"}}
{"id":"e","ok":false,"error":{"code":420,"message":"FLOOD_WAIT_30"}}
`
