package tl

import (
	"bytes"
	"context"
	"testing"

	"github.com/gotd/td/bin"
	"github.com/gotd/td/tg"
)

// requestCases are calls whose encoding and metadata EncodeParams must get
// right: the peer a call is about (to_peer before peer, a channel, none),
// its random_id (given, derived, zero, a vector) and its paid flood skip.
// actors' TestEncodedRequestSendsTheSameBytes runs the same calls through
// newPending both ways.
var requestCases = []struct {
	name, method, params string
	peer                 string
	zero, paid           bool
}{
	{"self", "messages.sendMessage", `{"peer":"me","message":"hi","random_id":"7"}`, "self", false, false},
	{"derived random_id", "messages.sendMessage", `{"peer":"@alice","message":"hi"}`, "user:42", false, false},
	{"zero random_id", "messages.sendMessage", `{"peer":{"_":"inputPeerChat","chat_id":"5"},"message":"hi","random_id":0}`, "chat:5", true, false},
	{"optional peer names no chat", "messages.translateText", `{"peer":"me","id":[1],"to_lang":"en"}`, "", false, false},
	{"paid", "messages.sendMessage", `{"peer":{"_":"inputPeerChannel","channel_id":"6","access_hash":"1"},"message":"hi","allow_paid_floodskip":true}`, "channel:6", false, true},
	{"paid false", "messages.sendMessage", `{"peer":"me","message":"hi","allow_paid_floodskip":false}`, "self", false, false},
	{"forward", "messages.forwardMessages", `{"from_peer":"@alice","to_peer":{"_":"inputPeerChat","chat_id":"9"},"id":[1,2],"random_id":["3","4"],"allow_paid_floodskip":true}`, "chat:9", false, true},
	{"forward, empty random_id", "messages.forwardMessages", `{"from_peer":"@alice","to_peer":"me","id":[1,2],"random_id":[]}`, "self", true, false},
	{"forward to no peer", "messages.forwardMessages", `{"from_peer":"@alice","to_peer":{"_":"inputPeerEmpty"},"id":[1],"random_id":["3"]}`, "", false, false},
	{"channel", "channels.joinChannel", `{"channel":{"_":"inputChannel","channel_id":"77","access_hash":"1"}}`, "channel:77", false, false},
	{"channel from message", "channels.leaveChannel", `{"channel":{"_":"inputChannelFromMessage","peer":"@alice","msg_id":3,"channel_id":"78"}}`, "channel:78", false, false},
	{"nested peer only", "messages.getPeerDialogs", `{"peers":[{"_":"inputDialogPeer","peer":"@alice"}]}`, "", false, false},
	{"no peer", "help.getConfig", `{}`, "", false, false},
}

// requestResolver resolves "me" and "@alice" as the entity cache would.
var requestResolver = fakeResolver{
	"InputPeer me":     &tg.InputPeerSelf{},
	"InputPeer @alice": &tg.InputPeerUser{UserID: 42, AccessHash: 43},
}

// TestEncodeParams: EncodeParams gives the bytes gotd's object from
// DecodeParams encodes to, and says what the call's own fields say.
func TestEncodeParams(t *testing.T) {
	opts := DecodeOptions{Resolver: requestResolver, RandomID: func() int64 { return 99 }}
	for _, tc := range requestCases {
		t.Run(tc.name, func(t *testing.T) {
			def, err := Method(tc.method)
			if err != nil {
				t.Fatal(err)
			}
			r, err := EncodeParams(context.Background(), def, []byte(tc.params), opts)
			if err != nil {
				t.Fatal(err)
			}
			obj, err := DecodeParams(context.Background(), def, []byte(tc.params), opts)
			if err != nil {
				t.Fatal(err)
			}
			var want bin.Buffer
			if err := obj.Encode(&want); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(r.Body, want.Buf) {
				t.Errorf("body\n got %x\nwant %x", r.Body, want.Buf)
			}
			var enc bin.Buffer
			if err := r.Encode(&enc); err != nil || !bytes.Equal(enc.Buf, want.Buf) {
				t.Errorf("Encode: %x, %v", enc.Buf, err)
			}
			back, err := r.Object()
			if err != nil {
				t.Fatal(err)
			}
			var again bin.Buffer
			if err := back.Encode(&again); err != nil || !bytes.Equal(again.Buf, want.Buf) {
				t.Errorf("Object encodes to %x, %v", again.Buf, err)
			}
			if r.Def != def || r.TypeID() != def.ID {
				t.Errorf("Def %v, TypeID %#x", r.Def, r.TypeID())
			}
			if r.Peer != tc.peer || r.ZeroRandomID != tc.zero || r.PaidFloodskip != tc.paid {
				t.Errorf("peer %q zero %v paid %v, want %q %v %v", r.Peer, r.ZeroRandomID, r.PaidFloodskip, tc.peer, tc.zero, tc.paid)
			}
		})
	}
}

// TestEncodeParamsErrors: EncodeParams fails as DecodeParams does.
func TestEncodeParamsErrors(t *testing.T) {
	def, err := Method("messages.sendMessage")
	if err != nil {
		t.Fatal(err)
	}
	for _, params := range []string{`{"peer":"me"}`, `{"peer":"me","message":"hi","mesage":"x"}`, `[]`, `{"peer":"nobody","message":"hi"}`} {
		_, err := EncodeParams(context.Background(), def, []byte(params), DecodeOptions{Resolver: requestResolver})
		_, want := DecodeParams(context.Background(), def, []byte(params), DecodeOptions{Resolver: requestResolver})
		if err == nil || want == nil || err.Error() != want.Error() {
			t.Errorf("%s: %v, want %v", params, err, want)
		}
	}
	if _, err := EncodeParams(context.Background(), nil, nil, DecodeOptions{}); err == nil {
		t.Error("no error without a definition")
	}
}

func TestPeerKey(t *testing.T) {
	for _, tc := range []struct {
		p    tg.InputPeerClass
		want string
	}{
		{&tg.InputPeerSelf{}, "self"},
		{&tg.InputPeerEmpty{}, ""},
		{nil, ""},
		{&tg.InputPeerUser{UserID: -1}, "user:-1"},
		{&tg.InputPeerUserFromMessage{UserID: 2}, "user:2"},
		{&tg.InputPeerChat{ChatID: 3}, "chat:3"},
		{&tg.InputPeerChannel{ChannelID: 1 << 62}, "channel:4611686018427387904"},
		{&tg.InputPeerChannelFromMessage{ChannelID: 5}, "channel:5"},
	} {
		if got := PeerKey(tc.p); got != tc.want {
			t.Errorf("%T: %q, want %q", tc.p, got, tc.want)
		}
	}
	if got := ChannelKey(&tg.InputChannelEmpty{}); got != "" {
		t.Errorf("empty channel: %q", got)
	}
}

// encodedPeerKey, which reads common constructors in place, names every
// input peer and channel as PeerKey and ChannelKey name the decoded object.
func TestEncodedPeerKey(t *testing.T) {
	objs := []bin.Encoder{
		&tg.InputPeerSelf{}, &tg.InputPeerEmpty{}, &tg.InputPeerUser{UserID: -7, AccessHash: 1},
		&tg.InputPeerChat{ChatID: 1 << 40}, &tg.InputPeerChannel{ChannelID: 9, AccessHash: -1},
		&tg.InputPeerUserFromMessage{Peer: &tg.InputPeerChat{ChatID: 3}, MsgID: 4, UserID: 5},
		&tg.InputPeerChannelFromMessage{Peer: &tg.InputPeerSelf{}, MsgID: 4, ChannelID: 6},
		&tg.InputChannel{ChannelID: 11, AccessHash: 2}, &tg.InputChannelEmpty{},
		&tg.InputChannelFromMessage{Peer: &tg.InputPeerSelf{}, MsgID: 1, ChannelID: 12},
	}
	for _, o := range objs {
		var b bin.Buffer
		if err := o.Encode(&b); err != nil {
			t.Fatal(err)
		}
		var want string
		switch o := o.(type) {
		case tg.InputPeerClass:
			want = PeerKey(o)
		case tg.InputChannelClass:
			want = ChannelKey(o)
		}
		if got, err := encodedPeerKey(b.Buf); err != nil || got != want {
			t.Errorf("%T: %q, %v; want %q", o, got, err, want)
		}
	}
	if _, err := encodedPeerKey([]byte{1, 2}); err == nil {
		t.Error("no error for a torn peer")
	}
}
