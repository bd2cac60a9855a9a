package actors

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// The bbolt store: one file, many accounts (the store contract in
// ARCHITECTURE.md). Its layout, version 1:
//
//	meta                   format "tlsched-keys", version "1"
//	primes                 verified DH primes, shared by every account
//	accounts/NAME/keys     DC name → the 256-byte auth key
//	accounts/NAME/sessions DC name → JSON: the key's id, salt, future salts, time offset
//	accounts/NAME/limits   pacing key → float64 bits (big-endian)
//	accounts/NAME/homedc   "dc" → the home DC's name
//	accounts/NAME/ext/B    bucket B of another package's records for the
//	                       account (BoltStore.Bucket); the entity cache's is
//	                       ext/entitycache (entitycache.OpenBucketStore)
//	accounts/NAME/login    "account" → JSON: who the home DC's key is logged in as, the DC, the key's id
//
// DC names are those of storenames.go. A file of a newer version is
// refused (*StoreVersionError), never written. Writes from every account of
// a file are committed together when they come at once (group commit,
// update), so a thousand accounts saving at once do not cost a thousand
// fsyncs (BenchmarkBoltStoreFleet).

// BoltStoreVersion is the version of the bbolt store's format this release
// writes and the newest it opens.
const BoltStoreVersion = 1

// DefaultAccount is the account a session file's keys live under (Config.SessionFile,
// a migrated JSON file, the default store).
const DefaultAccount = "default"

// boltFormat marks a bbolt file as a tlsched key store (an entity cache,
// also bbolt, has a marker of its own).
const boltFormat = "tlsched-keys"

// boltLockTimeout bounds waiting for another process's lock on the file.
const boltLockTimeout = 2 * time.Second

var (
	bktMeta     = []byte("meta")
	bktPrimes   = []byte("primes")
	bktAccounts = []byte("accounts")
	bktKeys     = []byte("keys")
	bktSessions = []byte("sessions")
	bktLimits   = []byte("limits")
	bktHomeDC   = []byte("homedc")
	bktLogin    = []byte("login")
	metaFormat  = []byte("format")
	metaVersion = []byte("version")
	homeDCKey   = []byte("dc")
	loginKey    = []byte("account")
)

// StoreVersionError says a store file was written by a newer release.
type StoreVersionError struct {
	Path    string
	Version int // the file's
}

func (e *StoreVersionError) Error() string {
	return fmt.Sprintf("key store %s has format version %d; this release reads up to %d: use a newer tlsched (the file is left as it is)", e.Path, e.Version, BoltStoreVersion)
}

// ErrStoreInUse is returned (wrapped, naming the file) when another process
// holds a bbolt store's file. Clients of one process share one handle per
// file, so only another process can hold it.
var ErrStoreInUse = errors.New("in use by another process")

// BoltDB is a bbolt key store file holding many accounts (Account). Opened
// with OpenBoltStore; safe for concurrent use. Every BoltDB of one process
// opened on the same path shares one bbolt handle, so many Clients (and
// OpenBoltStore calls) may use one file; the file is closed when the last
// of them is closed.
type BoltDB struct {
	f      *boltFile
	once   sync.Once
	closed error
}

// OpenBoltStore opens the bbolt key store at path, creating it (0600, its
// directory 0700) if it does not exist. A file in today's FileStore JSON
// format is migrated first (migrateJSONFile): its records become the
// DefaultAccount's and the JSON is kept as path+".bak". A file of a newer
// format version is refused with a *StoreVersionError; a bbolt file of
// something else, or one held by another process (ErrStoreInUse, after
// 2 s), is an error naming the path. Nothing refused is written.
func OpenBoltStore(path string) (*BoltDB, error) {
	return openBoltStore(path, boltLockTimeout)
}

// openBoltStore is OpenBoltStore waiting at most timeout for another
// process's lock.
func openBoltStore(path string, timeout time.Duration) (*BoltDB, error) {
	f, err := acquireBolt(path, timeout)
	if err != nil {
		return nil, err
	}
	return &BoltDB{f: f}, nil
}

// Account returns the store of one account of the file: its keys, sessions,
// home DC and limits are its own, apart from every other account's. The
// verified DH primes (PrimeStore) are shared by all accounts of the file:
// they are public numbers, safe whoever sent them (mtproto.PrimeCache).
// An empty name is DefaultAccount. The account's buckets are made on its
// first write; reading an account that never wrote finds nothing.
func (db *BoltDB) Account(name string) *BoltStore {
	if name == "" {
		name = DefaultAccount
	}
	return &BoltStore{f: db.f, account: []byte(name)}
}

// Accounts lists the accounts that have written anything, sorted.
func (db *BoltDB) Accounts() ([]string, error) {
	var out []string
	err := db.f.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bktAccounts).ForEachBucket(func(k []byte) error {
			out = append(out, string(k))
			return nil
		})
	})
	return out, err
}

// DeleteAccount removes an account and everything it kept (keys,
// sessions, home DC, limits, login, and its buckets of other packages'
// records, BoltStore.Bucket: its entity cache); the file's shared primes stay. Removing an
// account that is not there is not an error. A Client still using the
// account's store would write it anew.
func (db *BoltDB) DeleteAccount(name string) error {
	if name == "" {
		name = DefaultAccount
	}
	return db.f.update(func(tx *bolt.Tx) error {
		err := tx.Bucket(bktAccounts).DeleteBucket([]byte(name))
		if errors.Is(err, bolterrors.ErrBucketNotFound) {
			return nil
		}
		return err
	})
}

// Path is the file's path.
func (db *BoltDB) Path() string { return db.f.path }

// Close releases this handle; the file closes when the process's last
// handle on it is released. Stores of its accounts fail after that. Close
// is idempotent.
func (db *BoltDB) Close() error {
	db.once.Do(func() { db.closed = db.f.release() })
	return db.closed
}

// boltFile is one open bbolt file, shared by the process's handles on it.
type boltFile struct {
	path string
	key  string // its key in boltFiles
	db   *bolt.DB
	refs int // guarded by boltFiles.mu

	// Group commit (update): ops waiting for a transaction, and whether
	// one goroutine is committing.
	mu         sync.Mutex
	pending    []*boltOp
	committing bool
	// commits counts write transactions (BenchmarkBoltStoreFleet).
	commits atomic.Int64
}

var boltFiles = struct {
	mu   sync.Mutex
	open map[string]*boltFile
}{open: map[string]*boltFile{}}

// acquireBolt returns the process's handle on path, opening it first if
// needed.
func acquireBolt(path string, timeout time.Duration) (*boltFile, error) {
	key, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("key store %s: %w", path, err)
	}
	boltFiles.mu.Lock()
	defer boltFiles.mu.Unlock()
	if f := boltFiles.open[key]; f != nil {
		f.refs++
		return f, nil
	}
	db, err := openBoltFile(path, timeout)
	if err != nil {
		return nil, err
	}
	f := &boltFile{path: path, key: key, db: db, refs: 1}
	boltFiles.open[key] = f
	return f, nil
}

// release drops one reference, closing the file with the last.
func (f *boltFile) release() error {
	boltFiles.mu.Lock()
	defer boltFiles.mu.Unlock()
	f.refs--
	if f.refs > 0 {
		return nil
	}
	delete(boltFiles.open, f.key)
	return f.db.Close()
}

// openBoltFile opens path as a key store of this format, migrating a JSON
// file first.
func openBoltFile(path string, timeout time.Duration) (*bolt.DB, error) {
	isJSON, err := isJSONFile(path)
	if err != nil {
		return nil, fmt.Errorf("key store %s: %w", path, err)
	}
	if isJSON {
		if err := migrateJSONFile(path); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("key store %s: %w", path, err)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: timeout})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("key store %s: %w (give each process its own file, or run the accounts in one process)", path, ErrStoreInUse)
	}
	if err != nil {
		return nil, fmt.Errorf("key store %s is not a tlsched key store or is damaged: %w", path, err)
	}
	if err := initBolt(db, path); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// initBolt checks the file's marker and version, and creates what a new
// file lacks. A file that is complete is only read.
func initBolt(db *bolt.DB, path string) error {
	ready := false
	err := db.View(func(tx *bolt.Tx) error {
		var err error
		ready, err = checkMeta(tx, path)
		return err
	})
	if err != nil || ready {
		return err
	}
	return db.Update(func(tx *bolt.Tx) error {
		if ok, err := checkMeta(tx, path); err != nil || ok {
			return err
		}
		meta, err := tx.CreateBucketIfNotExists(bktMeta)
		if err != nil {
			return err
		}
		if err := meta.Put(metaFormat, []byte(boltFormat)); err != nil {
			return err
		}
		if err := meta.Put(metaVersion, []byte(strconv.Itoa(BoltStoreVersion))); err != nil {
			return err
		}
		for _, b := range [][]byte{bktPrimes, bktAccounts} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
}

// checkMeta reports whether tx holds a complete key store of a version this
// release reads; an empty file is not an error (it is new), a file of
// something else or of a newer version is.
func checkMeta(tx *bolt.Tx, path string) (bool, error) {
	meta := tx.Bucket(bktMeta)
	if meta == nil {
		n := 0
		_ = tx.ForEach(func([]byte, *bolt.Bucket) error { n++; return nil })
		if n > 0 {
			return false, fmt.Errorf("key store %s is a bbolt database of something else (no tlsched key store marker); it is left as it is", path)
		}
		return false, nil
	}
	if f := meta.Get(metaFormat); !bytes.Equal(f, []byte(boltFormat)) {
		return false, fmt.Errorf("key store %s is a bbolt database of something else (format %q, want %q); it is left as it is", path, f, boltFormat)
	}
	v, err := strconv.Atoi(string(meta.Get(metaVersion)))
	if err != nil || v < 1 {
		return false, fmt.Errorf("key store %s: damaged version %q", path, meta.Get(metaVersion))
	}
	if v > BoltStoreVersion {
		return false, &StoreVersionError{Path: path, Version: v}
	}
	return tx.Bucket(bktPrimes) != nil && tx.Bucket(bktAccounts) != nil, nil
}

// isJSONFile reports whether path holds a JSON object (a FileStore file):
// its first byte other than white space is '{'. bbolt files start with a
// binary page header, never with that.
func isJSONFile(path string) (bool, error) {
	fh, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer fh.Close()
	buf := make([]byte, 512)
	n, _ := fh.Read(buf)
	b := bytes.TrimLeft(buf[:n], " \t\r\n")
	return len(b) > 0 && b[0] == '{', nil
}

// boltOp is one write waiting for a transaction.
type boltOp struct {
	fn   func(*bolt.Tx) error
	done chan error
}

// errLead tells a waiting op's goroutine to commit the next batch.
var errLead = errors.New("lead")

// update runs fn in a write transaction, together with the writes of other
// goroutines that came while the one before was committing: one
// transaction (one fsync) for all of them. A lone write commits at once,
// without waiting for company. fn may run more than once (when another
// write of its batch fails, the rest are committed again without it), so
// it must be idempotent, as puts are. (bbolt's own DB.Batch coalesces too,
// but a lone write waits MaxBatchDelay, 10 ms, for company; a DC actor's
// save would wait that long on every key exchange and salt refresh.)
func (f *boltFile) update(fn func(*bolt.Tx) error) error {
	op := &boltOp{fn: fn, done: make(chan error, 1)}
	f.mu.Lock()
	f.pending = append(f.pending, op)
	if f.committing {
		f.mu.Unlock()
		if err := <-op.done; err != errLead {
			return err
		}
		f.mu.Lock()
	}
	// This goroutine commits what is pending (its own op among it), then
	// hands the next batch to one of its writers.
	f.committing = true
	batch := f.pending
	f.pending = nil
	f.mu.Unlock()
	f.commit(batch)
	f.mu.Lock()
	if len(f.pending) > 0 {
		f.pending[0].done <- errLead
	} else {
		f.committing = false
	}
	f.mu.Unlock()
	return <-op.done
}

// commit runs batch in one transaction and tells each op its outcome. An op
// that fails is dropped with its error and the rest run again.
func (f *boltFile) commit(batch []*boltOp) {
	for len(batch) > 0 {
		failed, ferr := -1, error(nil)
		f.commits.Add(1)
		err := f.db.Update(func(tx *bolt.Tx) error {
			for i, op := range batch {
				if err := op.fn(tx); err != nil {
					failed, ferr = i, err
					return err
				}
			}
			return nil
		})
		if failed < 0 {
			for _, op := range batch {
				op.done <- err
			}
			return
		}
		batch[failed].done <- ferr
		rest := make([]*boltOp, 0, len(batch)-1)
		rest = append(rest, batch[:failed]...)
		batch = append(rest, batch[failed+1:]...)
	}
}
