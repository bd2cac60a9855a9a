package actors

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/gotd/td/crypto"
)

// Store keeps each DC's auth key and salt across restarts. Implementations
// must be safe for concurrent use and must never log key material.
type Store interface {
	// Load returns the saved key for a DC ("2@149.154.167.51:443": id and
	// address); ok is false if there is none.
	Load(dc string) (key crypto.AuthKey, salt int64, ok bool, err error)
	// Save records a DC's key.
	Save(dc string, key crypto.AuthKey, salt int64) error
}

type savedKey struct {
	Key  []byte `json:"key"`
	Salt int64  `json:"salt"`
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

func toAuthKey(b []byte) crypto.AuthKey {
	var k crypto.Key
	copy(k[:], b)
	return k.WithID()
}

// DefaultStorePath is where Start keeps auth keys when Config.Store is nil:
// tlsched/auth-keys.json in the user's configuration directory.
func DefaultStorePath() (string, error) {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "tlsched", "auth-keys.json"), nil
}

// FileStore keeps keys in one JSON file, written with 0600 permissions
// through a temporary file and a rename; its directory is created 0700.
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
