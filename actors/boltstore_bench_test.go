package actors

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// BenchmarkBoltStoreFleet: 1,000 accounts each save a key and its session
// state (what a key exchange and the first salts cost an account), one
// after another and all at once, into one bbolt file; and, for comparison,
// into a FileStore JSON file per account (the store before issue 18). An
// op is the whole fleet; ns/account, commits (write transactions, each an
// fsync) per account, the file's size and the part of it in use (bbolt
// grows a file ahead of its data) are reported. Compare against a
// baseline with
//
//	go test -run '^$' -bench BoltStoreFleet -benchtime 3x -count 5 ./actors > new.txt
//	benchstat old.txt new.txt
func BenchmarkBoltStoreFleet(b *testing.B) {
	const accounts = 1000
	st := SessionState{Salt: 2, TimeOffset: time.Second}
	save := func(s interface {
		Store
		SessionStore
	}, i int) error {
		k := testKey(byte(i))
		key := toAuthKey(k[:])
		if err := s.Save("2@telegram", key, 1); err != nil {
			return err
		}
		return s.SaveSession("2@telegram", key.ID, st)
	}
	for _, concurrent := range []bool{false, true} {
		name := "bolt/sequential"
		if concurrent {
			name = "bolt/concurrent"
		}
		b.Run(name, func(b *testing.B) {
			var commits, size, used int64
			for range b.N {
				b.StopTimer()
				path := filepath.Join(b.TempDir(), "fleet.db")
				db := openBolt(b, path)
				stores := make([]*BoltStore, accounts)
				for i := range stores {
					stores[i] = db.Account(fmt.Sprint("bot", i))
				}
				before := db.f.commits.Load()
				b.StartTimer()
				if concurrent {
					var wg sync.WaitGroup
					for i, s := range stores {
						wg.Add(1)
						go func() {
							defer wg.Done()
							if err := save(s, i); err != nil {
								b.Error(err)
							}
						}()
					}
					wg.Wait()
				} else {
					for i, s := range stores {
						if err := save(s, i); err != nil {
							b.Fatal(err)
						}
					}
				}
				b.StopTimer()
				commits += db.f.commits.Load() - before
				must(b, db.f.db.View(func(tx *bolt.Tx) error { used = tx.Size(); return nil }))
				must(b, db.Close())
				fi, err := os.Stat(path)
				if err != nil {
					b.Fatal(err)
				}
				size = fi.Size()
				b.StartTimer()
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*accounts), "ns/account")
			b.ReportMetric(float64(commits)/float64(b.N*accounts), "commits/account")
			b.ReportMetric(float64(size)/1024, "KiB-file")
			b.ReportMetric(float64(used)/1024, "KiB-used")
		})
	}
	b.Run("json-file-per-account/sequential", func(b *testing.B) {
		var size int64
		for range b.N {
			b.StopTimer()
			dir := b.TempDir()
			b.StartTimer()
			for i := range accounts {
				if err := save(&FileStore{Path: filepath.Join(dir, fmt.Sprint("bot", i, ".json"))}, i); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			size = 0
			entries, _ := os.ReadDir(dir)
			for _, e := range entries {
				if fi, err := e.Info(); err == nil {
					size += fi.Size()
				}
			}
			b.StartTimer()
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*accounts), "ns/account")
		b.ReportMetric(float64(size)/1024, "KiB-file")
	})
}
