package actors

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/gotd/td/crypto"
	bolt "go.etcd.io/bbolt"
)

// Migration of FileStore's JSON files (every release before issue 18) into
// the bbolt store. Each record of the JSON map goes where the bbolt layout
// keeps it (boltdb.go): "dh-prime:…" records to the shared primes, "home-dc"
// to the account's home DC, "pacing-limits" to its limits, and every other
// record is a DC's key with its session state, under the same name: the
// names of today ("2@telegram", "2@keys-…") and those from before issue 21
// ("2@149.154.167.51:443") alike, which loadKey (storenames.go) still copies
// to today's name on first use. (TestMigrateFileStore)

// MigrateFileStore imports the FileStore JSON file at jsonPath into dst's
// account, in one transaction; records dst already has are kept. The JSON
// file is only read. A file that does not parse, or holds a key of the
// wrong length, is an error and nothing is imported. It returns how many
// records were imported.
func MigrateFileStore(jsonPath string, dst *BoltStore) (int, error) {
	keys, err := (&FileStore{Path: jsonPath}).readAll()
	if err != nil {
		return 0, err
	}
	if err := checkRecords(jsonPath, keys); err != nil {
		return 0, err
	}
	n := 0
	err = dst.f.update(func(tx *bolt.Tx) error {
		var err error
		n, err = importRecords(tx, dst, keys)
		return err
	})
	return n, err
}

// readAll reads the whole file; a missing file is an error, unlike read.
func (f *FileStore) readAll() (map[string]savedKey, error) {
	if _, err := os.Stat(f.Path); err != nil {
		return nil, fmt.Errorf("key store %s: %w", f.Path, err)
	}
	return f.read()
}

// checkRecords refuses a file with a DC key of the wrong length, as
// FileStore.Load would.
func checkRecords(path string, keys map[string]savedKey) error {
	for name, k := range keys {
		if !isSpecialRecord(name) && len(k.Key) != len(crypto.Key{}) {
			return fmt.Errorf("key store %s: dc %s key has %d bytes, want %d", path, name, len(k.Key), len(crypto.Key{}))
		}
	}
	return nil
}

func isSpecialRecord(name string) bool {
	return strings.HasPrefix(name, primeEntry) || name == homeDCEntry || name == limitsEntry
}

// importRecords writes keys into dst's account in tx, keeping what it has.
func importRecords(tx *bolt.Tx, dst *BoltStore, keys map[string]savedKey) (int, error) {
	n := 0
	put := func(b *bolt.Bucket, k, v []byte) error {
		if b.Get(k) != nil {
			return nil
		}
		n++
		return b.Put(k, v)
	}
	for name, k := range keys {
		switch {
		case strings.HasPrefix(name, primeEntry):
			h := sha256.Sum256(k.Key)
			if err := put(tx.Bucket(bktPrimes), h[:], k.Key); err != nil {
				return n, err
			}
		case name == homeDCEntry:
			if k.HomeDC == "" {
				continue
			}
			b, err := dst.createBucket(tx, bktHomeDC)
			if err != nil {
				return n, err
			}
			if err := put(b, homeDCKey, []byte(k.HomeDC)); err != nil {
				return n, err
			}
		case name == limitsEntry:
			if len(k.Limits) == 0 {
				continue
			}
			b, err := dst.createBucket(tx, bktLimits)
			if err != nil {
				return n, err
			}
			if b.Stats().KeyN > 0 {
				continue // the account's own limits
			}
			for key, v := range k.Limits {
				var buf [8]byte
				binary.BigEndian.PutUint64(buf[:], math.Float64bits(v))
				if err := b.Put([]byte(key), buf[:]); err != nil {
					return n, err
				}
			}
			n++
		default:
			kb, err := dst.createBucket(tx, bktKeys)
			if err != nil {
				return n, err
			}
			if kb.Get([]byte(name)) != nil {
				continue
			}
			sb, err := dst.createBucket(tx, bktSessions)
			if err != nil {
				return n, err
			}
			key := toAuthKey(k.Key)
			rec, err := json.Marshal(newSessionRecord(key.ID, k.session()))
			if err != nil {
				return n, err
			}
			if err := put(kb, []byte(name), append([]byte(nil), k.Key...)); err != nil {
				return n, err
			}
			if err := sb.Put([]byte(name), rec); err != nil {
				return n, err
			}
		}
	}
	return n, nil
}

// migrateJSONFile turns the FileStore JSON file at path into a bbolt store
// at the same path, its records the DefaultAccount's, and keeps the JSON
// as path+".bak" (an earlier release can be pointed at that copy). The
// bbolt file is built beside it and renamed over it only when complete,
// so a crash on the way leaves the JSON file in place and the next open
// migrates again. A JSON file that does not parse is left as it is.
func migrateJSONFile(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("key store %s: %w", path, err)
	}
	keys := map[string]savedKey{}
	if err := json.Unmarshal(data, &keys); err != nil {
		return fmt.Errorf("key store %s is corrupt or not ours: %w", path, err)
	}
	if err := checkRecords(path, keys); err != nil {
		return err
	}
	tmp := path + ".migrating"
	if err := os.Remove(tmp); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("key store %s: %w", path, err)
	}
	db, err := bolt.Open(tmp, 0o600, &bolt.Options{Timeout: boltLockTimeout})
	if err != nil {
		return fmt.Errorf("key store %s: migrating to bbolt: %w", path, err)
	}
	if err := initBolt(db, tmp); err != nil {
		db.Close()
		os.Remove(tmp)
		return err
	}
	dst := &BoltStore{f: &boltFile{path: path, db: db}, account: []byte(DefaultAccount)}
	err = db.Update(func(tx *bolt.Tx) error {
		_, err := importRecords(tx, dst, keys)
		return err
	})
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("key store %s: migrating to bbolt: %w", path, err)
	}
	if err := writeFileSync(path+".bak", data); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("key store %s: keeping the JSON file: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("key store %s: %w", path, err)
	}
	// The rename is durable once the directory is synced; if that fails,
	// a crash may bring the JSON back, which the next open migrates again.
	if dir, err := os.Open(filepath.Dir(path)); err == nil {
		_ = dir.Sync()
		dir.Close()
	}
	return nil
}

// writeFileSync writes data to path (0600) and syncs it.
func writeFileSync(path string, data []byte) error {
	fh, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := fh.Write(data); err != nil {
		fh.Close()
		return err
	}
	if err := fh.Sync(); err != nil {
		fh.Close()
		return err
	}
	return fh.Close()
}
