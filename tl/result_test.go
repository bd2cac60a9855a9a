package tl

import (
	"slices"
	"testing"
	"time"

	"github.com/gotd/td/bin"
	"github.com/gotd/td/tg"
	"github.com/gotd/td/tgerr"
)

func encodeT(t *testing.T, e bin.Encoder) []byte {
	t.Helper()
	var b bin.Buffer
	if err := e.Encode(&b); err != nil {
		t.Fatal(err)
	}
	return b.Buf
}

func mustMethod(t *testing.T, name string) *Definition {
	t.Helper()
	d, err := Method(name)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestDecodeResultKinds(t *testing.T) {
	// Boxed class.
	v, err := DecodeResult(mustMethod(t, "messages.sendMessage"), encodeT(t, &tg.UpdateShortSentMessage{ID: 5}))
	if err != nil {
		t.Fatal(err)
	}
	if u, ok := v.(*tg.UpdateShortSentMessage); !ok || u.ID != 5 {
		t.Fatalf("%#v", v)
	}
	// Bool.
	v, err = DecodeResult(mustMethod(t, "auth.logOut"), encodeT(t, &tg.AuthLoggedOut{}))
	if _, ok := v.(*tg.AuthLoggedOut); !ok || err != nil {
		t.Fatalf("namespaced class: %#v %v", v, err)
	}
	v, err = DecodeResult(mustMethod(t, "account.updateStatus"), encodeT(t, &tg.BoolTrue{}))
	if err != nil || v != true {
		t.Fatalf("Bool: %v %v", v, err)
	}
	// Vector of boxed objects.
	users := &tg.UserClassVector{Elems: []tg.UserClass{&tg.User{ID: 1}, &tg.UserEmpty{ID: 2}}}
	v, err = DecodeResult(mustMethod(t, "users.getUsers"), encodeT(t, users))
	if err != nil {
		t.Fatal(err)
	}
	objs := v.([]bin.Object)
	if len(objs) != 2 || objs[0].(*tg.User).ID != 1 || objs[1].(*tg.UserEmpty).ID != 2 {
		t.Fatalf("%#v", v)
	}
	// Bare vectors.
	v, err = DecodeResult(mustMethod(t, "contacts.getContactIDs"), encodeT(t, &tg.IntVector{Elems: []int{3, 4}}))
	if err != nil || !slices.Equal(v.([]int), []int{3, 4}) {
		t.Fatalf("Vector<int>: %v %v", v, err)
	}
	v, err = DecodeResult(mustMethod(t, "photos.deletePhotos"), encodeT(t, &tg.LongVector{Elems: []int64{7, 8}}))
	if err != nil || !slices.Equal(v.([]int64), []int64{7, 8}) {
		t.Fatalf("Vector<long>: %v %v", v, err)
	}
	if d := mustMethod(t, "contacts.getContactIDs"); d.Type != "Vector<int>" {
		t.Fatalf("result type %s", d.Type)
	}
	// JSON of results by result type.
	js, err := BinaryToJSON(encodeT(t, users), "Vector<User>")
	if err != nil || string(js) != `[{"_":"user","id":"1"},{"_":"userEmpty","id":"2"}]` {
		t.Fatalf("%s %v", js, err)
	}
	js, err = BinaryToJSON(encodeT(t, &tg.IntVector{Elems: []int{3, 4}}), "Vector<int>")
	if err != nil || string(js) != `[3,4]` {
		t.Fatalf("%s %v", js, err)
	}
	js, err = BinaryToJSON(encodeT(t, &tg.BoolFalse{}), "Bool")
	if err != nil || string(js) != `false` {
		t.Fatalf("%s %v", js, err)
	}
	// Damaged bodies are errors, not panics.
	if _, err := DecodeResult(mustMethod(t, "users.getUsers"), []byte{0x15, 0xc4, 0xb5, 0x1c, 0xff, 0xff, 0xff, 0x7f}); err == nil {
		t.Fatal("huge vector count accepted")
	}
	if _, err := BinaryToJSON([]byte{1, 2, 3, 4}, ""); err == nil {
		t.Fatal("unknown constructor accepted")
	}
}

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		err    error
		action Action
		wait   time.Duration
		dc     int
	}{
		{tgerr.New(420, "FLOOD_WAIT_30"), RetryAfterWait, 30 * time.Second, 0},
		{tgerr.New(420, "FLOOD_PREMIUM_WAIT_5"), RetryAfterWait, 5 * time.Second, 0},
		{tgerr.New(420, "SLOWMODE_WAIT_10"), RetryAfterWait, 10 * time.Second, 0},
		{tgerr.New(303, "USER_MIGRATE_4"), RetryElsewhere, 0, 4},
		{tgerr.New(303, "FILE_MIGRATE_2"), RetryElsewhere, 0, 2},
		{tgerr.New(303, "STATS_MIGRATE_5"), RetryElsewhere, 0, 5},
		{tgerr.New(400, "MSG_WAIT_FAILED"), RepairChain, 0, 0},
		{tgerr.New(400, "MSG_WAIT_TIMEOUT"), RepairChain, 0, 0},
		{tgerr.New(500, "INTERNAL"), RetryWithBackoff, 0, 0},
		{tgerr.New(-503, "Timeout"), RetryWithBackoff, 0, 0},
		{tgerr.New(500, "WORKER_BUSY_TOO_LONG_RETRY"), RetryWithBackoff, 0, 0},
		{tgerr.New(401, "AUTH_KEY_UNREGISTERED"), Reauthorize, 0, 0},
		{tgerr.New(401, "SESSION_REVOKED"), Reauthorize, 0, 0},
		{tgerr.New(400, "PEER_ID_INVALID"), Final, 0, 0},
		{tgerr.New(403, "CHAT_WRITE_FORBIDDEN"), Final, 0, 0},
	} {
		c := Classify(tc.err)
		if c.Action != tc.action || c.Wait != tc.wait || c.DC != tc.dc {
			t.Errorf("%v: got %v wait %v dc %d", tc.err, c.Action, c.Wait, c.DC)
		}
	}
	fw, ok := AsFloodWait(tgerr.New(420, "SLOWMODE_WAIT_10"))
	if !ok || fw.Kind != SlowModeWait {
		t.Fatalf("%+v", fw)
	}
	me, ok := AsMigrate(Typed(tgerr.New(303, "PHONE_MIGRATE_3")))
	if !ok || me.Kind != "PHONE" || me.DC != 3 {
		t.Fatalf("%+v", me)
	}
	if _, ok := tgerr.As(Typed(tgerr.New(420, "FLOOD_WAIT_1"))); !ok {
		t.Fatal("typed errors must still unwrap to *tgerr.Error")
	}
}

func TestSearchAndDescribe(t *testing.T) {
	for q, want := range map[string]string{
		"messages.sendMessage": "messages.sendMessage",
		"sendMessage":          "messages.sendMessage",
		"send message":         "messages.sendMessage",
		"resolveusername":      "contacts.resolveUsername",
		"getfulluser":          "users.getFullUser",
	} {
		got := Search(q, 5)
		if len(got) == 0 || got[0].Name != want {
			t.Errorf("Search(%q) = %v, want %s first", q, got, want)
		}
	}
	if got := Search("zzzzqqq", 5); len(got) != 0 {
		t.Errorf("nonsense matched %v", got)
	}
	d, err := Describe("messages.sendMessage")
	if err != nil {
		t.Fatal(err)
	}
	if d.Result != "Updates" || d.Doc == "" {
		t.Fatalf("%+v", d)
	}
	var msg, silent *ParamDescription
	for i := range d.Params {
		switch d.Params[i].Name {
		case "message":
			msg = &d.Params[i]
		case "silent":
			silent = &d.Params[i]
		case "flags":
			t.Fatal("flags words are not parameters for users")
		}
	}
	if msg == nil || msg.Optional || msg.Type != "string" || silent == nil || !silent.Optional || silent.Type != "true" {
		t.Fatalf("%+v %+v", msg, silent)
	}
	if s := d.String(); len(s) < 100 {
		t.Fatalf("%s", s)
	}
	if _, err := Describe("nope"); err == nil {
		t.Fatal("unknown method described")
	}
}

func TestRegistry(t *testing.T) {
	if n := len(Methods()); n < 700 {
		t.Fatalf("%d methods", n)
	}
	obj, d, err := NewRequest("messages.sendMessage")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := obj.(*tg.MessagesSendMessageRequest); !ok || d.ID != tg.MessagesSendMessageRequestTypeID {
		t.Fatalf("%T %#x", obj, d.ID)
	}
	// Every method of the schema has a Go type in gotd, with the same id.
	for _, m := range Methods() {
		if _, err := New(m.ID); err != nil {
			t.Errorf("%s: %v", m.Name, err)
		}
	}
}
