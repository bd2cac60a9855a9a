package tl

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/gotd/td/bin"
	"github.com/gotd/td/tg"
)

// The rules of the JSON form that other JSON readers depend on (issue 22):
// 64-bit integers as strings, output that is always valid JSON, one base64
// spelling, flag bits shared by several fields, no NaN or infinity.

func toJSON(t *testing.T, obj bin.Encoder) []byte {
	t.Helper()
	var b bin.Buffer
	if err := obj.Encode(&b); err != nil {
		t.Fatal(err)
	}
	js, err := BinaryToJSON(b.Buf, "")
	if err != nil {
		t.Fatal(err)
	}
	js2, err := EncodeJSON(obj)
	if err != nil || !bytes.Equal(js, js2) {
		t.Fatalf("EncodeJSON %s %v, BinaryToJSON %s", js2, err, js)
	}
	return js
}

// TestJSONLongAsString: a long is a decimal string, as TDLib writes it,
// because JavaScript's JSON.parse rounds integers beyond 2^53; int stays a
// number. Numbers are still accepted on input.
func TestJSONLongAsString(t *testing.T) {
	peer := &tg.InputPeerUser{UserID: 1<<53 + 1, AccessHash: -8070450532247928833}
	js := toJSON(t, peer)
	const want = `{"_":"inputPeerUser","user_id":"9007199254740993","access_hash":"-8070450532247928833"}`
	if string(js) != want {
		t.Fatalf("got  %s\nwant %s", js, want)
	}
	var b bin.Buffer
	_ = (&tg.LongVector{Elems: []int64{1, -2}}).Encode(&b)
	if got, err := BinaryToJSON(b.Buf, "Vector<long>"); err != nil || string(got) != `["1","-2"]` {
		t.Fatalf("Vector<long>: %s %v", got, err)
	}
	num := EncodeOptions{LongAsNumber: true}
	if got, err := num.EncodeJSON(peer); err != nil || string(got) != `{"_":"inputPeerUser","user_id":9007199254740993,"access_hash":-8070450532247928833}` {
		t.Fatalf("LongAsNumber: %s %v", got, err)
	}
	if got, err := num.BinaryToJSON(b.Buf, "Vector<long>"); err != nil || string(got) != `[1,-2]` {
		t.Fatalf("LongAsNumber Vector<long>: %s %v", got, err)
	}
	if got := toJSON(t, peer); string(got) != want {
		t.Fatalf("a pooled encoder kept LongAsNumber: %s", got)
	}
	if got := toJSON(t, &tg.InputReplyToMessage{ReplyToMsgID: 7}); !strings.Contains(string(got), `"reply_to_msg_id":7`) {
		t.Fatalf("int must stay a number: %s", got)
	}
	for _, in := range []string{want, `{"_":"inputPeerUser","user_id":9007199254740993,"access_hash":-8070450532247928833}`} {
		obj, err := DecodeJSON(context.Background(), []byte(in), DecodeOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if p := obj.(*tg.InputPeerUser); p.UserID != peer.UserID || p.AccessHash != peer.AccessHash {
			t.Fatalf("%s decoded to %+v", in, p)
		}
	}
}

// TestJSONInvalidUTF8 checks that a TL string holding invalid UTF-8 is
// written as valid JSON, and that the decoder gives back the same bytes: an
// invalid byte 0xXX is written as the lone surrogate \udcXX (as Python's
// surrogateescape does), which no valid UTF-8 text can hold.
func TestJSONInvalidUTF8(t *testing.T) {
	for _, s := range []string{
		"\xff\xfe invalid", "ok \xe2\x82 truncated", "\xed\xb2\x80 encoded surrogate", "é😀 valid",
		"\xc0\xaf overlong", "a\x80b\"q\\\n", "\ufffd replacement char is valid",
	} {
		msg := &tg.MessagesSendMessageRequest{Peer: &tg.InputPeerSelf{}, Message: s, RandomID: 1}
		js := toJSON(t, msg)
		if !utf8.Valid(js) || !json.Valid(js) {
			t.Errorf("%q: output is not valid JSON: %s", s, js)
			continue
		}
		obj, err := DecodeJSON(context.Background(), js, DecodeOptions{})
		if err != nil {
			t.Errorf("%q: %v", s, err)
			continue
		}
		if got := obj.(*tg.MessagesSendMessageRequest).Message; got != s {
			t.Errorf("%q: round trip gave %q (%s)", s, got, js)
		}
	}
	// A valid surrogate pair stays a character, an escaped backslash stays
	// a backslash, and a lone surrogate outside \udc80-\udcff is what
	// encoding/json makes of it (U+FFFD).
	for in, want := range map[string]string{
		`"\ud83d\udc80"`:   "💀",
		`"\\udc80"`:        `\udc80`,
		`"x\udcff\udc80y"`: "x\xff\x80y",
		`"\ud800"`:         "\ufffd",
	} {
		params := `{"peer":{"_":"inputPeerSelf"},"random_id":1,"message":` + in + `}`
		obj, err := DecodeRequest(context.Background(), "messages.sendMessage", []byte(params), DecodeOptions{})
		if err != nil {
			t.Errorf("%s: %v", in, err)
			continue
		}
		if got := obj.(*tg.MessagesSendMessageRequest).Message; got != want {
			t.Errorf("%s decoded to %q, want %q", in, got, want)
		}
	}
}

// TestJSONBase64OneSpelling: bytes are standard base64 with padding (RFC
// 4648 §4), as the encoder writes them; the URL-safe alphabet, missing
// padding and line breaks are refused with an error that says so.
func TestJSONBase64OneSpelling(t *testing.T) {
	for data, want := range map[string]string{
		`"AQID/w=="`: "",
		`""`:         "",
		`"AQID_w=="`: `URL-safe`,
		`"AQID_w"`:   `URL-safe`,
		`"AQID/w"`:   `"=" padding`,
		`"hello"`:    `"=" padding`,
		`"AQ\nID"`:   `line break`,
		`"AQ=="`:     "",
		`"AR=="`:     `not the canonical`,
		`"!!!!"`:     `want standard base64`,
	} {
		params := `{"peer":{"_":"inputEncryptedChat","chat_id":1,"access_hash":2},"random_id":3,"data":` + data + `}`
		_, err := DecodeRequest(context.Background(), "messages.sendEncrypted", []byte(params), DecodeOptions{})
		switch {
		case want == "" && err != nil:
			t.Errorf("%s: %v", data, err)
		case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
			t.Errorf("%s: got %v, want an error saying %s", data, err, want)
		case want != "":
			var je *JSONError
			if !errors.As(err, &je) || je.Path != "params.data" {
				t.Errorf("%s: %v is not at params.data", data, err)
			}
		}
	}
}

// sharedBitDefs returns the definitions where a true flag shares its bit
// with a field that carries data.
func sharedBitDefs() []*Definition {
	var out []*Definition
	for i := range definitions {
		d := &definitions[i]
		found := false
		for _, p := range d.Params {
			for _, q := range d.Params {
				if p.Type == "true" && q.Type != "true" && p.Optional() && p.Flag == q.Flag && p.Bit == q.Bit {
					found = true
				}
			}
		}
		if found {
			out = append(out, d)
		}
	}
	return out
}

// TestJSONSharedFlagBit: inputMediaPhoto's live_photo and video share
// flags.2. The true flag is implied by the data field; a true flag without
// its data field, or false beside it, is an error at a JSON path (it used
// to fail inside gotd with no path, or to flip silently).
func TestJSONSharedFlagBit(t *testing.T) {
	// 18 in layer 229 (issue 22 counted 22 with other layers' schema).
	if n := len(sharedBitDefs()); n < 18 {
		t.Fatalf("only %d definitions with a true flag sharing a bit", n)
	}
	const head = `{"peer":{"_":"inputPeerSelf"},"message":"","random_id":1,"media":{"_":"inputMediaPhoto","id":{"_":"inputPhotoEmpty"}`
	video := `"video":{"_":"inputDocument","id":"1","access_hash":"2","file_reference":""}`
	for _, tc := range []struct{ media, err string }{
		{`,"live_photo":true,` + video + `}}`, ""},
		{`,` + video + `}}`, ""},
		{`,"live_photo":false}}`, ""},
		{`,"live_photo":true}}`, `params.media.video: missing: live_photo is true and shares flags.2 with it`},
		{`,"live_photo":false,` + video + `}}`, `params.media.live_photo: false, but video is given and shares flags.2 with it`},
	} {
		obj, err := DecodeRequest(context.Background(), "messages.sendMedia", []byte(head+tc.media), DecodeOptions{})
		if tc.err != "" {
			var je *JSONError
			if err == nil || err.Error() != tc.err || !errors.As(err, &je) {
				t.Errorf("%s:\n got %v\nwant %s", tc.media, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.media, err)
			continue
		}
		m := obj.(*tg.MessagesSendMediaRequest).Media.(*tg.InputMediaPhoto)
		if m.LivePhoto != (m.Video != nil) {
			t.Errorf("%s: live_photo %v, video %v", tc.media, m.LivePhoto, m.Video)
		}
	}
	// Two data fields under one bit go together too.
	_, err := DecodeRequest(context.Background(), "messages.sendMedia", []byte(`{"peer":{"_":"inputPeerSelf"},"message":"","random_id":1,`+
		`"media":{"_":"inputMediaPoll","poll":{"_":"poll","id":"1","hash":"0","question":{"_":"textWithEntities","text":"q","entities":[]},"answers":[]},"solution":"s"}}`), DecodeOptions{})
	if err == nil || err.Error() != `params.media.solution_entities: missing: solution is given and shares flags.1 with it` {
		t.Errorf("solution without solution_entities: %v", err)
	}
}

// TestJSONNaNInfRefused: JSON has no NaN or infinity; the encoder refuses
// them (it wrote null, which the decoder then refused) and the decoder
// refuses numbers beyond a double's range.
func TestJSONNaNInfRefused(t *testing.T) {
	for _, v := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		geo := &tg.InputGeoPoint{Lat: v, Long: 1}
		var b bin.Buffer
		_ = geo.Encode(&b)
		js, err := BinaryToJSON(b.Buf, "")
		if err == nil || !strings.Contains(err.Error(), "$.lat: double: ") {
			t.Errorf("%v: got %s %v, want an error at $.lat", v, js, err)
		}
		if _, err := EncodeJSON(geo); err == nil {
			t.Errorf("%v: EncodeJSON wrote it", v)
		}
	}
	for _, lat := range []string{`1e999`, `-1e999`, `NaN`, `"NaN"`, `null`} {
		_, err := DecodeJSON(context.Background(), []byte(`{"_":"inputGeoPoint","lat":`+lat+`,"long":1}`), DecodeOptions{})
		if err == nil {
			t.Errorf("lat %s accepted", lat)
		}
	}
}
