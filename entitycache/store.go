package entitycache

import (
	"maps"
	"sync"
)

// Store keeps entities and the username and phone mappings. The Cache is
// its only writer and serialises writes; reads may run concurrently.
type Store interface {
	// Get returns the entity k, if stored.
	Get(k Key) (Entity, bool, error)
	// Username returns the key a username (lowercased) maps to.
	Username(name string) (Key, bool, error)
	// Phone returns the key a phone number (digits) maps to.
	Phone(phone string) (Key, bool, error)
	// Write applies a batch atomically.
	Write(b Batch) error
	// Len is the number of entities stored.
	Len() (int, error)
	// Account is the account the store is bound to; ok is false if none.
	Account() (a Account, ok bool, err error)
	// BindAccount binds the store to a (replacing what it held).
	BindAccount(a Account) error
	// Close releases the store.
	Close() error
}

// Batch is a set of changes written together: one transaction, one fsync.
type Batch struct {
	Put           []Entity // entities and their username/phone mappings
	DropUsernames []string // mappings that no longer hold
	DropPhones    []string
}

func (b *Batch) empty() bool {
	return len(b.Put) == 0 && len(b.DropUsernames) == 0 && len(b.DropPhones) == 0
}

// MemoryStore is a Store in memory, for tests and short-lived programs.
type MemoryStore struct {
	mu        sync.RWMutex
	entities  map[Key]Entity
	usernames map[string]Key
	phones    map[string]Key
	writes    int
	account   *Account
}

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore() *MemoryStore {
	return &MemoryStore{entities: map[Key]Entity{}, usernames: map[string]Key{}, phones: map[string]Key{}}
}

func (m *MemoryStore) Get(k Key) (Entity, bool, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	e, ok := m.entities[k]
	return e, ok, nil
}

func (m *MemoryStore) Username(name string) (Key, bool, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	k, ok := m.usernames[name]
	return k, ok, nil
}

func (m *MemoryStore) Phone(phone string) (Key, bool, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	k, ok := m.phones[phone]
	return k, ok, nil
}

func (m *MemoryStore) Write(b Batch) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.writes++
	for _, n := range b.DropUsernames {
		delete(m.usernames, n)
	}
	for _, p := range b.DropPhones {
		delete(m.phones, p)
	}
	for _, e := range b.Put {
		m.entities[e.Key()] = e
		for _, n := range e.Usernames {
			m.usernames[n] = e.Key()
		}
		if e.Phone != "" {
			m.phones[e.Phone] = e.Key()
		}
	}
	return nil
}

func (m *MemoryStore) Len() (int, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return len(m.entities), nil
}

// Writes counts the batches written (each would be one transaction on disk).
func (m *MemoryStore) Writes() int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.writes
}

func (m *MemoryStore) Close() error { return nil }

func (m *MemoryStore) Account() (Account, bool, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.account == nil {
		return Account{}, false, nil
	}
	return *m.account, true, nil
}

func (m *MemoryStore) BindAccount(a Account) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	a.DCs = maps.Clone(a.DCs)
	m.account = &a
	return nil
}
