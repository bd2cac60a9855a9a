package cluster

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// Defaults of OwnersConfig.
const (
	DefaultTTL = 10 * time.Second
	// cleanupTimeout bounds the best-effort revoke of a lease that did not
	// win its key, and Close's releases; an unrevoked lease expires anyway.
	cleanupTimeout = 5 * time.Second
)

// Why an Ownership was lost; Ownership.Err wraps one of them.
var (
	// ErrExpired: the lease was not renewed before Deadline, or etcd
	// reported it gone.
	ErrExpired = errors.New("ownership lease not renewed in time")
	// ErrTaken: the key was deleted, or now belongs to another lease.
	ErrTaken = errors.New("ownership key deleted or taken over")
	// ErrReleased: Release was called.
	ErrReleased = errors.New("ownership released")
	// ErrClosed: the Owners was closed (also returned by Acquire).
	ErrClosed = errors.New("owners closed")
)

// OwnersConfig configures Owners.
type OwnersConfig struct {
	// Prefix is prepended to the account name to make its key, e.g.
	// "/tlsched/CLUSTER/owners/". Required.
	Prefix string
	// Member names this process in the cluster; it is written as the key's
	// value so operators can see who owns what. Required.
	Member string
	// TTL is the lease TTL asked of etcd, rounded up to whole seconds.
	// Default 10 s. etcd may grant more (its minimum is 1.5 election
	// timeouts); the granted TTL is what counts.
	TTL time.Duration
	// Margin is how long before the lease's conservative expiry the owner
	// stops (see the package doc). Default TTL/5; it must be below TTL/2
	// so that a failed renewal can be retried in time.
	Margin time.Duration
}

// Owners acquires and keeps account ownerships for one member over an etcd
// client it does not own (the caller closes the client, after Close).
type Owners struct {
	cli        *clientv3.Client
	cfg        OwnersConfig
	ttlSeconds int64

	closing context.Context // done once Close is called
	close   context.CancelFunc

	mu     sync.Mutex
	closed bool
	held   map[*Ownership]struct{} // acquired and not yet Released

	// testHookWait, if set, is called when Acquire starts waiting for the
	// key of account to be deleted.
	testHookWait func(account string)
}

// NewOwners returns an Owners for member cfg.Member using cli.
func NewOwners(cli *clientv3.Client, cfg OwnersConfig) (*Owners, error) {
	if cli == nil {
		return nil, errors.New("cluster: NewOwners: nil etcd client")
	}
	if cfg.Prefix == "" || cfg.Member == "" {
		return nil, fmt.Errorf("cluster: NewOwners: Prefix (%q) and Member (%q) are required", cfg.Prefix, cfg.Member)
	}
	if cfg.TTL == 0 {
		cfg.TTL = DefaultTTL
	}
	if cfg.TTL < time.Second {
		return nil, fmt.Errorf("cluster: NewOwners: TTL %v below etcd's 1 s granularity", cfg.TTL)
	}
	if cfg.Margin == 0 {
		cfg.Margin = cfg.TTL / 5
	}
	if cfg.Margin < 0 || cfg.Margin >= cfg.TTL/2 {
		return nil, fmt.Errorf("cluster: NewOwners: Margin %v must be in (0, TTL/2 = %v)", cfg.Margin, cfg.TTL/2)
	}
	closing, cancel := context.WithCancel(context.Background())
	return &Owners{
		cli:        cli,
		cfg:        cfg,
		ttlSeconds: int64(math.Ceil(cfg.TTL.Seconds())),
		closing:    closing,
		close:      cancel,
		held:       map[*Ownership]struct{}{},
	}, nil
}

// Acquire makes this member the owner of account and returns the ownership,
// which is kept alive until it is Lost.
//
// If another lease holds the account's key, Acquire waits until the key is
// deleted (released, or its lease expired) and tries again. That includes a
// key written under this same member name by an earlier process, or by
// another Ownership of this Owners: Acquire never adopts a lease it has not
// renewed itself, because it cannot know until when that lease's holder
// believes it owns the account; a restarted member whose old process is still
// alive (partitioned, or not yet dead) would otherwise share the auth key with
// it. Waiting for etcd to expire the old lease is what makes the old owner's
// own deadline pass first.
//
// Acquire returns ctx's error when ctx ends, ErrClosed once Close is called,
// and etcd's error if a request fails.
func (o *Owners) Acquire(ctx context.Context, account string) (*Ownership, error) {
	if account == "" {
		return nil, errors.New("cluster: acquire: empty account")
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(o.closing, cancel)()
	key := o.cfg.Prefix + account
	for {
		if err := o.cli.Ctx().Err(); err != nil {
			// A closed client retries each request for seconds before
			// failing; say so at once.
			return nil, fmt.Errorf("acquire %q: etcd client closed: %w", account, err)
		}
		w, rev, err := o.try(ctx, account, key)
		if err == nil && w == nil {
			err = o.waitDeleted(ctx, account, key, rev)
		}
		if err != nil {
			if o.closing.Err() != nil {
				return nil, fmt.Errorf("acquire %q: %w", account, ErrClosed)
			}
			return nil, fmt.Errorf("acquire %q: %w", account, err)
		}
		if w == nil {
			continue
		}
		o.mu.Lock()
		closed := o.closed
		if !closed {
			o.held[w] = struct{}{}
		}
		o.mu.Unlock()
		if closed {
			rctx, rcancel := context.WithTimeout(context.Background(), cleanupTimeout)
			defer rcancel()
			_ = w.Release(rctx) // the lease expires anyway if this fails
			return nil, fmt.Errorf("acquire %q: %w", account, ErrClosed)
		}
		return w, nil
	}
}

// try grants a lease and creates key with it if the key is absent. It returns
// the running Ownership, or nil and the revision at which the key was seen
// held by someone else.
func (o *Owners) try(ctx context.Context, account, key string) (*Ownership, int64, error) {
	t0 := time.Now() // before the grant: etcd starts the TTL later
	g, err := o.cli.Grant(ctx, o.ttlSeconds)
	if err != nil {
		return nil, 0, fmt.Errorf("grant lease: %w", err)
	}
	resp, err := o.cli.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(key), "=", 0)).
		Then(clientv3.OpPut(key, o.cfg.Member, clientv3.WithLease(g.ID))).
		Commit()
	if err != nil || !resp.Succeeded {
		// The put may have been applied even if err != nil; revoking the
		// lease deletes the key with it.
		rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
		defer rcancel()
		_, _ = o.cli.Revoke(rctx, g.ID) // best effort: it expires after TTL
		if err != nil {
			return nil, 0, fmt.Errorf("create key %s: %w", key, err)
		}
		return nil, resp.Header.Revision, nil
	}
	ttl := time.Duration(g.TTL) * time.Second
	w := &Ownership{
		acquiredAt: t0,
		owners:     o,
		account:    account,
		key:        key,
		lease:      g.ID,
		rev:        resp.Header.Revision, // the txn's only write created the key
		lost:       make(chan struct{}),
		stop:       make(chan struct{}),
		done:       make(chan struct{}),
		validUntil: t0.Add(ttl),
	}
	go w.run(ttl)
	return w, 0, nil
}

// waitDeleted returns once key, seen held at revision rev, is deleted, or
// when the watch breaks (the caller then looks again), or ctx's error.
func (o *Owners) waitDeleted(ctx context.Context, account, key string, rev int64) error {
	if o.testHookWait != nil {
		o.testHookWait(account)
	}
	// WithRequireLeader: an etcd member cut off from its leader cancels the
	// watch instead of leaving it silent.
	wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	defer cancel()
	for wr := range o.cli.Watch(wctx, key, clientv3.WithRev(rev+1), clientv3.WithFilterPut()) {
		if wr.Err() != nil {
			return nil // compacted or cancelled: look again
		}
		for _, ev := range wr.Events {
			if ev.Type == mvccpb.DELETE {
				return nil
			}
		}
	}
	// The channel closes when ctx ends or the client is closed; in the
	// latter case the next request reports it.
	return ctx.Err()
}

// Close releases every ownership not yet released, and makes waiting and
// future Acquire calls fail with ErrClosed. It does not close the etcd
// client. It waits for each release at most a few seconds; if etcd cannot be
// reached the leases expire by themselves.
func (o *Owners) Close() error {
	o.mu.Lock()
	if o.closed {
		o.mu.Unlock()
		return nil
	}
	o.closed = true
	held := make([]*Ownership, 0, len(o.held))
	for w := range o.held {
		held = append(held, w)
	}
	o.mu.Unlock()
	o.close()

	ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
	defer cancel()
	var errs []error
	for _, w := range held {
		w.lose(ErrClosed)
		if err := w.Release(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Ownership is this member's ownership of one account, from a successful
// Acquire until Lost is closed. Its methods are safe for concurrent use.
type Ownership struct {
	owners  *Owners
	account string
	key     string
	lease   clientv3.LeaseID
	rev     int64

	lost chan struct{} // closed by lose
	stop chan struct{} // closed by Release: run must return
	done chan struct{} // closed when run has returned

	lostOnce sync.Once
	stopOnce sync.Once

	mu         sync.Mutex
	err        error     // why lost, set before lost is closed
	validUntil time.Time // conservative lease expiry; the owner stops Margin earlier

	// For tests, which check the order of one owner's end and the next
	// one's start: when the winning lease was asked for, when Lost closed.
	acquiredAt time.Time
	lostAt     time.Time

	releaseMu sync.Mutex
	released  bool // the key is deleted and the lease revoked
}

// Account returns the owned account.
func (w *Ownership) Account() string { return w.account }

// Revision returns the create revision of the account's key: it is different
// for every ownership of the account and grows with each new owner, so store
// writes can be fenced on it (compare it in the write's transaction).
func (w *Ownership) Revision() int64 { return w.rev }

// Lost returns a channel closed when the owner must stop using the account:
// Deadline passed without a successful renewal, the key was deleted or taken
// over, or Release or Owners.Close was called. It is never reopened; acquire
// again for a new ownership.
func (w *Ownership) Lost() <-chan struct{} { return w.lost }

// Err returns nil while the ownership holds, then why it was lost, wrapping
// ErrExpired, ErrTaken, ErrReleased or ErrClosed.
func (w *Ownership) Err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// Deadline returns the time until which the owner may use the account unless
// a renewal extends it; Lost is closed when it passes.
func (w *Ownership) Deadline() time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.validUntil.Add(-w.owners.cfg.Margin)
}

// Release stops the ownership (closing Lost if it is still open), deletes the
// key if it still belongs to this ownership, and revokes the lease. It is
// idempotent: once it has succeeded, later calls return nil at once; after a
// failure (etcd unreachable before ctx ended) a later call tries again, and
// the lease expires by itself meanwhile.
func (w *Ownership) Release(ctx context.Context) error {
	w.lose(ErrReleased)
	w.stopOnce.Do(func() { close(w.stop) })
	<-w.done

	w.releaseMu.Lock()
	defer w.releaseMu.Unlock()
	if w.released {
		return nil
	}
	cli := w.owners.cli
	if err := cli.Ctx().Err(); err != nil {
		// A closed client retries for seconds before failing. The lease
		// expires by itself.
		return fmt.Errorf("release %q: etcd client closed: %w", w.account, err)
	}
	// Guarded: once our lease is gone the key may belong to a new owner.
	_, err := cli.Txn(ctx).
		If(clientv3.Compare(clientv3.LeaseValue(w.key), "=", w.lease),
			clientv3.Compare(clientv3.CreateRevision(w.key), "=", w.rev)).
		Then(clientv3.OpDelete(w.key)).
		Commit()
	if err != nil {
		return fmt.Errorf("release %q: delete key: %w", w.account, err)
	}
	if _, err := cli.Revoke(ctx, w.lease); err != nil && !errors.Is(err, rpctypes.ErrLeaseNotFound) {
		return fmt.Errorf("release %q: revoke lease: %w", w.account, err)
	}
	w.released = true
	w.owners.mu.Lock()
	delete(w.owners.held, w)
	w.owners.mu.Unlock()
	return nil
}

// lose records why the ownership ended and closes Lost; only the first
// call has an effect.
func (w *Ownership) lose(err error) {
	w.lostOnce.Do(func() {
		w.mu.Lock()
		w.err, w.lostAt = err, time.Now()
		w.mu.Unlock()
		close(w.lost)
	})
}
