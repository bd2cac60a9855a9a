package tl

import (
	"context"
	"encoding/json"
	"testing"
)

// FuzzDecodeRequest: no JSON input may panic the decoder; what it accepts
// must encode back to valid JSON that decodes to the same request. The seeds run
// in every `go test`; explore with `go test -fuzz FuzzDecodeRequest ./tl`.
func FuzzDecodeRequest(f *testing.F) {
	for _, s := range []struct{ method, params string }{
		{"messages.sendMessage", `{"peer":{"_":"inputPeerSelf"},"message":"hi","random_id":7}`},
		{"messages.sendMessage", `{"peer":"@alice","message":"hi","silent":true,"random_id":"7"}`},
		{"messages.sendMessage", `{"peer":{"_":"inputPeerUser","user_id":1,"access_hash":-1},"message":"","random_id":1,"entities":[{"_":"messageEntityBold","offset":0,"length":1}]}`},
		{"users.getUsers", `{"id":[{"_":"inputUserSelf"},777]}`},
		{"invokeWithLayer", `{"layer":229,"query":{"_":"help.getConfig"}}`},
		{"messages.sendEncrypted", `{"peer":{"_":"inputEncryptedChat","chat_id":1,"access_hash":2},"random_id":3,"data":"AQID"}`},
		{"help.getConfig", `{}`},
		{"messages.sendMessage", `{"peer":{"_":"inputPeerSelf"},"message":"a\udcff\ud83d\udc80\\udc80","random_id":"1"}`},
		{"messages.sendMedia", `{"peer":{"_":"inputPeerSelf"},"message":"","random_id":1,"media":{"_":"inputMediaPhoto","id":{"_":"inputPhotoEmpty"},"live_photo":true,"video":{"_":"inputDocumentEmpty"}}}`},
		{"messages.sendMessage", `{"message":`},
		{"messages.sendMessage", `[]`},
		{"nope", `{}`},
	} {
		f.Add(s.method, []byte(s.params))
	}
	ctx := context.Background()
	opts := DecodeOptions{}
	f.Fuzz(func(t *testing.T, method string, params []byte) {
		obj, err := DecodeRequest(ctx, method, params, opts)
		if err != nil {
			return
		}
		js, err := EncodeJSON(obj)
		if err != nil {
			t.Fatalf("accepted request does not encode: %v", err)
		}
		if !json.Valid(js) {
			t.Fatalf("invalid JSON written: %q", js)
		}
		back, err := DecodeJSON(ctx, js, opts)
		if err != nil {
			t.Fatalf("own JSON rejected: %s: %v", js, err)
		}
		js2, err := EncodeJSON(back)
		if err != nil || string(js2) != string(js) {
			t.Fatalf("unstable JSON:\n%s\n%s", js, js2)
		}
	})
}

// FuzzBinaryToJSON: no binary input may panic the schema walk, and what it
// writes is valid JSON (strings with invalid UTF-8 included).
func FuzzBinaryToJSON(f *testing.F) {
	f.Add([]byte{0x62, 0x8f, 0xf4, 0xfe, 0, 0, 0, 0}, "")
	f.Add([]byte{0x15, 0xc4, 0xb5, 0x1c, 2, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0}, "Vector<int>")
	f.Add([]byte{0x15, 0xc4, 0xb5, 0x1c, 0xff, 0xff, 0xff, 0x7f}, "Vector<User>")
	f.Add([]byte{0x0d, 0x0d, 0x9b, 0xda, 1, 0, 0, 0, 0x0d, 0x0d, 0x9b, 0xda}, "")
	f.Add([]byte{3, 0xff, 'a', 0xc3}, "string")
	f.Fuzz(func(t *testing.T, data []byte, typ string) {
		if js, err := BinaryToJSON(data, typ); err == nil && !json.Valid(js) {
			t.Fatalf("invalid JSON written: %q", js)
		}
		if d, err := Method("users.getUsers"); err == nil {
			_, _ = DecodeResult(d, data)
		}
	})
}
