package actors

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/gotd/td/crypto"

	"github.com/tlsched/tlsched/mtproto"
)

// Store keeps each DC's auth key and salt across restarts. Implementations
// must be safe for concurrent use and must never log key material.
type Store interface {
	// Load returns the saved key for a DC ("2@telegram", "2@keys-…": its
	// id and the server's identity, storenames.go); ok is false if there
	// is none.
	Load(dc string) (key crypto.AuthKey, salt int64, ok bool, err error)
	// Save records a DC's key.
	Save(dc string, key crypto.AuthKey, salt int64) error
}

// PrimeStore is implemented by a Store that also keeps the Diffie-Hellman
// primes that passed the full safe-prime check of a key exchange, so that a
// later process skips that check (about 0.3 s of CPU per exchange; see
// mtproto.PrimeCache). Start loads them once and saves each newly verified
// one. Primes are public numbers, not key material.
type PrimeStore interface {
	// LoadPrimes returns every saved prime (big-endian bytes).
	LoadPrimes() ([][]byte, error)
	// SavePrime records a verified prime; saving one twice is a no-op.
	SavePrime(prime []byte) error
}

// SessionStore is implemented by a Store that also keeps, with each DC's
// key, what lets the next connection or process go on without a round
// trip: the server's future salts (no bad_server_salt) and the time offset
// (no bad_msg_notification 16/17 on a skewed clock). Salts are valid for
// one key only, so SaveSession writes nothing when the stored key is not
// the one named. The DC actor saves it when it learns salts and when a
// connection ends; it is not key material, but it is kept beside it.
type SessionStore interface {
	// LoadSession returns the state saved with the DC's key keyID; ok is
	// false if there is none.
	LoadSession(dc string, keyID [8]byte) (st SessionState, ok bool, err error)
	// SaveSession records the state of the DC's key keyID, if that is the
	// key stored.
	SaveSession(dc string, keyID [8]byte, st SessionState) error
}

// HomeDCStore is implemented by a Store that also keeps the account's home
// DC, where calls without a DC go: the scheduler learns it from
// USER_MIGRATE_X (and PHONE_, NETWORK_), and a later process that did not
// keep it would send its first calls to DC 2, where a key of an account
// living elsewhere gets AUTH_KEY_UNREGISTERED. The DC is named as Load
// names DCs ("4@telegram"), so a home DC of other servers is not
// taken. Start loads it when Config.Scheduler.HomeDC is not set; the
// scheduler actor saves it when it changes (homedc.go).
type HomeDCStore interface {
	// LoadHomeDC returns the saved home DC; ok is false if there is none.
	LoadHomeDC() (dc string, ok bool, err error)
	// SaveHomeDC records the home DC.
	SaveHomeDC(dc string) error
}

// LimitsStore is implemented by a Store that also keeps the flood limits
// the scheduler's pacer learned (scheduler.State.Limits: calls per second
// by key), so that the next process starts where this one ended instead
// of flooding again. The scheduler actor loads them at start and saves
// them when the pacer cuts or raises a rate, and when it stops.
type LimitsStore interface {
	// LoadLimits returns the saved limits; nil if there are none.
	LoadLimits() (map[string]float64, error)
	// SaveLimits records the limits.
	SaveLimits(limits map[string]float64) error
}

// LoginStore is implemented by a Store that also remembers who the
// account's key is logged in as, so that Fleet.LoginAll skips an account
// that is logged in already instead of spending a login (and a slot of
// the server's login budget) on it. The record belongs to one key: it
// names the DC and the id of the key stored for it when Login saved it,
// and it no longer counts once that DC's key is replaced (a new key is
// not logged in). A server that revoked the key's authorization is not
// seen here: the account's calls then fail with AUTH_KEY_UNREGISTERED,
// and Fleet.Login (or Client.Login) logs it in again.
type LoginStore interface {
	// LoadLogin returns the account the stored key of its home DC is
	// logged in as; ok is false if there is none, or if that DC's key is
	// not the one that logged in.
	LoadLogin() (acc Account, ok bool, err error)
	// SaveLogin records that the key stored for dc is logged in as acc.
	SaveLogin(dc string, acc Account) error
}

// SessionState is what a SessionStore keeps with a key.
type SessionState struct {
	// Salt is the salt in use.
	Salt int64
	// FutureSalts are the salts the server announced (get_future_salts).
	FutureSalts []mtproto.ServerSalt
	// TimeOffset is the server's clock minus ours.
	TimeOffset time.Duration
}

func (k savedKey) session() SessionState {
	st := SessionState{Salt: k.Salt, TimeOffset: time.Duration(k.TimeOffsetMS) * time.Millisecond}
	for _, s := range k.Salts {
		st.FutureSalts = append(st.FutureSalts, mtproto.ServerSalt{Salt: s.Salt, ValidSince: time.Unix(s.ValidSince, 0), ValidUntil: time.Unix(s.ValidUntil, 0)})
	}
	return st
}

func (k *savedKey) setSession(st SessionState) {
	k.Salt = st.Salt
	k.TimeOffsetMS = st.TimeOffset.Milliseconds()
	k.Salts = k.Salts[:0]
	for _, s := range st.FutureSalts {
		k.Salts = append(k.Salts, savedSalt{Salt: s.Salt, ValidSince: s.ValidSince.Unix(), ValidUntil: s.ValidUntil.Unix()})
	}
}

// sameKey reports whether a record holds the key keyID.
func (k savedKey) sameKey(keyID [8]byte) bool {
	return len(k.Key) == len(crypto.Key{}) && toAuthKey(k.Key).ID == keyID
}

// primeEntry names a prime's record in a store keyed by DC names: a prefix
// no DC name has ("ID@host:port") and a hash of the prime.
const primeEntry = "dh-prime:"

// homeDCEntry names the home DC's record (HomeDCStore): no DC name looks
// like it, and files written before it existed lack it.
const homeDCEntry = "home-dc"

// limitsEntry names the learned limits' record (LimitsStore).
const limitsEntry = "pacing-limits"

func primeName(p []byte) string {
	h := sha256.Sum256(p)
	return primeEntry + hex.EncodeToString(h[:8])
}

type savedKey struct {
	Key  []byte `json:"key"`
	Salt int64  `json:"salt"`
	// The session state kept with the key (SessionStore); absent in files
	// written before it existed.
	TimeOffsetMS int64       `json:"time_offset_ms,omitempty"`
	Salts        []savedSalt `json:"salts,omitempty"`
	// HomeDC is set in the homeDCEntry record only (HomeDCStore).
	HomeDC string `json:"home_dc,omitempty"`
	// Limits is set in the limitsEntry record only (LimitsStore).
	Limits map[string]float64 `json:"limits,omitempty"`
}

type savedSalt struct {
	Salt       int64 `json:"salt"`
	ValidSince int64 `json:"valid_since"` // unix seconds, server time
	ValidUntil int64 `json:"valid_until"`
}

// MemoryStore keeps keys in memory only.
type MemoryStore struct {
	mu   sync.Mutex
	keys map[string]savedKey
}

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore() *MemoryStore { return &MemoryStore{keys: map[string]savedKey{}} }

// Load implements Store.
func (m *MemoryStore) Load(dc string) (crypto.AuthKey, int64, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	k, ok := m.keys[dc]
	if !ok {
		return crypto.AuthKey{}, 0, false, nil
	}
	return toAuthKey(k.Key), k.Salt, true, nil
}

// Save implements Store.
func (m *MemoryStore) Save(dc string, key crypto.AuthKey, salt int64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.keys[dc] = savedKey{Key: append([]byte(nil), key.Value[:]...), Salt: salt}
	return nil
}

// LoadSession implements SessionStore.
func (m *MemoryStore) LoadSession(dc string, keyID [8]byte) (SessionState, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	k, ok := m.keys[dc]
	if !ok || !k.sameKey(keyID) {
		return SessionState{}, false, nil
	}
	return k.session(), true, nil
}

// SaveSession implements SessionStore.
func (m *MemoryStore) SaveSession(dc string, keyID [8]byte, st SessionState) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	k, ok := m.keys[dc]
	if !ok || !k.sameKey(keyID) {
		return nil
	}
	k.setSession(st)
	m.keys[dc] = k
	return nil
}

// LoadHomeDC implements HomeDCStore.
func (m *MemoryStore) LoadHomeDC() (string, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	k, ok := m.keys[homeDCEntry]
	return k.HomeDC, ok && k.HomeDC != "", nil
}

// SaveHomeDC implements HomeDCStore.
func (m *MemoryStore) SaveHomeDC(dc string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.keys[homeDCEntry] = savedKey{HomeDC: dc}
	return nil
}

// LoadLimits implements LimitsStore.
func (m *MemoryStore) LoadLimits() (map[string]float64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return maps.Clone(m.keys[limitsEntry].Limits), nil
}

// SaveLimits implements LimitsStore.
func (m *MemoryStore) SaveLimits(limits map[string]float64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.keys[limitsEntry] = savedKey{Limits: maps.Clone(limits)}
	return nil
}

// LoadPrimes implements PrimeStore.
func (m *MemoryStore) LoadPrimes() ([][]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return primesOf(m.keys), nil
}

// SavePrime implements PrimeStore.
func (m *MemoryStore) SavePrime(p []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.keys[primeName(p)] = savedKey{Key: append([]byte(nil), p...)}
	return nil
}

// primesOf returns the primes among a store's records.
func primesOf(keys map[string]savedKey) [][]byte {
	var out [][]byte
	for name, k := range keys {
		if strings.HasPrefix(name, primeEntry) {
			out = append(out, append([]byte(nil), k.Key...))
		}
	}
	return out
}

func toAuthKey(b []byte) crypto.AuthKey {
	var k crypto.Key
	copy(k[:], b)
	return k.WithID()
}

// DefaultStorePath is where Start keeps auth keys when Config.Store and
// Config.SessionFile are not set and the DCs are Telegram's: the bbolt
// store tlsched/auth-keys.db in the user's configuration directory.
// Releases before issue 18 kept them in auth-keys.json beside it
// (legacyDefaultStore), which openDefaultStore imports.
func DefaultStorePath() (string, error) {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "tlsched", "auth-keys.db"), nil
}

// defaultStoreLockTimeout bounds waiting for another process's lock on
// the default store.
const defaultStoreLockTimeout = 200 * time.Millisecond

// legacyDefaultStore is the JSON file DefaultStorePath named before issue 18.
const legacyDefaultStore = "auth-keys.json"

// openDefaultStore opens the DefaultAccount of the bbolt store at
// DefaultStorePath, and returns it with its close function. While the file
// holds no account (it is new, or a crash came before the import), it
// imports auth-keys.json from beside it if there is one (that file is only
// read: an earlier release still finds its keys there). When
// there is no configuration directory or the file cannot be opened
// (another process holds it, a newer release wrote it), the keys are kept
// in memory, with a warning: they cost a key exchange, not a login.
func openDefaultStore(log *slog.Logger) (Store, func() error) {
	path, err := DefaultStorePath()
	if err != nil {
		return NewMemoryStore(), nil
	}
	// Another process holding the default file is common (two tools at
	// once) and costs only key exchanges: wait briefly.
	db, err := openBoltStore(path, defaultStoreLockTimeout)
	if err != nil {
		log.Warn("default key store unusable: keys kept in memory", "err", err)
		return NewMemoryStore(), nil
	}
	s := db.Account(DefaultAccount)
	legacy := filepath.Join(filepath.Dir(path), legacyDefaultStore)
	accounts, _ := db.Accounts()
	if _, err := os.Stat(legacy); err == nil && len(accounts) == 0 {
		if _, err := MigrateFileStore(legacy, s); err != nil {
			log.Warn("import the default key store of an earlier release", "file", legacy, "err", err)
		}
	}
	return s, db.Close
}

// FileStore keeps keys in one JSON file, the format of releases before
// issue 18, rewritten whole on every save and with no account part; the
// default is now the bbolt store (BoltStore), which migrates such files
// (MigrateFileStore). It is written with 0600 permissions
// through a temporary file and a rename; its directory is created 0700.
// It implements PrimeStore: verified DH primes are records of the same map,
// named "dh-prime:" and a hash, so files stay readable by earlier versions;
// so is the home DC (HomeDCStore), a record named "home-dc".
type FileStore struct {
	Path string
	mu   sync.Mutex
}

// Load implements Store.
func (f *FileStore) Load(dc string) (crypto.AuthKey, int64, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	keys, err := f.read()
	if err != nil {
		return crypto.AuthKey{}, 0, false, err
	}
	k, ok := keys[dc]
	if !ok {
		return crypto.AuthKey{}, 0, false, nil
	}
	if len(k.Key) != len(crypto.Key{}) {
		return crypto.AuthKey{}, 0, false, fmt.Errorf("key store %s: dc %s key has %d bytes, want %d", f.Path, dc, len(k.Key), len(crypto.Key{}))
	}
	return toAuthKey(k.Key), k.Salt, true, nil
}

// Save implements Store.
func (f *FileStore) Save(dc string, key crypto.AuthKey, salt int64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	keys, err := f.read()
	if err != nil {
		return err
	}
	keys[dc] = savedKey{Key: append([]byte(nil), key.Value[:]...), Salt: salt}
	return f.write(keys)
}

// LoadSession implements SessionStore.
func (f *FileStore) LoadSession(dc string, keyID [8]byte) (SessionState, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	keys, err := f.read()
	if err != nil {
		return SessionState{}, false, err
	}
	k, ok := keys[dc]
	if !ok || !k.sameKey(keyID) {
		return SessionState{}, false, nil
	}
	return k.session(), true, nil
}

// SaveSession implements SessionStore. The file is rewritten only when the
// state changed.
func (f *FileStore) SaveSession(dc string, keyID [8]byte, st SessionState) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	keys, err := f.read()
	if err != nil {
		return err
	}
	k, ok := keys[dc]
	if !ok || !k.sameKey(keyID) {
		return nil
	}
	before, _ := json.Marshal(k)
	k.setSession(st)
	if after, _ := json.Marshal(k); string(before) == string(after) {
		return nil
	}
	keys[dc] = k
	return f.write(keys)
}

// LoadLimits implements LimitsStore.
func (f *FileStore) LoadLimits() (map[string]float64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	keys, err := f.read()
	if err != nil {
		return nil, err
	}
	return keys[limitsEntry].Limits, nil
}

// SaveLimits implements LimitsStore; the file is rewritten only when the
// limits changed.
func (f *FileStore) SaveLimits(limits map[string]float64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	keys, err := f.read()
	if err != nil {
		return err
	}
	if maps.Equal(keys[limitsEntry].Limits, limits) {
		return nil
	}
	keys[limitsEntry] = savedKey{Limits: maps.Clone(limits)}
	return f.write(keys)
}

// LoadHomeDC implements HomeDCStore.
func (f *FileStore) LoadHomeDC() (string, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	keys, err := f.read()
	if err != nil {
		return "", false, err
	}
	k, ok := keys[homeDCEntry]
	return k.HomeDC, ok && k.HomeDC != "", nil
}

// SaveHomeDC implements HomeDCStore. The file is rewritten only when the
// home DC changed.
func (f *FileStore) SaveHomeDC(dc string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	keys, err := f.read()
	if err != nil {
		return err
	}
	if keys[homeDCEntry].HomeDC == dc {
		return nil
	}
	keys[homeDCEntry] = savedKey{HomeDC: dc}
	return f.write(keys)
}

// LoadPrimes implements PrimeStore.
func (f *FileStore) LoadPrimes() ([][]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	keys, err := f.read()
	if err != nil {
		return nil, err
	}
	return primesOf(keys), nil
}

// SavePrime implements PrimeStore.
func (f *FileStore) SavePrime(p []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	keys, err := f.read()
	if err != nil {
		return err
	}
	name := primeName(p)
	if _, ok := keys[name]; ok {
		return nil
	}
	keys[name] = savedKey{Key: append([]byte(nil), p...)}
	return f.write(keys)
}

// write replaces the file with keys. The caller holds f.mu.
func (f *FileStore) write(keys map[string]savedKey) error {
	data, err := json.Marshal(keys)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(f.Path), 0o700); err != nil {
		return fmt.Errorf("key store %s: %w", f.Path, err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(f.Path), ".tlsched-keys-*")
	if err != nil {
		return fmt.Errorf("key store %s: %w", f.Path, err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("key store %s: %w", f.Path, err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("key store %s: %w", f.Path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("key store %s: %w", f.Path, err)
	}
	if err := os.Rename(tmp.Name(), f.Path); err != nil {
		return fmt.Errorf("key store %s: %w", f.Path, err)
	}
	return nil
}

func (f *FileStore) read() (map[string]savedKey, error) {
	data, err := os.ReadFile(f.Path)
	if errors.Is(err, os.ErrNotExist) {
		return map[string]savedKey{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("key store %s: %w", f.Path, err)
	}
	keys := map[string]savedKey{}
	if err := json.Unmarshal(data, &keys); err != nil {
		// Never overwrite a file we cannot read: it may be someone else's.
		return nil, fmt.Errorf("key store %s is corrupt or not ours: %w", f.Path, err)
	}
	return keys, nil
}
