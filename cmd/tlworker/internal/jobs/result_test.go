package jobs

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"testing"
	"time"

	"github.com/gotd/td/bin"
	"github.com/gotd/td/tg"
	"github.com/gotd/td/tgerr"
	"pgregory.net/rapid"

	"github.com/tlsched/tlsched/scheduler"
	"github.com/tlsched/tlsched/tl"
)

// The result line's JSON is a contract (README, --resume reads it back).
func TestResultLineShape(t *testing.T) {
	for _, tc := range []struct {
		r    Result
		want string
	}{
		{Result{ID: "j1", OK: true, Result: json.RawMessage(`{"_":"updateShortSentMessage","id":5}`), LatencyMS: ms(3100 * time.Microsecond)},
			`{"id":"j1","ok":true,"result":{"_":"updateShortSentMessage","id":5},"latency_ms":3.1}`},
		{Result{ID: "j1", Error: failure(tgerr.New(420, "FLOOD_WAIT_30"))},
			`{"id":"j1","ok":false,"error":{"code":420,"message":"FLOOD_WAIT_30"}}`},
		{Result{ID: "j2", Error: failure(fmt.Errorf("wrapped: %w", tgerr.New(400, "MSG_WAIT_FAILED")))},
			`{"id":"j2","ok":false,"error":{"code":400,"message":"MSG_WAIT_FAILED"}}`},
		{Result{ID: "line 3", Error: failure(errors.New("line 3: not a job"))},
			`{"id":"line 3","ok":false,"error":{"code":0,"message":"line 3: not a job"}}`},
		{Result{ID: "j4", Error: failure(&scheduler.OutageError{DC: 2, Since: time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC), Cause: errors.New("connection refused")})},
			`{"id":"j4","ok":false,"error":{"code":0,"message":"dc 2 unreachable since 2026-12-01T12:00:00Z: not sent: connection refused","kind":"not_sent"}}`},
		{Result{ID: "j5", Error: failure(&scheduler.LostError{DC: 2, Cause: errors.New("reset"), MaybeRan: true})},
			`{"id":"j5","ok":false,"error":{"code":0,"message":"dc 2 lost: reset","kind":"may_have_run"}}`},
	} {
		var b bytes.Buffer
		w := newResultWriter(&b)
		w.write(tc.r)
		if err := w.flush(); err != nil {
			t.Fatal(err)
		}
		if b.String() != tc.want+"\n" {
			t.Errorf("line %q, want %q", b.String(), tc.want+"\n")
		}
	}
}

// A result line is what json.Marshal writes, byte for byte, whatever the
// id, message, result and latency: the fast path and the fallback agree.
func TestResultLineMatchesMarshal(t *testing.T) {
	raws := []string{"", `{"_":"updateShortSentMessage","id":5}`, `{"_":"message","message":"a<b & c>d"}`,
		`{"_":"message","message":"line\u2028sep"}`, `[1,2,3]`, `true`}
	rapid.Check(t, func(t *rapid.T) {
		o := Result{ID: rapid.String().Draw(t, "id"), OK: rapid.Bool().Draw(t, "ok")}
		if rapid.Bool().Draw(t, "named") {
			o.Account = rapid.String().Draw(t, "account")
		}
		if raw := rapid.SampledFrom(raws).Draw(t, "raw"); raw != "" {
			o.Result = json.RawMessage(raw)
		}
		if rapid.Bool().Draw(t, "err") {
			o.Error = &Error{Code: rapid.IntRange(-600, 600).Draw(t, "code"), Message: rapid.StringOf(rapid.Rune()).Draw(t, "msg"),
				Kind: rapid.SampledFrom([]string{"", KindNotSent, KindMayHaveRun}).Draw(t, "kind")}
		}
		if rapid.Bool().Draw(t, "lat") {
			v := rapid.Float64().Draw(t, "latency")
			if math.IsNaN(v) || math.IsInf(v, 0) {
				v = 0
			}
			o.LatencyMS = &v
		}
		want, err := json.Marshal(o)
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		w := newResultWriter(&b)
		w.write(o)
		if err := w.flush(); err != nil {
			t.Fatal(err)
		}
		if got := b.String(); got != string(want)+"\n" {
			t.Fatalf("line\n%q\nwant\n%q", got, string(want)+"\n")
		}
	})
	// Bytes that are not UTF-8, and control characters, as json.Marshal
	// writes them.
	for _, id := range []string{"a\xffb", "\x00\x01\b\f\n\r\t\x7f", "é\u2028\u2029"} {
		want, _ := json.Marshal(Result{ID: id, Error: &Error{Message: id}})
		var b bytes.Buffer
		w := newResultWriter(&b)
		w.write(Result{ID: id, Error: &Error{Message: id}})
		_ = w.flush()
		if b.String() != string(want)+"\n" {
			t.Errorf("%q: line %q, want %q", id, b.String(), string(want)+"\n")
		}
	}
}

func BenchmarkResultLine(b *testing.B) {
	lat := 3.1
	o := Result{ID: "m123456", OK: true, Result: json.RawMessage(`{"_":"updateShortSentMessage","out":true,"id":604,"pts":605,"pts_count":1,"date":1796130194}`), LatencyMS: &lat}
	b.Run("line", func(b *testing.B) {
		w := newResultWriter(io.Discard)
		b.ReportAllocs()
		for range b.N {
			w.write(o)
		}
	})
	b.Run("json.Marshal", func(b *testing.B) { // what write did before
		b.ReportAllocs()
		for range b.N {
			line, _ := json.Marshal(o)
			_, _ = io.Discard.Write(append(line, '\n'))
		}
	})
}

// appendMS writes what strconv.AppendFloat writes, for the latencies a run
// records and for values no latency has.
func TestAppendMS(t *testing.T) {
	vals := []float64{0, 0.001, 0.01, 0.1, 0.12, 1, 1.5, 3.141, 10, 999.999, 1000, 123456.789, 1e11 + 0.001, 999999999999.999,
		1e12, 1e13, 1e15, 1e21, math.Copysign(0, -1), 0.0001, 0.0015, 1.0 / 3, -1, -0.5, math.Inf(1), math.NaN()}
	for us := int64(0); us < 200_000; us++ {
		vals = append(vals, float64(us)/1000)
	}
	for us := int64(1); us < 1<<50; us = us*3 + 7 {
		vals = append(vals, float64(us)/1000)
	}
	for _, v := range vals {
		want := strconv.AppendFloat(nil, v, 'f', -1, 64)
		if got := appendMS(nil, v); string(got) != string(want) {
			t.Fatalf("appendMS(%v) = %s, want %s", v, got, want)
		}
	}
}

// marshalEscapes finds what json.Marshal would escape in raw JSON.
func TestMarshalEscapes(t *testing.T) {
	for in, want := range map[string]bool{
		`{"a":"b"}`: false, `"<"`: true, `">"`: true, `"&"`: true, "\"\u2028\"": true, "\"\u2029\"": true,
		"\"\u2027\"": false, "\"\u202a\"": false, "\"\u20ac\"": false, "\"\xe2\"": false, "\"\xe2\x80\"": false, "": false,
	} {
		if got := marshalEscapes([]byte(in)); got != want {
			t.Errorf("marshalEscapes(%q) = %v, want %v", in, got, want)
		}
	}
}

// writeOK writes the line write writes for the same success, whatever the
// id, account, result and latency: the direct path and the general one agree.
func TestWriteOKMatchesWrite(t *testing.T) {
	bodies := map[string]bin.Encoder{
		"Updates": &tg.UpdateShortSentMessage{Out: true, ID: 48213, Pts: 190233, PtsCount: 1, Date: 1764590000},
		"User":    &tg.User{ID: 9007199254740993, FirstName: "a<b & c>d", AccessHash: -5},
		"Bool":    &tg.BoolTrue{},
	}
	rapid.Check(t, func(t *rapid.T) {
		typ := rapid.SampledFrom([]string{"Updates", "User", "Bool"}).Draw(t, "typ")
		var body bin.Buffer
		if err := bodies[typ].Encode(&body); err != nil {
			t.Fatal(err)
		}
		id := rapid.String().Draw(t, "id")
		account := rapid.SampledFrom([]string{"", "bot1", "b\bx"}).Draw(t, "account")
		lat := rapid.SampledFrom([]float64{0, 3.1, 0.001, 1e-7, 1e22, 123456.789}).Draw(t, "latency")
		opts := tl.EncodeOptions{LongAsNumber: rapid.Bool().Draw(t, "long")}
		var got, want bytes.Buffer
		w := newResultWriter(&got)
		if err := w.writeOK(id, account, body.Buf, typ, lat, opts); err != nil {
			t.Fatal(err)
		}
		js, err := opts.BinaryToJSON(body.Buf, typ)
		if err != nil {
			t.Fatal(err)
		}
		ww := newResultWriter(&want)
		ww.write(Result{ID: id, Account: account, OK: true, Result: js, LatencyMS: &lat})
		if err := errors.Join(w.flush(), ww.flush()); err != nil {
			t.Fatal(err)
		}
		if got.String() != want.String() {
			t.Fatalf("writeOK %q\n   write %q", got.String(), want.String())
		}
	})
}

// A body that is not of its type writes nothing and returns the error.
func TestWriteOKUnreadable(t *testing.T) {
	var b bytes.Buffer
	w := newResultWriter(&b)
	if err := w.writeOK("j", "", []byte{1, 2, 3}, "Updates", 1, tl.EncodeOptions{}); err == nil {
		t.Fatal("no error")
	}
	if err := w.flush(); err != nil || b.Len() != 0 {
		t.Fatalf("wrote %q, %v", b.String(), err)
	}
}
