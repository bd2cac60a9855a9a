package actors

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/gotd/td/bin"
	"github.com/gotd/td/tg"

	"github.com/tlsched/tlsched/tl"
)

// encodedResolver resolves "me" and "@alice" as the entity cache would.
type encodedResolver struct{}

func (encodedResolver) Resolve(_ context.Context, _, s string) (bin.Encoder, error) {
	switch s {
	case "me":
		return &tg.InputPeerSelf{}, nil
	case "@alice":
		return &tg.InputPeerUser{UserID: 42, AccessHash: 43}, nil
	}
	return nil, errors.New("no such peer")
}

// TestEncodedRequestSendsTheSameBytes: a call given as a *tl.Request
// becomes the call its gotd object becomes: the same bytes, peer, paid
// flood skip, resendability and chat write; a zero random_id is filled
// (or kept, FillRandomID(false)) the same way.
func TestEncodedRequestSendsTheSameBytes(t *testing.T) {
	for _, tc := range []struct{ method, params string }{
		{"messages.sendMessage", `{"peer":"me","message":"hi","random_id":"7"}`},
		{"messages.sendMessage", `{"peer":"@alice","message":"hi"}`},
		{"messages.sendMessage", `{"peer":{"_":"inputPeerChat","chat_id":"5"},"message":"hi","random_id":0}`},
		{"messages.sendMessage", `{"peer":{"_":"inputPeerChannel","channel_id":"6","access_hash":"1"},"message":"hi","random_id":"8","allow_paid_floodskip":true}`},
		{"messages.forwardMessages", `{"from_peer":"@alice","to_peer":{"_":"inputPeerChat","chat_id":"9"},"id":[1,2],"random_id":["3","4"]}`},
		{"messages.forwardMessages", `{"from_peer":"@alice","to_peer":"me","id":[1,2],"random_id":[]}`},
		{"messages.forwardMessages", `{"from_peer":"@alice","to_peer":{"_":"inputPeerEmpty"},"id":[1],"random_id":["3"]}`},
		{"channels.joinChannel", `{"channel":{"_":"inputChannel","channel_id":"77","access_hash":"1"}}`},
		{"messages.getPeerDialogs", `{"peers":[{"_":"inputDialogPeer","peer":"@alice"}]}`},
		{"help.getConfig", `{}`},
	} {
		def, err := tl.Method(tc.method)
		if err != nil {
			t.Fatal(err)
		}
		opts := tl.DecodeOptions{Resolver: encodedResolver{}, RandomID: func() int64 { return 99 }}
		obj, err := tl.DecodeParams(context.Background(), def, []byte(tc.params), opts)
		if err != nil {
			t.Fatal(err)
		}
		r, err := tl.EncodeParams(context.Background(), def, []byte(tc.params), opts)
		if err != nil {
			t.Fatal(err)
		}
		for _, keep := range []bool{false, true} {
			c := &Client{}
			o := callOptions{keepZeroRandomID: keep}
			want, err := c.newPending(obj, o)
			if err != nil {
				t.Fatal(err)
			}
			got, err := c.newPending(r, o)
			if err != nil {
				t.Fatal(err)
			}
			filled := r.ZeroRandomID && !keep // a fresh random_id each time
			if (!filled && !bytes.Equal(got.raw, want.raw)) || len(got.raw) != len(want.raw) {
				t.Errorf("%s %s keep=%v: raw\n got %x\nwant %x", tc.method, tc.params, keep, got.raw, want.raw)
			}
			if got.method != want.method || got.peer != want.peer || got.paid != want.paid || got.resendable != want.resendable || got.writes != want.writes || got.size != want.size {
				t.Errorf("%s %s keep=%v: got %+v, want %+v", tc.method, tc.params, keep, got, want)
			}
		}
	}
}

// TestEncodedRequestWithZeroRandomIDIsFilled: a *tl.Request whose
// random_id is zero is sent with a fresh one, and r is not modified.
func TestEncodedRequestWithZeroRandomIDIsFilled(t *testing.T) {
	def, err := tl.Method("messages.sendMessage")
	if err != nil {
		t.Fatal(err)
	}
	r, err := tl.EncodeParams(context.Background(), def, []byte(`{"peer":{"_":"inputPeerSelf"},"message":"hi","random_id":0}`), tl.DecodeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	body := append([]byte(nil), r.Body...)
	p, err := (&Client{}).newPending(r, callOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var m tg.MessagesSendMessageRequest
	if err := m.Decode(&bin.Buffer{Buf: p.raw}); err != nil {
		t.Fatal(err)
	}
	if m.RandomID == 0 || !p.resendable {
		t.Errorf("random_id %d, resendable %v", m.RandomID, p.resendable)
	}
	if !bytes.Equal(r.Body, body) {
		t.Error("the request's body was modified")
	}
}

// BenchmarkNewPending: what a call costs the submitter before the
// scheduler, for tlworker send's request built from JSON: gotd's object
// (random_id filled by reflection, encoded) against a *tl.Request (its
// bytes as they are).
func BenchmarkNewPending(b *testing.B) {
	def, err := tl.Method("messages.sendMessage")
	if err != nil {
		b.Fatal(err)
	}
	params := []byte(`{"peer":"me","message":"hi","random_id":"7"}`)
	opts := tl.DecodeOptions{Resolver: encodedResolver{}}
	obj, err := tl.DecodeParams(context.Background(), def, params, opts)
	if err != nil {
		b.Fatal(err)
	}
	r, err := tl.EncodeParams(context.Background(), def, params, opts)
	if err != nil {
		b.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		req  bin.Encoder
	}{{"gotd", obj}, {"encoded", r}} {
		b.Run(tc.name, func(b *testing.B) {
			c := &Client{}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.newPending(tc.req, callOptions{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
