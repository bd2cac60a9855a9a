package tl

import (
	"context"
	"testing"

	"github.com/gotd/td/tg"
)

// JSON must not be what limits tlworker (target: well under 5 µs per
// sendMessage job each way):
//
//	go test -run XXX -bench . -benchmem ./tl

const benchParams = `{"peer":{"_":"inputPeerUser","user_id":123456789,"access_hash":-4242424242424242},"message":"hello from tlsched, message 12345","random_id":7,"silent":true}`

func BenchmarkDecodeRequestSendMessage(b *testing.B) {
	ctx := context.Background()
	params := []byte(benchParams)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeRequest(ctx, "messages.sendMessage", params, DecodeOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeJSONSendMessage(b *testing.B) {
	req := &tg.MessagesSendMessageRequest{
		Peer: &tg.InputPeerUser{UserID: 123456789, AccessHash: -4242424242424242}, Message: "hello from tlsched, message 12345",
		RandomID: 7, Silent: true,
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := EncodeJSON(req); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeJSONResult(b *testing.B) {
	var res tg.UpdateShortSentMessage
	res.ID, res.Pts, res.PtsCount, res.Date = 5, 100, 1, 1700000000
	b.ReportAllocs()
	for b.Loop() {
		if _, err := EncodeJSON(&res); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMethodLookup(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Method("messages.sendMessage"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSearch(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		Search("send message", 10)
	}
}
