package mtproto

import (
	"runtime"
	"testing"

	"github.com/gotd/td/bin"
	"github.com/gotd/td/crypto"
	"github.com/gotd/td/proto"
)

// Hot-path benchmarks. Compare runs with benchstat:
//
//	go test -run XXX -bench . -benchmem -count 6 ./mtproto > new.txt
//	benchstat old.txt new.txt
//
// BenchmarkPack and BenchmarkReceive include the crypto; BenchmarkEncrypt and
// BenchmarkDecrypt measure gotd's cipher alone on a frame of the same size,
// so the session's own cost is the difference.

const benchBatch = 100

var prepN = 100

func benchCalls() []Call { return calls(1, benchBatch) }

func BenchmarkPack(b *testing.B) {
	s, _ := newPair(b, Config{})
	cs := benchCalls()
	b.ReportAllocs()
	var bytes int
	for b.Loop() {
		out, err := s.Pack(testNow, cs)
		if err != nil {
			b.Fatal(err)
		}
		bytes = out.Frames[0].Bytes
		for _, c := range cs {
			s.Cancel(c.ID)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*benchBatch), "ns/call")
	b.ReportMetric(float64(bytes)/benchBatch, "bytes/call")
}

func BenchmarkEncrypt(b *testing.B) {
	s, _ := newPair(b, Config{})
	out, _ := s.Pack(testNow, benchCalls())
	payload := make([]byte, out.Frames[0].Bytes)
	c := crypto.NewClientCipher(newSeqRand(9))
	key := newTestKey(1)
	b.ReportAllocs()
	for b.Loop() {
		var buf bin.Buffer
		if err := c.Encrypt(key, crypto.EncryptedMessageData{MessageDataLen: int32(len(payload)), MessageDataWithPadding: payload}, &buf); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*benchBatch), "ns/call")
}

// BenchmarkReceive decrypts and routes containers of benchBatch results.
// Frames are prepared in rounds of 100 packs outside the timer.
func BenchmarkReceive(b *testing.B) {
	s, srv := newPair(b, Config{})
	var frames [][]byte
	next := 1
	prepare := func() {
		frames = frames[:0]
		for range prepN {
			out, err := s.Pack(testNow, calls(next, benchBatch))
			if err != nil {
				b.Fatal(err)
			}
			next += benchBatch
			sf := srv.open(out.Frames[0])
			bodies := make([][]byte, 0, benchBatch)
			for _, u := range srv.calls(sf) {
				bodies = append(bodies, result(b, u.msg.ID, sentOK(1)))
			}
			frames = append(frames, srv.frame(s.ID(), srv.nextID(proto.MessageServerResponse), 0, srv.container(bodies...)))
		}
		// Collect the setup's garbage off the clock: only Receive's own
		// allocations should cost GC time in the measurement.
		runtime.GC()
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if i%prepN == 0 {
			b.StopTimer()
			prepare()
			b.StartTimer()
		}
		evs, err := s.Receive(testNow, frames[i%prepN])
		if err != nil || len(evs.Results) != benchBatch {
			b.Fatalf("%v: %d events", err, len(evs.Results))
		}
		i++
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*benchBatch), "ns/call")
}

func BenchmarkDecrypt(b *testing.B) {
	s, srv := newPair(b, Config{})
	out, _ := s.Pack(testNow, benchCalls())
	sf := srv.open(out.Frames[0])
	bodies := make([][]byte, 0, benchBatch)
	for _, u := range srv.calls(sf) {
		bodies = append(bodies, result(b, u.msg.ID, sentOK(1)))
	}
	frame := srv.frame(s.ID(), srv.nextID(proto.MessageServerResponse), 0, srv.container(bodies...))
	c := crypto.NewClientCipher(newSeqRand(9))
	key := newTestKey(1)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.DecryptFromBuffer(key, &bin.Buffer{Buf: frame}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*benchBatch), "ns/call")
}
