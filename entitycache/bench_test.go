package entitycache

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gotd/td/bin"
	"github.com/gotd/td/tg"

	"github.com/tlsched/tlsched/tl"
)

// BenchmarkWarmLookup: "@name" to InputPeer from the memory layer.
func BenchmarkWarmLookup(b *testing.B) {
	c, err := Open(Config{})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	for i := range 1000 {
		c.Learn(user(int64(i+1), int64(i), fmt.Sprintf("user%05d", i)))
	}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if _, err := c.Resolve(ctx, "InputPeer", "@user00042"); err != nil {
			b.Fatal(err)
		}
	}
}

// bigResult is a messages.messages-like result with 100 users and 100
// channels, encoded as the server sends it.
func bigResult(b *testing.B, base int) []byte {
	r := &tg.MessagesMessages{}
	for i := range 100 {
		r.Users = append(r.Users, &tg.User{ID: int64(base + i), AccessHash: int64(i), Username: fmt.Sprintf("u%d_%d", base, i), FirstName: "User"})
		r.Chats = append(r.Chats, &tg.Channel{ID: int64(base + i), AccessHash: int64(i), Title: "Chan", Photo: &tg.ChatPhotoEmpty{}, Username: fmt.Sprintf("c%d_%d", base, i)})
	}
	var buf bin.Buffer
	if err := r.Encode(&buf); err != nil {
		b.Fatal(err)
	}
	return buf.Buf
}

// BenchmarkLearnResult: entities/s learned from encoded results of 200
// entities each (decode included), every entity new, into a bbolt file.
func BenchmarkLearnResult(b *testing.B) {
	c, err := Open(Config{Path: filepath.Join(b.TempDir(), "e.db")})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	m, err := tl.Method("messages.getHistory")
	if err != nil {
		b.Fatal(err)
	}
	bodies := make([][]byte, 0, 64)
	for i := range 64 {
		bodies = append(bodies, bigResult(b, i*1000))
	}
	b.ResetTimer()
	start := time.Now()
	n := 0
	for i := 0; b.Loop(); i++ {
		c.learnResult(learnItem{method: m, body: bodies[i%len(bodies)]})
		n += 200
	}
	if err := c.Flush(); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(n)/time.Since(start).Seconds(), "entities/s")
}

var entities = flag.Int("entities", 10_000, "entities in BenchmarkStore (the note's figure uses 1000000)")

// BenchmarkStore writes -entities users with usernames to a bbolt file in
// batches of 10,000, then reports the file size and how long opening it and
// one cold lookup take.
//
//	go test -run XXX -bench Store -benchtime 1x ./entitycache -args -entities 1000000
func BenchmarkStore(b *testing.B) {
	for b.Loop() {
		path := filepath.Join(b.TempDir(), "e.db")
		s, err := OpenBolt(path)
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		for i := 0; i < *entities; i += 10_000 {
			var batch Batch
			for j := i; j < min(i+10_000, *entities); j++ {
				batch.Put = append(batch.Put, Entity{Kind: User, ID: int64(j + 1), AccessHash: int64(j) * 7919, Usernames: []string{fmt.Sprintf("user%07d", j)}})
			}
			if err := s.Write(batch); err != nil {
				b.Fatal(err)
			}
		}
		write := time.Since(start)
		s.Close()
		fi, _ := os.Stat(path)

		start = time.Now()
		c, err := Open(Config{Path: path})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := c.Resolve(context.Background(), "InputPeer", fmt.Sprintf("@user%07d", *entities/2)); err != nil {
			b.Fatal(err)
		}
		open := time.Since(start)
		c.Close()
		b.ReportMetric(float64(*entities), "entities")
		b.ReportMetric(float64(fi.Size())/float64(*entities), "bytes/entity")
		b.ReportMetric(float64(fi.Size())/(1<<20), "MiB")
		b.ReportMetric(float64(open.Microseconds())/1000, "open+lookup-ms")
		b.ReportMetric(float64(*entities)/write.Seconds(), "written-entities/s")
	}
}
