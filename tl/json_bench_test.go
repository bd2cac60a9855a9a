package tl

import (
	"context"
	"testing"

	"github.com/gotd/td/bin"
	"github.com/gotd/td/tg"
)

// Per-call cost of the JSON codec as `tlworker send` uses it: one
// DecodeRequest per job line, one BinaryToJSON per result. Compare a change
// against a baseline with
//
//	go test -run '^$' -bench 'DecodeRequest|BinaryToJSON' -benchmem -count 5 ./tl/ > /tmp/new.txt
//	benchstat /tmp/old.txt /tmp/new.txt
//
// The inputs differ from bench_test.go's: a peer shorthand through a
// Resolver and an automatic random_id, as tlworker sends them.

// benchResolver resolves every shorthand to the same peer without
// allocating, so the benchmarks measure the codec and not a cache.
type benchResolver struct{ peer bin.Encoder }

func (r benchResolver) Resolve(context.Context, string, string) (bin.Encoder, error) {
	return r.peer, nil
}

var benchOpts = DecodeOptions{
	Resolver: benchResolver{peer: &tg.InputPeerUser{UserID: 123456789, AccessHash: -4242424242424242}},
	RandomID: func() int64 { return 0x5eed },
}

func benchDecodeRequest(b *testing.B, method, params string) {
	ctx := context.Background()
	p := []byte(params)
	b.ReportAllocs()
	b.SetBytes(int64(len(p)))
	for b.Loop() {
		if _, err := DecodeRequest(ctx, method, p, benchOpts); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeRequestSendMessageShorthand is tlworker's typical job line.
// (BenchmarkDecodeRequestSendMessage in bench_test.go spells the peer out.)
func BenchmarkDecodeRequestSendMessageShorthand(b *testing.B) {
	benchDecodeRequest(b, "messages.sendMessage", `{"peer":"me","message":"hi"}`)
}

// BenchmarkDecodeRequestSendMessageEntities adds a vector of objects, a
// nested object with its own flags and optional fields.
func BenchmarkDecodeRequestSendMessageEntities(b *testing.B) {
	benchDecodeRequest(b, "messages.sendMessage", `{"peer":"@alice","message":"hello bold italic link","silent":true,`+
		`"reply_to":{"_":"inputReplyToMessage","reply_to_msg_id":42,"top_msg_id":7},`+
		`"entities":[{"_":"messageEntityBold","offset":6,"length":4},{"_":"messageEntityItalic","offset":11,"length":6},`+
		`{"_":"messageEntityTextUrl","offset":18,"length":4,"url":"https://example.com/x"}],"schedule_date":null}`)
}

func benchBinaryToJSON(b *testing.B, obj bin.Encoder, typ string) {
	var buf bin.Buffer
	if err := obj.Encode(&buf); err != nil {
		b.Fatal(err)
	}
	out, err := BinaryToJSON(buf.Buf, typ)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ReportMetric(float64(len(out)), "json-bytes/op")
	b.SetBytes(int64(len(buf.Buf)))
	for b.Loop() {
		if _, err := BinaryToJSON(buf.Buf, typ); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBinaryToJSONUpdateShortSentMessage is sendMessage's usual result.
func BenchmarkBinaryToJSONUpdateShortSentMessage(b *testing.B) {
	res := &tg.UpdateShortSentMessage{Out: true, ID: 48213, Pts: 190233, PtsCount: 1, Date: 1764590000}
	benchBinaryToJSON(b, res, "Updates")
}

// benchMessages is a messages.getHistory-like result: a few messages, with
// entities and replies, from a few users with photos, statuses and colors.
func benchMessages() *tg.MessagesMessages {
	res := &tg.MessagesMessages{}
	for i := range 3 {
		id := int64(1000 + i)
		u := &tg.User{
			ID: id, AccessHash: -id * 7919, FirstName: "User", LastName: "Number " + string(rune('A'+i)),
			Username: "user_" + string(rune('a'+i)), Contact: i == 0, Premium: i == 1,
			Photo:  &tg.UserProfilePhoto{PhotoID: id * 31, DCID: 2, StrippedThumb: []byte{1, 2, 3, 4, 5, 6, 7, 8, 9}},
			Status: &tg.UserStatusOffline{WasOnline: 1764500000 + i},
			Color:  &tg.PeerColor{Color: i},
		}
		u.SetFlags()
		res.Users = append(res.Users, u)
		m := &tg.Message{
			ID: 500 + i, FromID: &tg.PeerUser{UserID: id}, PeerID: &tg.PeerUser{UserID: 1000},
			Date: 1764590000 + i, Message: "message text with a bold word, number " + string(rune('0'+i)),
			Entities: []tg.MessageEntityClass{&tg.MessageEntityBold{Offset: 20, Length: 4}},
			Out:      i == 0,
		}
		if i > 0 {
			h := &tg.MessageReplyHeader{ReplyToMsgID: 500 + i - 1}
			h.SetFlags()
			m.ReplyTo = h
		}
		m.SetFlags()
		res.Messages = append(res.Messages, m)
	}
	return res
}

// BenchmarkBinaryToJSONMessagesMessages is a bigger result, so that
// improvements are not fitted to one small constructor.
func BenchmarkBinaryToJSONMessagesMessages(b *testing.B) {
	benchBinaryToJSON(b, benchMessages(), "messages.Messages")
}

// BenchmarkEncodeParamsSendMessageShorthand is what tlworker send does
// per job line now: EncodeParams, the call encoded once (no gotd object).
func BenchmarkEncodeParamsSendMessageShorthand(b *testing.B) {
	def, err := Method("messages.sendMessage")
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	p := []byte(`{"peer":"me","message":"hi"}`)
	b.ReportAllocs()
	b.SetBytes(int64(len(p)))
	for b.Loop() {
		if _, err := EncodeParams(ctx, def, p, benchOpts); err != nil {
			b.Fatal(err)
		}
	}
}
