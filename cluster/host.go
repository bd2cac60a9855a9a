package cluster

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/tlsched/tlsched/actors"
)

// HostConfig is how a member runs the accounts it owns.
type HostConfig struct {
	// Owners gives this member its accounts. Required.
	Owners *Owners
	// Etcd holds the accounts' state (Store). Required.
	Etcd *clientv3.Client
	// Prefix is the cluster's key prefix for the stores ("/tlsched/NAME/").
	// Required.
	Prefix string
	// Sealer seals the auth keys. Required.
	Sealer *Sealer
	// Client returns the Config of an account's Client; the host sets its
	// Store. Nil: a zero Config.
	Client func(account string) actors.Config
	// Notify, if set, hears of each account this member starts (err nil)
	// and stops (err why: ErrReleased when stopped on purpose), from a
	// goroutine of the Host's. For logs and tests.
	Notify func(account string, err error)
	// StartTimeout bounds how long an account grain (Kind) waits for its
	// account, held by another member, before it fails its calls as not
	// sent and stops. 0 is DefaultStartTimeout.
	StartTimeout time.Duration
}

// DefaultStartTimeout is HostConfig.StartTimeout's default: long enough
// for an owner that died to lose its lease (the ownership TTL).
const DefaultStartTimeout = 2 * time.Minute

func (h *Host) startTimeout() time.Duration {
	if h.cfg.StartTimeout > 0 {
		return h.cfg.StartTimeout
	}
	return DefaultStartTimeout
}

// Host runs accounts on this member, each only while the member owns it:
// Run acquires the account's Ownership, then starts its Client on the
// account's Store in etcd, and the Client (its connections with it) is
// closed as soon as the ownership is lost, before any other member can
// own the account: Telegram revokes an auth key used from two IP addresses
// at once (AUTH_KEY_DUPLICATED).
type Host struct {
	cfg HostConfig

	mu       sync.Mutex
	running  map[*Account]struct{} // started and not yet stopped
	stopping bool                  // StopAll was called: Run starts nothing
}

// ErrHostStopping is Run's error once StopAll was called: the member is
// handing its accounts over, not taking any.
var ErrHostStopping = errors.New("cluster: this member is leaving and starts no account")

// NewHost returns a Host.
func NewHost(cfg HostConfig) (*Host, error) {
	if cfg.Owners == nil || cfg.Etcd == nil || cfg.Prefix == "" || cfg.Sealer == nil {
		return nil, errors.New("cluster: NewHost: Owners, Etcd, Prefix and Sealer are required")
	}
	return &Host{cfg: cfg, running: map[*Account]struct{}{}}, nil
}

// Account is an account running on this member.
type Account struct {
	// Client sends the account's calls while it runs.
	Client *actors.Client
	// Ownership is the member's ownership of the account.
	Ownership *Ownership

	stopOnce  sync.Once
	stopped   chan struct{} // closed once Client is closed
	err       error         // why it stopped, set before stopped closes
	stoppedAt time.Time     // when Client was closed (tests check the order)
}

// Run acquires account, waiting while another member owns it (until ctx
// ends), and starts its Client. The account runs until its ownership is
// lost (Stopped, Err) or Stop is called.
func (h *Host) Run(ctx context.Context, account string) (*Account, error) {
	if h.isStopping() {
		return nil, fmt.Errorf("cluster: account %q: %w", account, ErrHostStopping)
	}
	own, err := h.cfg.Owners.Acquire(ctx, account)
	if err != nil {
		return nil, fmt.Errorf("cluster: account %q: %w", account, err)
	}
	fail := func(err error) (*Account, error) {
		rctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
		defer cancel()
		_ = own.Release(rctx)
		return nil, fmt.Errorf("cluster: account %q: %w", account, err)
	}
	store, err := NewStore(h.cfg.Etcd, StoreConfig{Prefix: h.cfg.Prefix, Sealer: h.cfg.Sealer, Owner: own})
	if err != nil {
		return fail(err)
	}
	var cc actors.Config
	if h.cfg.Client != nil {
		cc = h.cfg.Client(account)
	}
	cc.Store = store
	// The Client may dial only while the ownership holds: its start is
	// bounded by the ownership's deadline too.
	sctx, cancel := context.WithDeadline(ctx, own.Deadline())
	c, err := actors.Start(sctx, cc)
	cancel()
	if err != nil {
		return fail(err)
	}
	a := &Account{Client: c, Ownership: own, stopped: make(chan struct{})}
	h.mu.Lock()
	if h.stopping {
		// StopAll began while this one started: it would not see it.
		h.mu.Unlock()
		rctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
		defer cancel()
		_ = a.Stop(rctx)
		return nil, fmt.Errorf("cluster: account %q: %w", account, ErrHostStopping)
	}
	h.running[a] = struct{}{}
	h.mu.Unlock()
	if h.cfg.Notify != nil {
		h.cfg.Notify(account, nil)
	}
	go func() {
		<-a.stopped
		h.mu.Lock()
		delete(h.running, a)
		h.mu.Unlock()
		if h.cfg.Notify != nil {
			h.cfg.Notify(account, a.err)
		}
	}()
	go func() {
		select {
		case <-own.Lost():
			a.stop(fmt.Errorf("cluster: account %q: %w", account, own.Err()))
		case <-a.stopped:
		}
	}()
	return a, nil
}

// stop closes the Client at once: calls in flight fail (actors.ErrClosed),
// and its connections close now, not after a drain.
func (a *Account) stop(why error) {
	a.stopOnce.Do(func() {
		ctx, cancel := context.WithCancel(context.Background())
		cancel() // no drain: the ownership is ending
		_ = a.Client.Close(ctx)
		a.err, a.stoppedAt = why, time.Now()
		close(a.stopped)
	})
}

// Stopped is closed once the account's Client is closed: its ownership was
// lost (Err says why) or Stop was called.
func (a *Account) Stopped() <-chan struct{} { return a.stopped }

// Err is nil while the account runs, then why it stopped.
func (a *Account) Err() error {
	select {
	case <-a.stopped:
		return a.err
	default:
		return nil
	}
}

// Stop closes the account's Client after the calls in flight are answered
// (or ctx ends), then releases its ownership, so another member may take
// the account at once.
func (a *Account) Stop(ctx context.Context) error {
	var err error
	a.stopOnce.Do(func() {
		// The drain ends by the ownership's deadline at the latest.
		ctx, cancel := context.WithDeadline(ctx, a.Ownership.Deadline())
		defer cancel()
		err = a.Client.Close(ctx)
		a.err, a.stoppedAt = ErrReleased, time.Now()
		close(a.stopped)
	})
	if rerr := a.Ownership.Release(ctx); rerr != nil && err == nil {
		err = rerr
	}
	return err
}

// StopAll stops every account running on this member (Stop: the calls in
// flight are answered or ctx ends, then each ownership is released), so a
// member leaving on purpose hands its accounts over at once rather than
// after their leases' TTL. From then on Run starts nothing
// (ErrHostStopping): a grain activated here meanwhile fails its calls as
// lost, and they go to the account's next member.
func (h *Host) StopAll(ctx context.Context) error {
	h.mu.Lock()
	h.stopping = true
	accts := make([]*Account, 0, len(h.running))
	for a := range h.running {
		accts = append(accts, a)
	}
	h.mu.Unlock()
	errs := make([]error, len(accts))
	var wg sync.WaitGroup
	for i, a := range accts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = a.Stop(ctx)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (h *Host) isStopping() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.stopping
}
