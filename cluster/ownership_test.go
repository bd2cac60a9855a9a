package cluster

import (
	"context"
	"errors"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/goleak"

	"github.com/tlsched/tlsched/cluster/internal/etcdtest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	testPrefix = "/tlsched/test/owners/"
	// testTTL is short to keep the package fast, but leaves renewals under
	// -race on a loaded machine room (etcd's floor is 1 s).
	testTTL = 3 * time.Second
	// patience bounds every wait for something that should happen.
	patience = 4 * testTTL
)

func newOwners(t *testing.T, cli *clientv3.Client, member string) *Owners {
	t.Helper()
	o, err := NewOwners(cli, OwnersConfig{Prefix: testPrefix, Member: member, TTL: testTTL})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = o.Close() }) // before the client's close: registered after it
	return o
}

// hookWaits makes o report each account it starts waiting for on the
// returned channel.
func hookWaits(o *Owners) <-chan string {
	ch := make(chan string, 16)
	o.testHookWait = func(account string) {
		select {
		case ch <- account:
		default:
		}
	}
	return ch
}

type acquired struct {
	w   *Ownership
	err error
	at  time.Time // when Acquire returned
}

// acquireAsync runs Acquire in a goroutine that ends by the test's end.
func acquireAsync(t *testing.T, o *Owners, account string) <-chan acquired {
	ch := make(chan acquired, 1)
	go func() {
		w, err := o.Acquire(t.Context(), account)
		ch <- acquired{w, err, time.Now()}
	}()
	return ch
}

func mustAcquire(t *testing.T, o *Owners, account string) *Ownership {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), patience)
	defer cancel()
	w, err := o.Acquire(ctx, account)
	if err != nil {
		t.Fatalf("%s: %v", o.cfg.Member, err)
	}
	return w
}

func wait[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(patience):
		t.Fatalf("no %s within %v", what, patience)
		panic("unreachable")
	}
}

func waitClosed(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(patience):
		t.Fatalf("%s not closed within %v", what, patience)
	}
}

// value returns the key's value and create revision, or "" if it is absent.
func value(t *testing.T, cli *clientv3.Client, account string) (string, int64) {
	t.Helper()
	resp, err := cli.Get(t.Context(), testPrefix+account)
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Kvs) == 0 {
		return "", 0
	}
	return string(resp.Kvs[0].Value), resp.Kvs[0].CreateRevision
}

// Two members race for one account: one wins, the other waits until the
// winner releases, then owns it under a new revision.
func TestAcquireExclusive(t *testing.T) {
	e := etcdtest.Start(t)
	a, b := newOwners(t, e.Client(t), "a"), newOwners(t, e.Client(t), "b")
	waits := hookWaits(a)
	bWaits := hookWaits(b)

	ra, rb := acquireAsync(t, a, "acc"), acquireAsync(t, b, "acc")
	var first, second acquired
	var secondCh <-chan acquired
	var secondWaits <-chan string
	var winner, loser string
	select {
	case first = <-ra:
		winner, loser, secondCh, secondWaits = "a", "b", rb, bWaits
	case first = <-rb:
		winner, loser, secondCh, secondWaits = "b", "a", ra, waits
	case <-time.After(patience):
		t.Fatal("nobody acquired")
	}
	if first.err != nil {
		t.Fatalf("%s: %v", winner, first.err)
	}
	if got := wait(t, secondWaits, loser+" waiting"); got != "acc" {
		t.Fatalf("%s waits for %q", loser, got)
	}
	// The loser is now watching a key nobody deletes: it cannot have returned.
	select {
	case r := <-secondCh:
		t.Fatalf("%s acquired too (err %v) while %s owns the account", loser, r.err, winner)
	default:
	}
	if v, rev := value(t, e.Client(t), "acc"); v != winner || rev != first.w.Revision() {
		t.Fatalf("key = %q rev %d, want %q rev %d", v, rev, winner, first.w.Revision())
	}

	if err := first.w.Release(t.Context()); err != nil {
		t.Fatal(err)
	}
	second = wait(t, secondCh, loser+"'s Acquire")
	if second.err != nil {
		t.Fatalf("%s: %v", loser, second.err)
	}
	if second.w.Revision() <= first.w.Revision() {
		t.Fatalf("revisions %d then %d: want growing", first.w.Revision(), second.w.Revision())
	}
	if v, rev := value(t, e.Client(t), "acc"); v != loser || rev != second.w.Revision() {
		t.Fatalf("key = %q rev %d, want %q rev %d", v, rev, loser, second.w.Revision())
	}
	if !errors.Is(first.w.Err(), ErrReleased) {
		t.Fatalf("winner's Err = %v, want ErrReleased", first.w.Err())
	}
	if err := second.w.Err(); err != nil {
		t.Fatalf("new owner's Err = %v", err)
	}
}

// An owner cut off from etcd (requests hang) stops before etcd expires its
// lease, so the next owner starts only after the old one stopped.
func TestPartitionedOwnerStopsFirst(t *testing.T) {
	e := etcdtest.Start(t)
	proxy := e.NewProxy(t)
	aCli := etcdtest.ClientOf(t, proxy.Endpoint)
	a, b := newOwners(t, aCli, "a"), newOwners(t, e.Client(t), "b")
	bWaits := hookWaits(b)

	wa := mustAcquire(t, a, "acc")
	lostAt := make(chan time.Time, 1)
	go func() {
		<-wa.Lost() // closed at the latest by a.Close in cleanup
		lostAt <- time.Now()
	}()
	rb := acquireAsync(t, b, "acc")
	wait(t, bWaits, "b waiting")

	start := time.Now()
	proxy.Partition()
	r := wait(t, rb, "b's Acquire")
	if r.err != nil {
		t.Fatalf("b: %v", r.err)
	}
	var lost time.Time
	select {
	case lost = <-lostAt:
	default:
		t.Fatalf("b acquired %v after the partition while a still owns the account (a.Err = %v)", r.at.Sub(start), wa.Err())
	}
	if !lost.Before(r.at) {
		t.Fatalf("a lost at +%v, not before b acquired at +%v", lost.Sub(start), r.at.Sub(start))
	}
	// The strict order: a closed Lost before b even asked for its lease.
	wa.mu.Lock()
	aLost := wa.lostAt
	wa.mu.Unlock()
	if !aLost.Before(r.w.acquiredAt) {
		t.Fatalf("a lost at +%v, not before b's winning grant at +%v", aLost.Sub(start), r.w.acquiredAt.Sub(start))
	}
	if !errors.Is(wa.Err(), ErrExpired) {
		t.Fatalf("a.Err = %v, want ErrExpired", wa.Err())
	}
	if lost.Before(wa.Deadline()) {
		t.Fatalf("a lost at %v, before its deadline %v", lost, wa.Deadline())
	}
	t.Logf("after the partition: a stopped at +%v, b asked for its lease at +%v (gap %v); a: %v",
		aLost.Sub(start).Round(time.Millisecond), r.w.acquiredAt.Sub(start).Round(time.Millisecond),
		r.w.acquiredAt.Sub(aLost).Round(time.Millisecond), wa.Err())

	_ = aCli.Close() // so a's cleanup Release fails fast instead of hanging on the partition
}

// A member that restarts under the same name finds its old key and waits for
// the old lease to expire instead of adopting it.
func TestRestartedMemberWaitsOutOldLease(t *testing.T) {
	e := etcdtest.Start(t)
	oldCli := e.Client(t)
	old := newOwners(t, oldCli, "a")
	w1 := mustAcquire(t, old, "acc")
	_ = oldCli.Close() // the old process dies without releasing

	restarted := newOwners(t, e.Client(t), "a")
	waits := hookWaits(restarted)
	r := acquireAsync(t, restarted, "acc")
	wait(t, waits, "restarted member waiting")
	got := wait(t, r, "restarted member's Acquire")
	if got.err != nil {
		t.Fatal(got.err)
	}
	// etcd expires the old lease no earlier than the old owner's conservative
	// expiry, Deadline + Margin.
	if oldExpiry := w1.Deadline().Add(restarted.cfg.Margin); got.at.Before(oldExpiry) {
		t.Fatalf("acquired at %v, before the old lease could expire (%v)", got.at, oldExpiry)
	}
	if got.w.Revision() == w1.Revision() {
		t.Fatalf("same revision %d as the old ownership", w1.Revision())
	}
	waitClosed(t, w1.Lost(), "old ownership's Lost")
	if !errors.Is(w1.Err(), ErrExpired) {
		t.Fatalf("old Err = %v, want ErrExpired", w1.Err())
	}
}

// Renewals keep the ownership well past the TTL.
func TestRenewalKeepsOwnership(t *testing.T) {
	e := etcdtest.Start(t)
	a := newOwners(t, e.Client(t), "a")
	w := mustAcquire(t, a, "acc")
	first := w.Deadline()
	select {
	case <-w.Lost():
		t.Fatalf("lost: %v", w.Err())
	case <-time.After(testTTL * 3 / 2):
	}
	if !w.Deadline().After(first.Add(testTTL / 2)) {
		t.Fatalf("deadline %v not extended from %v", w.Deadline(), first)
	}
}

// Deleting or overwriting the key ends the ownership at once.
func TestKeyTakenLosesOwnership(t *testing.T) {
	for _, tc := range []struct {
		name string
		op   clientv3.Op
	}{
		{"deleted", clientv3.OpDelete(testPrefix + "acc")},
		{"overwritten", clientv3.OpPut(testPrefix+"acc", "intruder")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := etcdtest.Start(t)
			a := newOwners(t, e.Client(t), "a")
			w := mustAcquire(t, a, "acc")
			if _, err := e.Client(t).Do(t.Context(), tc.op); err != nil {
				t.Fatal(err)
			}
			waitClosed(t, w.Lost(), "Lost")
			if !errors.Is(w.Err(), ErrTaken) {
				t.Fatalf("Err = %v, want ErrTaken", w.Err())
			}
			if err := w.Release(t.Context()); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// Release deletes the key, revokes the lease, and can be called again.
func TestReleaseIdempotent(t *testing.T) {
	e := etcdtest.Start(t)
	cli := e.Client(t)
	a := newOwners(t, cli, "a")
	w := mustAcquire(t, a, "acc")
	for i := range 3 {
		if err := w.Release(t.Context()); err != nil {
			t.Fatalf("Release #%d: %v", i+1, err)
		}
	}
	waitClosed(t, w.Lost(), "Lost")
	if !errors.Is(w.Err(), ErrReleased) {
		t.Fatalf("Err = %v, want ErrReleased", w.Err())
	}
	if v, _ := value(t, cli, "acc"); v != "" {
		t.Fatalf("key still holds %q", v)
	}
	ttl, err := cli.TimeToLive(t.Context(), w.lease)
	if err != nil {
		t.Fatal(err)
	}
	if ttl.TTL != -1 {
		t.Fatalf("lease TTL %d after release, want -1 (revoked)", ttl.TTL)
	}
	// Released from its Owners' set: Close has nothing left to do.
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
}

// Acquire gives up when its context ends.
func TestAcquireContext(t *testing.T) {
	e := etcdtest.Start(t)
	a, b := newOwners(t, e.Client(t), "a"), newOwners(t, e.Client(t), "b")
	mustAcquire(t, a, "acc")
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	if w, err := b.Acquire(ctx, "acc"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Acquire = %v, %v; want context.DeadlineExceeded", w, err)
	}
}

// Close releases every ownership, ends waiting Acquires, and leaves no
// goroutine of ours behind (etcd's and the client's are running before and
// are ignored).
func TestCloseEndsEverything(t *testing.T) {
	e := etcdtest.Start(t)
	cli := e.Client(t)
	if _, err := cli.Get(t.Context(), "warm-up"); err != nil { // the client's connection goroutines start
		t.Fatal(err)
	}
	before := goleak.IgnoreCurrent()

	a := newOwners(t, cli, "a")
	waits := hookWaits(a)
	var ws []*Ownership
	for _, acc := range []string{"x", "y", "z"} {
		ws = append(ws, mustAcquire(t, a, acc))
	}
	again := acquireAsync(t, a, "x") // held by a itself: waits
	wait(t, waits, "second Acquire waiting")

	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if r := wait(t, again, "waiting Acquire's return"); !errors.Is(r.err, ErrClosed) {
		t.Fatalf("waiting Acquire = %v, want ErrClosed", r.err)
	}
	for _, w := range ws {
		waitClosed(t, w.Lost(), w.Account()+"'s Lost")
		if !errors.Is(w.Err(), ErrClosed) {
			t.Fatalf("%s: Err = %v, want ErrClosed", w.Account(), w.Err())
		}
		if v, _ := value(t, cli, w.Account()); v != "" {
			t.Fatalf("key of %s still holds %q", w.Account(), v)
		}
	}
	if _, err := a.Acquire(t.Context(), "w"); !errors.Is(err, ErrClosed) {
		t.Fatalf("Acquire after Close = %v, want ErrClosed", err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	goleak.VerifyNone(t, before)
}

func TestNewOwnersConfig(t *testing.T) {
	cli := &clientv3.Client{}
	for _, tc := range []struct {
		name       string
		cfg        OwnersConfig
		ok         bool
		ttl, margn time.Duration
	}{
		{"defaults", OwnersConfig{Prefix: "/p/", Member: "m"}, true, 10 * time.Second, 2 * time.Second},
		{"ttl sets margin", OwnersConfig{Prefix: "/p/", Member: "m", TTL: 5 * time.Second}, true, 5 * time.Second, time.Second},
		{"no prefix", OwnersConfig{Member: "m"}, false, 0, 0},
		{"no member", OwnersConfig{Prefix: "/p/"}, false, 0, 0},
		{"ttl under 1s", OwnersConfig{Prefix: "/p/", Member: "m", TTL: 500 * time.Millisecond}, false, 0, 0},
		{"margin too big", OwnersConfig{Prefix: "/p/", Member: "m", TTL: 4 * time.Second, Margin: 2 * time.Second}, false, 0, 0},
		{"negative margin", OwnersConfig{Prefix: "/p/", Member: "m", Margin: -time.Second}, false, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, err := NewOwners(cli, tc.cfg)
			if (err == nil) != tc.ok {
				t.Fatalf("err = %v, want ok=%v", err, tc.ok)
			}
			if err != nil {
				return
			}
			defer o.Close()
			if o.cfg.TTL != tc.ttl || o.cfg.Margin != tc.margn {
				t.Fatalf("TTL %v Margin %v, want %v %v", o.cfg.TTL, o.cfg.Margin, tc.ttl, tc.margn)
			}
		})
	}
	if _, err := NewOwners(nil, OwnersConfig{Prefix: "/p/", Member: "m"}); err == nil {
		t.Fatal("nil client accepted")
	}
}
