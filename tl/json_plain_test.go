package tl

import (
	"strings"
	"testing"

	"pgregory.net/rapid"
)

// collectPlain takes only objects jx reads without error, and pushes the
// fields jx pushes, raw values byte for byte.
func TestCollectPlainAgreesWithJX(t *testing.T) {
	check := func(t interface{ Fatalf(string, ...any) }, obj string) {
		d := getDecoder()
		defer d.release()
		if !d.collectPlain([]byte(obj)) {
			if len(d.fields) != 0 {
				t.Fatalf("%q: not taken, but %d fields pushed", obj, len(d.fields))
			}
			return
		}
		plain := append([]rawField(nil), d.fields...)
		d.fields = d.fields[:0]
		if err := d.collectJX([]byte(obj)); err != nil {
			t.Fatalf("%q: taken, but jx says %v", obj, err)
		}
		if len(plain) != len(d.fields) {
			t.Fatalf("%q: %d fields, jx %d", obj, len(plain), len(d.fields))
		}
		for i := range plain {
			if string(plain[i].key) != string(d.fields[i].key) || string(plain[i].raw) != string(d.fields[i].raw) {
				t.Fatalf("%q: field %d %q=%q, jx %q=%q", obj, i, plain[i].key, plain[i].raw, d.fields[i].key, d.fields[i].raw)
			}
		}
	}
	for _, obj := range []string{
		`{}`, ` { } `, `{"peer":"me","message":"hi"}`, `{"a":1,"b":-2,"c":true,"d":false,"e":null}`,
		`{"a":01}`, `{"a":-}`, `{"a":1.5}`, `{"a":1e3}`, `{"a":tru}`, `{"a":truex}`, `{"a":nul}`, `{"a":"x\"y"}`,
		`{"a\u0062":1}`, `{"a":1,"a":2}`, `{"a":1,}`, `{"a":1} x`, `{"a":{}}`, `{"a":[1]}`, `{"a" : "b" , "c" : 3 }`,
		"{\"a\":\"\x01\"}", "{\"a\":\"\xff\"}", `{"a":"1"`, `{"a"}`, `{"a":}`, `["a"]`, `{"a":-0}`, `{"a":0}`,
	} {
		check(t, obj)
	}
	for _, obj := range []string{`{}`, `{"peer":"me","message":"hi"}`, ` {"a" : -1 , "b":null,"c":"é"} `} {
		d := getDecoder()
		if !d.collectPlain([]byte(obj)) {
			t.Errorf("%s: not taken", obj)
		}
		d.fields = d.fields[:0]
		d.release()
	}
	rapid.Check(t, func(t *rapid.T) {
		ws := rapid.SampledFrom([]string{"", " ", "\t", "\n", "\r\n "})
		key := rapid.SampledFrom([]string{`"peer"`, `"message"`, `"random_id"`, `"a\"b"`, `"\u00e9"`, `"silent"`, `peer`, `"x`})
		val := rapid.SampledFrom([]string{`"me"`, `"hi there"`, `"\u00e9"`, `"a\"b"`, `1`, `-1`, `0`, `-0`, `01`, `1.5`, `2e3`,
			`99999999999999999999`, `true`, `false`, `null`, `tru`, `nulll`, `{}`, `{"_":"inputPeerSelf"}`, `[]`, `[1,2]`, `"`, `-`, `""`})
		var b strings.Builder
		b.WriteString(ws.Draw(t, "w0") + "{")
		for i := range rapid.IntRange(0, 5).Draw(t, "n") {
			if i > 0 {
				b.WriteString(rapid.SampledFrom([]string{",", ",", ",,", ""}).Draw(t, "comma"))
			}
			b.WriteString(ws.Draw(t, "w1") + key.Draw(t, "k") + ws.Draw(t, "w2") + rapid.SampledFrom([]string{":", ":", ""}).Draw(t, "colon") + ws.Draw(t, "w3") + val.Draw(t, "v") + ws.Draw(t, "w4"))
		}
		b.WriteString(rapid.SampledFrom([]string{"}", "}", "} ", "}x", ""}).Draw(t, "end"))
		check(t, b.String())
	})
}
