package jobs

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestParseJob(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     job    // when err is ""
		err      string // a substring of the error
	}{
		{"full", `{"id":"j1","method":"messages.sendMessage","params":{"peer":"@a"},"after":"j0","dc":2}`,
			job{ID: "j1", Method: "messages.sendMessage", Params: json.RawMessage(`{"peer":"@a"}`), After: "j0", DC: 2, line: 7}, ""},
		{"no params", `{"id":"j1","method":"help.getConfig"}`, job{ID: "j1", Method: "help.getConfig", Params: json.RawMessage(`{}`), line: 7}, ""},
		{"null params", `{"id":"j1","method":"help.getConfig","params":null}`, job{ID: "j1", Method: "help.getConfig", Params: json.RawMessage(`{}`), line: 7}, ""},
		{"not json", `not json`, job{}, "line 7: not a job"},
		{"unknown field", `{"id":"j1","method":"m","peer":"@a"}`, job{}, `line 7: not a job (json: unknown field "peer")`},
		{"no id", `{"method":"help.getConfig"}`, job{}, `line 7: job has no "id"`},
		{"no method", `{"id":"j1"}`, job{}, `line 7: job "j1" has no "method"`},
		{"negative dc", `{"id":"j1","method":"m","dc":-1}`, job{}, `line 7: job "j1": "dc" must be a positive DC id`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			j, err := parseJob(7, []byte(tc.in))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				if j.line != 7 {
					t.Fatalf("line %d, want 7 even on error", j.line)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if j.ID != tc.want.ID || j.Method != tc.want.Method || string(j.Params) != string(tc.want.Params) ||
				j.After != tc.want.After || j.DC != tc.want.DC || j.line != tc.want.line {
				t.Fatalf("got %+v, want %+v", j, tc.want)
			}
		})
	}
}

// random_id is derived from the job id and must never change between
// versions: a rerun of the same jobs file after an upgrade is still the
// same message to the server.
func TestRandomIDIsStable(t *testing.T) {
	for id, want := range map[string]int64{
		"j1":  5273937788672896964,
		"m42": 3161036085709867776,
	} {
		if got := randomID(id); got != want {
			t.Errorf("randomID(%q) = %d, want %d", id, got, want)
		}
	}
	if randomID("a") == randomID("b") {
		t.Fatal("two ids, one random_id")
	}
}
