package entitycache

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gotd/td/bin"
	lru "github.com/hashicorp/golang-lru/v2"
	"golang.org/x/sync/singleflight"

	"github.com/tlsched/tlsched/telemetry"
	"github.com/tlsched/tlsched/tl"
)

// Invoker sends one call; actors.Client satisfies it.
type Invoker interface {
	Invoke(ctx context.Context, req bin.Encoder, res bin.Decoder) error
}

// Config configures a Cache. The zero value keeps everything in memory and
// cannot resolve misses over the network.
type Config struct {
	// Path is the bbolt file to keep entities in (created 0600). Ignored if
	// Store is set. Empty: a MemoryStore. Keep one file per account: access
	// hashes are per account (a Fleet's accounts: ForAccount, one file
	// for all, a namespace each).
	Path string
	// Store overrides Path.
	Store Store
	// Invoker resolves misses over the network. Nil: a miss is a
	// *NotFoundError, unless the cache is attached to a client (Attach),
	// which then resolves them.
	Invoker Invoker
	// MemoryEntries bounds the in-memory layer (entities and names each).
	// Default 100,000.
	MemoryEntries int
	// NegativeTTL is how long "no such username/phone/id" is remembered.
	// Default 1 minute.
	NegativeTTL time.Duration
	// FlushInterval is the longest a learned entity waits before it is
	// written to the Store; writes are batched into one transaction.
	// Default 200 ms.
	FlushInterval time.Duration
	// Now is the clock for NegativeTTL. Default time.Now.
	Now func() time.Time
	// LearnQueueBytes bounds the TL bytes of results waiting to be learned
	// (LearnResult). A result that does not fit is not learned, and counted
	// in Stats.LearnQueueDrops and LearnDroppedBytes. Default 64 MiB.
	LearnQueueBytes int
	// Account, if set, binds the store to an account: a store bound to
	// another one is refused with an *AccountError, and one not bound yet
	// is bound to it. SelfID may be 0: it is then taken from the first
	// learned user marked self, and a self of another id later makes the
	// cache refuse every lookup and write with an *AccountError. Nil: no
	// binding (tests, a store in memory).
	Account *Account
	// Telemetry, if set, reports the drops (telemetry.MetricEntityDropped).
	Telemetry *telemetry.Telemetry
	// MaxUnwritten bounds the entities learned and not yet written while
	// the Store fails. Beyond it, newly learned entities are served from
	// memory but not written (Stats.UnwrittenDrops). Default 200,000.
	MaxUnwritten int
}

// DefaultPath is where tlworker keeps its entity cache:
// $XDG_CONFIG_HOME/tlsched/entities.db (os.UserConfigDir).
func DefaultPath() (string, error) {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "tlsched", "entities.db"), nil
}

// Stats counts what the cache did.
type Stats struct {
	Hits, Misses   int64 // lookups answered from memory or the store / not
	NetworkCalls   int64 // resolve calls sent
	Learned        int64 // entities learned that changed something
	NegativeHits   int64 // lookups answered "not found" from the negative cache
	BatchesWritten int64
	// LearnQueueDrops counts results not learned because the learn queue
	// was full (Config.LearnQueueBytes); LearnDroppedBytes is their size.
	// LearnResult never learns inline: it runs on the scheduler actor.
	LearnQueueDrops   int64
	LearnDroppedBytes int64
	// UnwrittenDrops counts entities learned while the store was failing
	// and the unwritten set was full (Config.MaxUnwritten): kept in memory,
	// never written.
	UnwrittenDrops int64
	Refreshes      int64 // calls retried after an invalid peer
	WriteErrors    int64
}

// Cache resolves and learns entities. Safe for concurrent use.
type Cache struct {
	cfg   Config
	store Store
	ents  *lru.Cache[Key, Entity]
	names *lru.Cache[string, Key]
	phone *lru.Cache[string, Key]
	neg   *lru.Cache[string, time.Time]
	// invites maps invite hashes to the chat messages.checkChatInvite
	// named; kept in memory only (a link can be revoked or reused).
	invites *lru.Cache[string, Key]
	group   singleflight.Group

	// flushMu serialises flushes: one batch is written at a time, so
	// batches commit in the order they were taken and a failed one is put
	// back before the next is taken (two at once lost a batch).
	flushMu  sync.Mutex
	mu       sync.Mutex // learning and the unwritten batch
	dirty    map[Key]Entity
	dropU    map[string]bool
	dropP    map[string]bool
	writing  map[Key]Entity // the batch being written
	writeErr error
	// account is the bound account (nil: none); accountDirty: its SelfID
	// was learned and is not written yet; accountErr: a self of another
	// account was seen, nothing is served or written any more.
	account      *Account
	accountDirty bool
	accountErr   error

	// statsMu guards stats alone, so Stats answers while a learner holds mu
	// (it may be reading a slow store); taken after mu, never before.
	statsMu sync.Mutex
	stats   Stats

	results *learnQueue
	// Counted by LearnResult without c.mu, which a learner may hold while
	// it reads the store.
	queueDrops, queueDroppedBytes atomic.Int64
	// inv resolves misses: Config.Invoker, or the client given to Attach.
	inv atomic.Pointer[Invoker]
	// lastQuiet is quiet's last answer: a sender runs every call on one
	// context, so Invoke need not wrap it once per call.
	lastQuiet atomic.Pointer[quietCtx]
	// detach stops the attached client's results from reaching the cache
	// (Attach); nil when not attached. Guarded by mu.
	detach    func()
	learnDone chan struct{} // closed when learnLoop returns
	stopped   atomic.Bool   // Close has begun: results are no longer learned
	kick      chan struct{}
	done      chan struct{}
	wg        sync.WaitGroup
	closed    bool
}

type learnItem struct {
	method *tl.Definition
	body   []byte
	marker chan struct{} // Settle's: closed when reached
}

// Open makes a Cache. With Config.Path it opens the bbolt file (see
// OpenBolt for its errors). Close flushes and releases it.
func Open(cfg Config) (*Cache, error) {
	if cfg.MemoryEntries <= 0 {
		cfg.MemoryEntries = 100_000
	}
	if cfg.NegativeTTL <= 0 {
		cfg.NegativeTTL = time.Minute
	}
	if cfg.FlushInterval <= 0 {
		cfg.FlushInterval = 200 * time.Millisecond
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.LearnQueueBytes <= 0 {
		cfg.LearnQueueBytes = 64 << 20
	}
	if cfg.MaxUnwritten <= 0 {
		cfg.MaxUnwritten = 200_000
	}
	st := cfg.Store
	if st == nil && cfg.Path != "" {
		if err := os.MkdirAll(filepath.Dir(cfg.Path), 0o700); err != nil {
			return nil, fmt.Errorf("entity cache %s: %w", cfg.Path, err)
		}
		b, err := OpenBolt(cfg.Path)
		if err != nil {
			return nil, err
		}
		st = b
	}
	if st == nil {
		st = NewMemoryStore()
	}
	var account *Account
	if cfg.Account != nil {
		a, err := bindAccount(st, *cfg.Account)
		if err != nil {
			if cfg.Store == nil {
				st.Close()
			}
			return nil, err
		}
		account = &a
	}
	c := &Cache{
		cfg: cfg, store: st, account: account,
		dirty: map[Key]Entity{}, dropU: map[string]bool{}, dropP: map[string]bool{},
		results:   newLearnQueue(cfg.LearnQueueBytes),
		learnDone: make(chan struct{}),
		kick:      make(chan struct{}, 1),
		done:      make(chan struct{}),
	}
	if cfg.Invoker != nil {
		inv := cfg.Invoker
		c.inv.Store(&inv)
	}
	c.ents, _ = lru.New[Key, Entity](cfg.MemoryEntries)
	c.names, _ = lru.New[string, Key](cfg.MemoryEntries)
	c.phone, _ = lru.New[string, Key](cfg.MemoryEntries)
	c.neg, _ = lru.New[string, time.Time](10_000)
	c.invites, _ = lru.New[string, Key](10_000)
	cfg.Telemetry.EntityCache(func() (int64, int64, int64) {
		s := c.Stats()
		return s.LearnQueueDrops, s.LearnDroppedBytes, s.UnwrittenDrops
	})
	c.wg.Add(2)
	go c.learnLoop()
	go c.writeLoop()
	return c, nil
}

// Close learns what is queued, writes everything to the store and closes
// it. It returns the first write error, if any.
func (c *Cache) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	c.stopped.Store(true)
	detach := c.detach
	c.mu.Unlock()
	if detach != nil {
		detach()
	}
	close(c.done)
	c.wg.Wait()
	c.cfg.Telemetry.EntityCache(nil)
	err := c.flush()
	if cerr := c.store.Close(); err == nil {
		err = cerr
	}
	return err
}

// Flush writes what has been learned to the store now.
func (c *Cache) Flush() error { return c.flush() }

// Settle waits until every result queued by LearnResult before the call has
// been learned.
func (c *Cache) Settle(ctx context.Context) error {
	if c.stopped.Load() {
		return errClosed
	}
	m := learnItem{marker: make(chan struct{})}
	c.results.push(m)
	select {
	case <-m.marker:
		return nil
	case <-c.learnDone:
		// Close drained the queue: the marker was reached, or was queued
		// after the last drain.
		select {
		case <-m.marker:
			return nil
		default:
			return errClosed
		}
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Stats returns the cache's counters.
func (c *Cache) Stats() Stats {
	c.statsMu.Lock()
	s := c.stats
	c.statsMu.Unlock()
	s.LearnQueueDrops = c.queueDrops.Load()
	s.LearnDroppedBytes = c.queueDroppedBytes.Load()
	return s
}

func (c *Cache) learnLoop() {
	defer c.wg.Done()
	defer close(c.learnDone)
	for {
		select {
		case <-c.results.wake:
			for _, it := range c.results.take() {
				c.learnResult(it)
			}
		case <-c.done:
			for _, it := range c.results.take() {
				c.learnResult(it)
			}
			return
		}
	}
}

func (c *Cache) writeLoop() {
	defer c.wg.Done()
	t := time.NewTicker(c.cfg.FlushInterval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
		case <-c.kick:
		case <-c.done:
			return
		}
		_ = c.flush()
	}
}

// flush writes the unwritten batch in one transaction. Flushes run one at a
// time (flushMu).
func (c *Cache) flush() error {
	c.flushMu.Lock()
	defer c.flushMu.Unlock()
	c.mu.Lock()
	if c.accountErr != nil {
		c.mu.Unlock()
		return c.accountErr
	}
	if c.accountDirty {
		a := *c.account
		c.accountDirty = false
		c.mu.Unlock()
		if err := c.store.BindAccount(a); err != nil {
			c.mu.Lock()
			c.accountDirty = true
			c.mu.Unlock()
			return fmt.Errorf("write entity cache: %w", err)
		}
		c.mu.Lock()
	}
	if len(c.dirty) == 0 && len(c.dropU) == 0 && len(c.dropP) == 0 {
		err := c.writeErr
		c.mu.Unlock()
		return err
	}
	b := Batch{}
	for _, e := range c.dirty {
		b.Put = append(b.Put, e)
	}
	for n := range c.dropU {
		b.DropUsernames = append(b.DropUsernames, n)
	}
	for p := range c.dropP {
		b.DropPhones = append(b.DropPhones, p)
	}
	c.writing = c.dirty
	c.dirty = map[Key]Entity{}
	c.dropU, c.dropP = map[string]bool{}, map[string]bool{}
	c.mu.Unlock()

	err := c.store.Write(b)

	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		// Keep the entities for the next attempt, unless newer ones came.
		for k, e := range c.writing {
			if _, ok := c.dirty[k]; !ok {
				c.dirty[k] = e
			}
		}
		// And the dropped mappings, unless a name was claimed again since.
		for _, n := range b.DropUsernames {
			if _, claimed := c.names.Peek(n); !claimed {
				c.dropU[n] = true
			}
		}
		for _, p := range b.DropPhones {
			if _, claimed := c.phone.Peek(p); !claimed {
				c.dropP[p] = true
			}
		}
		c.count(func(s *Stats) { s.WriteErrors++ })
		c.writeErr = fmt.Errorf("write entity cache: %w", err)
	} else {
		c.count(func(s *Stats) { s.BatchesWritten++ })
		c.writeErr = nil
	}
	c.writing = nil
	return c.writeErr
}

// get looks an entity up in memory, the unwritten batch, then the store.
func (c *Cache) get(k Key) (Entity, bool, error) {
	if e, ok := c.ents.Get(k); ok {
		return e, true, nil
	}
	c.mu.Lock()
	e, ok := c.dirty[k]
	if !ok {
		e, ok = c.writing[k]
	}
	c.mu.Unlock()
	if ok {
		return e, true, nil
	}
	e, ok, err := c.store.Get(k)
	if ok {
		c.ents.Add(k, e)
	}
	return e, ok, err
}

// byName finds the entity a username or phone maps to.
func (c *Cache) byName(name string, phone bool) (Entity, bool, error) {
	mem := c.names
	if phone {
		mem = c.phone
	}
	k, ok := mem.Get(name)
	if !ok {
		var err error
		if phone {
			k, ok, err = c.store.Phone(name)
		} else {
			k, ok, err = c.store.Username(name)
		}
		if err != nil {
			return Entity{}, false, err
		}
		c.mu.Lock()
		dropped := (!phone && c.dropU[name]) || (phone && c.dropP[name])
		c.mu.Unlock()
		if !ok || dropped {
			return Entity{}, false, nil
		}
		mem.Add(name, k)
	}
	e, ok, err := c.get(k)
	if err != nil || !ok {
		return Entity{}, false, err
	}
	// A mapping can outlive a rename that has not been flushed yet.
	if (!phone && !e.hasName(name)) || (phone && e.Phone != name) {
		mem.Remove(name)
		return Entity{}, false, nil
	}
	return e, true, nil
}

var errClosed = errors.New("entity cache is closed")

// bindAccount checks st against want and binds it: an *AccountError if st
// belongs to another account or network.
func bindAccount(st Store, want Account) (Account, error) {
	have, ok, err := st.Account()
	if err != nil {
		return Account{}, err
	}
	if ok && !have.compatible(want) {
		path := ""
		switch b := st.(type) {
		case *BoltStore:
			path = b.Path()
		case *BucketStore:
			path = b.String()
		}
		return Account{}, &AccountError{Path: path, Stored: have, Want: want}
	}
	a := want.merge(have)
	if !ok || a.SelfID != have.SelfID {
		if err := st.BindAccount(a); err != nil {
			return Account{}, err
		}
	}
	return a, nil
}

// noteSelf checks the logged-in user's id, learned from a result, against
// the bound account. c.mu is held. It reports whether learning may go on.
func (c *Cache) noteSelf(id int64) bool {
	switch {
	case c.accountErr != nil:
		return false
	case c.account == nil || c.account.SelfID == id:
		return true
	case c.account.SelfID == 0:
		c.account.SelfID = id
		c.accountDirty = true
		return true
	}
	path := ""
	if b, ok := c.store.(*BoltStore); ok {
		path = b.Path()
	}
	want := *c.account
	want.SelfID = id
	c.accountErr = &AccountError{Path: path, Stored: *c.account, Want: want}
	return false
}

// accountFailed is the *AccountError that stops the cache, if any.
func (c *Cache) accountFailed() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.accountErr
}
