package tl

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/gotd/td/bin"
	"github.com/gotd/td/tg"
)

func TestSendMessageJSONRoundTrip(t *testing.T) {
	const in = `{"_":"messages.sendMessage","peer":{"_":"inputPeerSelf"},"message":"hi","random_id":"7"}`
	obj, err := DecodeJSON(context.Background(), []byte(in), DecodeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	req, ok := obj.(*tg.MessagesSendMessageRequest)
	if !ok {
		t.Fatalf("got %T", obj)
	}
	if _, self := req.Peer.(*tg.InputPeerSelf); !self || req.Message != "hi" || req.RandomID != 7 {
		t.Fatalf("decoded %+v", req)
	}
	out, err := EncodeJSON(req)
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != in {
		t.Fatalf("round trip:\n got %s\nwant %s", out, in)
	}
}

func TestDecodeRequestFeatures(t *testing.T) {
	params := `{"peer":{"_":"inputPeerUser","user_id":"1234567890123","access_hash":-5},
		"message":"hi","silent":true,"noforwards":false,"random_id":"9007199254740993",
		"entities":[{"_":"messageEntityBold","offset":0,"length":2}],"schedule_date":null}`
	obj, err := DecodeRequest(context.Background(), "messages.sendMessage", []byte(params), DecodeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	req := obj.(*tg.MessagesSendMessageRequest)
	peer := req.Peer.(*tg.InputPeerUser)
	if peer.UserID != 1234567890123 || peer.AccessHash != -5 || req.RandomID != 9007199254740993 {
		t.Fatalf("longs: %+v %d", peer, req.RandomID)
	}
	if !req.Silent || req.Noforwards || len(req.Entities) != 1 {
		t.Fatalf("flags/vectors: %+v", req)
	}
	if _, set := req.GetScheduleDate(); set {
		t.Fatal("null optional field must be absent")
	}
	out, _ := EncodeJSON(req)
	if !strings.Contains(string(out), `"silent":true`) || strings.Contains(string(out), "noforwards") || strings.Contains(string(out), "flags") {
		t.Fatalf("encoded %s", out)
	}
}

func TestBytesAndBoolAndGeneric(t *testing.T) {
	in := `{"_":"invokeWithLayer","layer":229,"query":{"_":"help.getConfig"}}`
	obj, err := DecodeJSON(context.Background(), []byte(in), DecodeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if out, _ := EncodeJSON(obj); string(out) != in {
		t.Fatalf("generic: %s", out)
	}
	in = `{"_":"messages.sendEncrypted","silent":true,"peer":{"_":"inputEncryptedChat","chat_id":1,"access_hash":"2"},"random_id":"3","data":"AQID/w=="}`
	obj, err = DecodeJSON(context.Background(), []byte(in), DecodeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := obj.(*tg.MessagesSendEncryptedRequest).Data; string(got) != "\x01\x02\x03\xff" {
		t.Fatalf("bytes %v", got)
	}
	if out, _ := EncodeJSON(obj); string(out) != in {
		t.Fatalf("bytes: %s", out)
	}
}

func TestRandomIDFilled(t *testing.T) {
	obj, err := DecodeRequest(context.Background(), "messages.sendMessage", []byte(`{"peer":{"_":"inputPeerSelf"},"message":"x"}`),
		DecodeOptions{RandomID: func() int64 { return 42 }})
	if err != nil {
		t.Fatal(err)
	}
	if obj.(*tg.MessagesSendMessageRequest).RandomID != 42 {
		t.Fatal("random_id not filled")
	}
}

type fakeResolver map[string]bin.Encoder

func (f fakeResolver) Resolve(_ context.Context, want, s string) (bin.Encoder, error) {
	if o, ok := f[want+" "+s]; ok {
		return o, nil
	}
	return nil, errors.New("no such peer")
}

func TestPeerShorthand(t *testing.T) {
	r := fakeResolver{
		"InputPeer @alice": &tg.InputPeerUser{UserID: 1, AccessHash: 2},
		"InputUser 777":    &tg.InputUser{UserID: 777, AccessHash: 3},
	}
	obj, err := DecodeRequest(context.Background(), "messages.sendMessage", []byte(`{"peer":"@alice","message":"hi","random_id":1}`), DecodeOptions{Resolver: r})
	if err != nil {
		t.Fatal(err)
	}
	if p := obj.(*tg.MessagesSendMessageRequest).Peer.(*tg.InputPeerUser); p.AccessHash != 2 {
		t.Fatalf("%+v", p)
	}
	obj, err = DecodeRequest(context.Background(), "users.getUsers", []byte(`{"id":[777]}`), DecodeOptions{Resolver: r})
	if err != nil {
		t.Fatal(err)
	}
	if u := obj.(*tg.UsersGetUsersRequest).ID[0].(*tg.InputUser); u.UserID != 777 {
		t.Fatalf("%+v", u)
	}
	_, err = DecodeRequest(context.Background(), "messages.sendMessage", []byte(`{"peer":"@bob","message":"hi","random_id":1}`), DecodeOptions{Resolver: r})
	var je *JSONError
	if !errors.As(err, &je) || je.Path != "params.peer" {
		t.Fatalf("resolver error must carry the path: %v", err)
	}
	_, err = DecodeRequest(context.Background(), "messages.sendMessage", []byte(`{"peer":"@bob","message":"hi","random_id":1}`), DecodeOptions{})
	if err == nil || !strings.Contains(err.Error(), "needs a resolver") {
		t.Fatalf("no resolver: %v", err)
	}
}

func TestDecodeErrors(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		method, params string
		want           string
	}{
		{"messages.sendMessage", `{"peer":{"_":"inputPeerUser","user_id":"x","access_hash":1},"message":"hi","random_id":1}`,
			`params.peer.user_id: want a 64-bit integer, got string "x"`},
		{"messages.sendMessage", `{"peer":{"_":"inputPeerChat","chat_id":true},"message":"hi","random_id":1}`,
			`params.peer.chat_id: want integer, got boolean`},
		{"messages.sendMessage", `{"peer":{"_":"inputPeerSelf"},"message":5,"random_id":1}`,
			`params.message: want string, got number`},
		{"messages.sendMessage", `{"peer":{"_":"inputPeerSelf"},"mesage":"hi","random_id":1}`,
			`params.mesage: unknown field of messages.sendMessage (did you mean "message"?); valid fields: no_webpage, silent`},
		{"messages.sendMessage", `{"peer":{"_":"inputPeerSelf"},"random_id":1}`,
			`params.message: missing required field (string)`},
		{"messages.sendMessage", `{"peer":{"_":"inputUser","user_id":1,"access_hash":1},"message":"hi","random_id":1}`,
			`params.peer._: inputUser is a InputUser, want a InputPeer`},
		{"messages.sendMessage", `{"peer":{"user_id":1},"message":"hi","random_id":1}`,
			`params.peer: missing "_": name one of the InputPeer constructors: inputPeerEmpty`},
		{"messages.sendMessage", `{"peer":{"_":"inputPeerSelf"},"message":"hi","random_id":1,"entities":{}}`,
			`params.entities: want array, got object`},
		{"messages.sendMessage", `{"peer":{"_":"inputPeerSelf"},"message":"hi","random_id":1,"entities":[{"_":"messageEntityBold","offset":"0","length":1}]}`,
			`params.entities[0].offset: want integer, got string`},
		{"messages.sendMessage", `[1,2]`, `params: want object, got array`},
		{"messages.sendMessage", `{"message":`, `params: invalid JSON`},
		{"messages.sendMesage", `{}`, `unknown method "messages.sendMesage" (layer 229); did you mean "messages.sendMessage"`},
	} {
		_, err := DecodeRequest(ctx, tc.method, []byte(tc.params), DecodeOptions{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s %s:\n got %v\nwant %s", tc.method, tc.params, err, tc.want)
		}
	}
}

func TestUnknownMethodIsTyped(t *testing.T) {
	_, err := Method("sendMessage")
	var ue *UnknownMethodError
	if !errors.As(err, &ue) || len(ue.Suggestions) == 0 || ue.Suggestions[0] != "messages.sendMessage" {
		t.Fatalf("%v", err)
	}
}
