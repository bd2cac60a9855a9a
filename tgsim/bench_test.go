package tgsim_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/gotd/td/bin"
	"github.com/gotd/td/crypto"
	"github.com/gotd/td/exchange"
	"github.com/gotd/td/mt"
	"github.com/gotd/td/proto"
	"github.com/gotd/td/tg"

	"github.com/tlsched/tlsched/mtproto"
	"github.com/tlsched/tlsched/tgsim"
)

// BenchmarkServerAbsorb measures the server alone: frames of 100
// messages.sendMessage calls are encrypted before the timer starts, then
// written as fast as the socket takes them while a reader counts the
// results. calls/s is the ceiling any client benchmark against tgsim can
// reach on this machine.
//
//	go test -run XXX -bench ServerAbsorb -benchtime 200000x ./tgsim
func BenchmarkServerAbsorb(b *testing.B) {
	for _, bc := range []struct {
		name    string
		latency tgsim.Latency
	}{
		{"no-latency", tgsim.NoLatency},
		{"default-latency", tgsim.Latency{}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			srv := startSim(b, tgsim.Config{Latency: bc.latency, Flood: tgsim.FloodConfig{Off: true}, AckDelay: time.Second})
			ctx := context.Background()
			conn, err := mtproto.Dial(ctx, mtproto.DialConfig{Addr: srv.Addr(2), DC: 2, PublicKeys: []exchange.PublicKey{srv.PublicKey()}, Primes: testPrimes})
			if err != nil {
				b.Fatal(err)
			}
			defer conn.Close()
			cl := crypto.NewClientCipher(crypto.DefaultRand())
			session := time.Now().UnixNano()
			var last int64
			var content int32
			nextID := func() int64 {
				id := int64(proto.NewMessageID(time.Now(), proto.MessageFromClient))
				if id <= last {
					id = last + 4
				}
				last = id
				return id
			}
			frame := func(body []byte, seq int32) []byte {
				var buf bin.Buffer
				if err := cl.Encrypt(conn.AuthKey, crypto.EncryptedMessageData{
					Salt: conn.Salt, SessionID: session, MessageID: nextID(), SeqNo: seq,
					MessageDataLen: int32(len(body)), MessageDataWithPadding: body,
				}, &buf); err != nil {
					b.Fatal(err)
				}
				return buf.Buf
			}
			enc := func(v bin.Encoder) []byte {
				var buf bin.Buffer
				_ = v.Encode(&buf)
				return buf.Buf
			}
			results := make(chan int, 1024)
			go func() {
				defer close(results)
				for {
					var buf bin.Buffer
					if err := conn.Recv(ctx, &buf); err != nil {
						return
					}
					msg, err := cl.DecryptFromBuffer(conn.AuthKey, &buf)
					if err != nil {
						return
					}
					d := msg.Data()
					n := 0
					if binary.LittleEndian.Uint32(d) == proto.MessageContainerTypeID {
						var c proto.MessageContainer
						_ = c.Decode(&bin.Buffer{Buf: d})
						for _, m := range c.Messages {
							if binary.LittleEndian.Uint32(m.Body) == mt.RPCResultTypeID {
								n++
							}
						}
					} else if binary.LittleEndian.Uint32(d) == mt.RPCResultTypeID {
						n++
					}
					results <- n
				}
			}()
			// The first call initialises the connection.
			init := enc(wrapInit(&tg.HelpGetConfigRequest{}))
			content++
			if err := conn.Send(ctx, &bin.Buffer{Buf: frame(init, 1)}); err != nil {
				b.Fatal(err)
			}
			for got := 0; got < 1; got += <-results {
			}

			const per = 100
			var frames [][]byte
			for i := 0; i < b.N; i += per {
				var c proto.MessageContainer
				for j := i; j < min(i+per, b.N); j++ {
					body := enc(&tg.MessagesSendMessageRequest{Peer: &tg.InputPeerSelf{}, Message: "hi", RandomID: int64(j + 1)})
					c.Messages = append(c.Messages, proto.Message{ID: nextID(), SeqNo: int(content*2 + 1), Bytes: len(body), Body: body})
					content++
				}
				frames = append(frames, frame(enc(&c), content*2))
			}
			b.ResetTimer()
			start := time.Now()
			go func() {
				for _, f := range frames {
					if err := conn.Send(ctx, &bin.Buffer{Buf: f}); err != nil {
						return
					}
				}
			}()
			for got := 0; got < b.N; {
				n, ok := <-results
				if !ok {
					b.Fatalf("connection closed after %d of %d results", got, b.N)
				}
				got += n
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "calls/s")
			c := srv.Counters()
			b.ReportMetric(float64(c.MessagesOut)/float64(c.FramesOut), "msgs/frame-out")
		})
	}
}

// BenchmarkStartThousandBots measures Start (world generation and
// listeners, the RSA key given) with 1 and with 1,000 bots (WorldConfig.Bots;
// the default 1,000 users besides): ns/op is the time to start and close,
// heap-B the live heap the running server holds after a GC.
//
//	go test -run XXX -bench StartThousandBots -benchmem ./tgsim
func BenchmarkStartThousandBots(b *testing.B) {
	for _, n := range []int{1, 1000} {
		b.Run(fmt.Sprintf("bots=%d", n), func(b *testing.B) {
			var heap uint64
			for i := 0; i < b.N; i++ {
				var before, after runtime.MemStats
				if i == 0 {
					runtime.GC()
					runtime.ReadMemStats(&before)
				}
				srv, err := tgsim.Start(tgsim.Config{Key: testKey, World: tgsim.WorldConfig{Bots: n}})
				if err != nil {
					b.Fatal(err)
				}
				if i == 0 {
					b.StopTimer()
					runtime.GC()
					runtime.ReadMemStats(&after)
					heap = after.HeapAlloc - before.HeapAlloc
					b.StartTimer()
				}
				srv.Close()
			}
			b.ReportMetric(float64(heap), "heap-B")
		})
	}
}

// BenchmarkFleetLogin logs bots in one after another, each on a new
// connection to its home DC: with a key made by PrepareKey, and with a key
// exchange whose DH prime is verified once (mtproto.PrimeCache), which is
// what a fleet's first start costs. logins/s is the rate one client
// goroutine reaches against the server (its login budget lifted).
//
//	go test -run XXX -bench FleetLogin -benchtime 200x ./tgsim
func BenchmarkFleetLogin(b *testing.B) {
	for _, prepared := range []bool{true, false} {
		name := "key-exchange"
		if prepared {
			name = "prepared-key"
		}
		b.Run(name, func(b *testing.B) {
			srv := startSim(b, tgsim.Config{RequireLogin: true, Latency: tgsim.NoLatency,
				World: tgsim.WorldConfig{Users: 2, Bots: b.N}, Flood: tgsim.FloodConfig{Logins: tgsim.Rate{N: -1}}})
			bots := srv.Bots()
			primes := &mtproto.PrimeCache{}
			ctx := context.Background()
			b.ResetTimer()
			for _, bot := range bots {
				cfg := mtproto.DialConfig{Addr: srv.Addr(bot.DC), DC: bot.DC, PublicKeys: []exchange.PublicKey{srv.PublicKey()}, Primes: primes}
				if prepared {
					key, salt, err := srv.PrepareKey(bot.DC)
					if err != nil {
						b.Fatal(err)
					}
					cfg.AuthKey, cfg.Salt = key, salt
				}
				conn, err := mtproto.Dial(ctx, cfg)
				if err != nil {
					b.Fatal(err)
				}
				c := attachRawN(b, conn, 16)
				c.ok(c.call(wrapInit(importBot(bot.Token))), nil)
				c.close()
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "logins/s")
		})
	}
}
