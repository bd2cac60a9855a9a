package cluster

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// Renewal timing, as fractions of the granted TTL. With the default Margin
// (TTL/5) the owner stops at 0.8 TTL after its last renewal's t0: renewals go
// out every TTL/3, so a renewal that hangs for its whole TTL/3 timeout still
// leaves time for a retry TTL/10 later.
const (
	renewEvery   = 3  // renew TTL/renewEvery after the last success
	renewTimeout = 3  // give each renewal request TTL/renewTimeout
	retryEvery   = 10 // retry a failed renewal after TTL/retryEvery
)

// renewal is the outcome of one renewal request.
type renewal struct {
	t0  time.Time     // taken before the request was sent
	ttl time.Duration // as granted by etcd on success
	err error

	// When the key was re-read (after the watch broke): whether it is still
	// ours and the revision of the read.
	checked bool
	ours    bool
	rev     int64
}

// run keeps the ownership alive: it renews the lease with KeepAliveOnce,
// watches the key, and closes Lost (then returns) at the deadline, when the
// key goes, or when Release stops it. It is the only writer of validUntil.
// We renew in our own loop rather than through clientv3's KeepAlive channel
// because the deadline must be computed from our own send times.
func (w *Ownership) run(ttl time.Duration) {
	defer close(w.done)
	var inflight sync.WaitGroup
	defer inflight.Wait()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel() // runs first: ends the watch and any renewal in flight

	margin := w.owners.cfg.Margin
	validUntil := w.validUntil // set before run started; only run writes it
	expire := time.NewTimer(time.Until(validUntil.Add(-margin)))
	defer expire.Stop()
	renew := time.NewTimer(ttl / renewEvery)
	defer renew.Stop()
	results := make(chan renewal, 1) // one request in flight at most
	watch := w.watch(ctx, w.rev+1)
	check := false // the watch broke: re-read the key with the next renewal
	var lastErr error

	for {
		select {
		case <-w.stop:
			return // Release has closed Lost

		case <-expire.C:
			if lastErr == nil {
				lastErr = errors.New("no renewal answered")
			}
			w.lose(fmt.Errorf("%w: deadline %v passed; last renewal: %w", ErrExpired, validUntil.Add(-margin), lastErr))
			return

		case <-renew.C:
			inflight.Add(1)
			go func(check bool) {
				defer inflight.Done()
				results <- w.renewOnce(ctx, ttl/renewTimeout, check)
			}(check)

		case r := <-results:
			if errors.Is(r.err, rpctypes.ErrLeaseNotFound) {
				w.lose(fmt.Errorf("%w: etcd no longer has the lease: %w", ErrExpired, r.err))
				return
			}
			if r.err != nil {
				lastErr = r.err
				renew.Reset(ttl / retryEvery)
				continue
			}
			if r.checked {
				if !r.ours {
					w.lose(fmt.Errorf("%w: key %s re-read at revision %d", ErrTaken, w.key, r.rev))
					return
				}
				watch = w.watch(ctx, r.rev+1)
				check = false
			}
			lastErr = nil
			ttl = r.ttl
			if v := r.t0.Add(r.ttl); v.After(validUntil) {
				validUntil = v
				w.mu.Lock()
				w.validUntil = v
				w.mu.Unlock()
				expire.Reset(time.Until(v.Add(-margin)))
			}
			renew.Reset(ttl / renewEvery)

		case wr, ok := <-watch:
			if !ok || wr.Err() != nil {
				// Closed (client closed) or cancelled (compaction, no
				// leader): we may have missed events, so re-read the key.
				watch, check = nil, true
				continue
			}
			for _, ev := range wr.Events {
				if ev.Type == mvccpb.DELETE || clientv3.LeaseID(ev.Kv.Lease) != w.lease || ev.Kv.CreateRevision != w.rev {
					w.lose(fmt.Errorf("%w: %s of key %s at revision %d", ErrTaken, ev.Type, w.key, ev.Kv.ModRevision))
					return
				}
			}
		}
	}
}

// watch watches the key from revision rev until ctx ends.
func (w *Ownership) watch(ctx context.Context, rev int64) clientv3.WatchChan {
	return w.owners.cli.Watch(clientv3.WithRequireLeader(ctx), w.key, clientv3.WithRev(rev))
}

// renewOnce renews the lease once, first re-reading the key if check is set.
func (w *Ownership) renewOnce(ctx context.Context, timeout time.Duration, check bool) (r renewal) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	r.t0 = time.Now() // before the request: etcd's TTL starts later
	if check {
		resp, err := w.owners.cli.Get(ctx, w.key)
		if err != nil {
			r.err = fmt.Errorf("re-read key %s: %w", w.key, err)
			return r
		}
		r.checked, r.rev = true, resp.Header.Revision
		r.ours = len(resp.Kvs) == 1 &&
			clientv3.LeaseID(resp.Kvs[0].Lease) == w.lease && resp.Kvs[0].CreateRevision == w.rev
		if !r.ours {
			return r
		}
	}
	resp, err := w.owners.cli.KeepAliveOnce(ctx, w.lease)
	if err != nil {
		r.err = fmt.Errorf("renew lease %x: %w", int64(w.lease), err)
		return r
	}
	r.ttl = time.Duration(resp.TTL) * time.Second
	return r
}
