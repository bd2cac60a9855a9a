package actors

import (
	"errors"
	"io"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
)

// closer counts its Close calls and returns err from them.
type closer struct {
	closes atomic.Int32
	err    error
}

func (c *closer) Close() error {
	c.closes.Add(1)
	return c.err
}

// An account's resource is opened once, whoever asks at once; an open
// that fails is not kept; the resource is closed, once, with its account
// (Remove returns its error), and a re-Added account opens a new one.
func TestFleetAccountResource(t *testing.T) {
	db, err := OpenBoltStore(filepath.Join(t.TempDir(), "fleet.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := testCtx(t)
	f, err := NewFleet(ctx, FleetConfig{DCs: map[int]string{1: "127.0.0.1:1"}, Store: db})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close(ctx)
	for _, n := range []string{"a", "b"} {
		if _, err := f.Add(ctx, n, AccountConfig{}); err != nil {
			t.Fatal(err)
		}
	}
	type key struct{}
	type otherKey struct{}
	var opens atomic.Int32
	closeErr := errors.New("close failed")
	opener := func(name string, err error) func(*Client, *BoltStore) (io.Closer, error) {
		return func(c *Client, ns *BoltStore) (io.Closer, error) {
			opens.Add(1)
			if c.name != name || ns == nil || ns.Account() != name || ns.Path() != db.Path() {
				t.Errorf("open for %q got client %q, namespace %v", name, c.name, ns)
			}
			return &closer{err: err}, nil
		}
	}

	var wg sync.WaitGroup
	got := make([]io.Closer, 8)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i], _ = f.AccountResource("a", key{}, opener("a", closeErr))
		}()
	}
	wg.Wait()
	if n := opens.Load(); n != 1 {
		t.Fatalf("%d opens for 8 concurrent requests, want 1", n)
	}
	for _, r := range got {
		if r == nil || r != got[0] {
			t.Fatalf("requests got different resources: %v", got)
		}
	}
	aRes := got[0].(*closer)

	// A failed open is returned and not kept.
	openErr := errors.New("open failed")
	if _, err := f.AccountResource("a", otherKey{}, func(*Client, *BoltStore) (io.Closer, error) { return nil, openErr }); !errors.Is(err, openErr) {
		t.Fatalf("failed open: %v", err)
	}
	aOther, err := f.AccountResource("a", otherKey{}, opener("a", nil))
	if err != nil {
		t.Fatal(err)
	}
	bRes, err := f.AccountResource("b", key{}, opener("b", nil))
	if err != nil || bRes == got[0] {
		t.Fatalf("b's resource: %v, %v", bRes, err)
	}
	if _, err := f.AccountResource("nobody", key{}, opener("nobody", nil)); !errors.Is(err, ErrNoAccount) {
		t.Fatalf("resource of no account: %v", err)
	}

	if err := f.Remove(ctx, "a"); !errors.Is(err, closeErr) {
		t.Fatalf("Remove: %v, want the resource's close error", err)
	}
	if aRes.closes.Load() != 1 || aOther.(*closer).closes.Load() != 1 || bRes.(*closer).closes.Load() != 0 {
		t.Fatalf("closes after Remove a: a %d, a's other %d, b %d; want 1 1 0",
			aRes.closes.Load(), aOther.(*closer).closes.Load(), bRes.(*closer).closes.Load())
	}
	if _, err := f.AccountResource("a", key{}, opener("a", nil)); !errors.Is(err, ErrNoAccount) {
		t.Fatalf("resource of a removed account: %v", err)
	}
	if _, err := f.Add(ctx, "a", AccountConfig{}); err != nil {
		t.Fatal(err)
	}
	again, err := f.AccountResource("a", key{}, opener("a", nil))
	if err != nil || again == got[0] {
		t.Fatalf("after re-Add: %v %v, want a new resource", again, err)
	}
	if err := f.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if bRes.(*closer).closes.Load() != 1 || again.(*closer).closes.Load() != 1 || aRes.closes.Load() != 1 {
		t.Fatal("Fleet.Close did not close each resource once")
	}

	// Without a Store, open gets no namespace.
	g, err := NewFleet(ctx, FleetConfig{DCs: map[int]string{1: "127.0.0.1:1"}})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close(ctx)
	if _, err := g.Add(ctx, "x", AccountConfig{}); err != nil {
		t.Fatal(err)
	}
	if _, err := g.AccountResource("x", key{}, func(_ *Client, ns *BoltStore) (io.Closer, error) {
		if ns != nil {
			t.Errorf("namespace %v without a Store", ns)
		}
		return &closer{}, nil
	}); err != nil {
		t.Fatal(err)
	}
}
