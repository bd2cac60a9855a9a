package jobs

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"pgregory.net/rapid"
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

// The fast reader takes only lines encoding/json reads the same way.
func TestParseJobFastAgrees(t *testing.T) {
	slow := func(b []byte) (job, error) {
		var j job
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		err := dec.Decode(&j)
		return j, err
	}
	check := func(t interface{ Fatalf(string, ...any) }, line string) {
		fj, ok := parseJobFast([]byte(line))
		sj, err := slow([]byte(line))
		if !ok {
			return
		}
		if err != nil {
			t.Fatalf("%q: fast path took what encoding/json rejects (%v)", line, err)
		}
		if fj.ID != sj.ID || fj.Method != sj.Method || fj.After != sj.After || fj.DC != sj.DC || fj.Account != sj.Account || string(fj.Params) != string(sj.Params) {
			t.Fatalf("%q:\nfast %+v\nslow %+v", line, fj, sj)
		}
	}
	for _, line := range []string{
		`{"id":"a","method":"m","params": {"x" : 1} ,"dc":2}`, `{"id":"a\ud800b","method":"m"}`,
		`{"id":"\u00e9\ud83d\ude00","method":"m"}`, `{"id":"a","dc":2.0}`, `{"id":"a","dc":1e2}`, `{"id":"a","dc":-0}`,
		`{"id":"a","dc":99999999999999999999}`, `{"ID":"a"}`, `{"id":"a","id":"b"}`, `{"id":"a"} trailing`,
		`{"id":"a","params":nul}`, `{"id":"a","params":[1,}`, ` {"id":"a"}`, `{"id":null}`, `{"id":"a\u0000"}`,
		"{\"id\":\"a\xffb\"}", `{"id":"a","params":"s"}`, `{"id":"a","dc":true}`,
	} {
		check(t, line)
	}
	rapid.Check(t, func(t *rapid.T) {
		ws := rapid.SampledFrom([]string{"", " ", "\t", "\n "})
		val := rapid.SampledFrom([]string{`"j1"`, `"\u00e9"`, `"\ud800"`, `"a\"b"`, `1`, `-1`, `2.5`, `1e3`, `null`, `true`,
			`{}`, `{"peer":"@a","message":"hi"}`, `[1,2]`, `"\ud83d\ude00"`, `0`, `""`})
		key := rapid.SampledFrom([]string{"id", "method", "params", "after", "dc", "Id", "DC", "peer", "account", "Account"})
		var b strings.Builder
		b.WriteString(ws.Draw(t, "w0") + "{")
		for i := range rapid.IntRange(0, 6).Draw(t, "n") {
			if i > 0 {
				b.WriteString(",")
			}
			b.WriteString(ws.Draw(t, "w1") + `"` + key.Draw(t, "k") + `"` + ws.Draw(t, "w2") + ":" + ws.Draw(t, "w3") + val.Draw(t, "v") + ws.Draw(t, "w4"))
		}
		b.WriteString("}")
		check(t, b.String())
	})
}

// The plain reader takes the lines tlworker's own tools write, and the
// fast reader's property test above covers what it takes.
func TestParseJobPlainTakesThePlainForm(t *testing.T) {
	for _, line := range []string{
		`{"id":"m1","method":"messages.sendMessage","params":{"peer":"me","message":"hi"}}`,
		`{"id":"m2","method":"messages.sendMessage","params":{"peer":"me", "message":"a \"b\""},"after":"m1","dc":4}`,
		`{"dc":0,"params":null,"id":"é"}`,
	} {
		if _, ok := parseJobPlain([]byte(line)); !ok {
			t.Errorf("%s: not taken", line)
		}
	}
	for _, line := range []string{
		`{"id":"a\"b","method":"m"}`, `{ "id":"a"}`, `{"id":"a","dc":01}`, `{"id":"a","dc":-1}`, `{"id":"a","dc":1234567890}`,
		`{"id":"a"} `, `{"id":"a","params": {}}`, `{"id":"a","params":{} }`, `{"id":"a","peer":"b"}`, "{\"id\":\"a\xff\"}",
		`{"id":"a",}`, `{}`, `{"id":"a"`,
	} {
		if _, ok := parseJobPlain([]byte(line)); ok {
			t.Errorf("%s: taken", line)
		}
	}
}

func BenchmarkParseJob(b *testing.B) {
	line := []byte(`{"id":"m123456","method":"messages.sendMessage","params":{"peer":"@user42","message":"hello there"}}`)
	b.Run("parseJob", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			if _, err := parseJob(1, line); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding/json", func(b *testing.B) { // what parseJob did before
		b.ReportAllocs()
		for range b.N {
			var j job
			dec := json.NewDecoder(bytes.NewReader(line))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&j); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// randomID runs once per job: it hashes on the stack.
func TestRandomIDDoesNotAllocate(t *testing.T) {
	if n := testing.AllocsPerRun(100, func() { randomID("m123456") }); n != 0 {
		t.Errorf("%v allocations per call", n)
	}
}
