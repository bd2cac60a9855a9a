package entitycache

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/gotd/td/tg"
)

// TestStoreBoundToAccount: a store file is bound to its account (self id,
// network); opening it for another user or network is refused with an
// *AccountError and the file is left alone. Before, a second account's
// cache on the same file served the first account's hashes.
func TestStoreBoundToAccount(t *testing.T) {
	path := filepath.Join(t.TempDir(), "entities.db")
	sim := map[int]string{1: "127.0.0.1:4001", 2: "127.0.0.1:4002"}
	open := func(a Account) (*Cache, error) { return Open(Config{Path: path, Account: &a}) }
	c, err := open(Account{SelfID: 1, DCs: sim})
	if err != nil {
		t.Fatal(err)
	}
	c.Learn(user(7, 70, "seven"))
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(path)
	for _, a := range []Account{
		{SelfID: 2, DCs: sim},   // another user
		{SelfID: 1},             // Telegram, not this server
		{SelfID: 1, Test: true}, // Telegram's test DCs
		{SelfID: 1, DCs: map[int]string{1: "127.0.0.1:5001"}}, // another server
	} {
		_, err := open(a)
		var ae *AccountError
		if !errors.As(err, &ae) || ae.Path != path || ae.Stored.SelfID != 1 {
			t.Fatalf("opened for %v: %v, want an *AccountError", a, err)
		}
	}
	if after, _ := os.ReadFile(path); string(after) != string(before) {
		t.Fatal("a refused open changed the file")
	}
	// The same account, with or without its id known, is served.
	for _, a := range []Account{{SelfID: 1, DCs: sim}, {DCs: sim}} {
		c, err := open(a)
		if err != nil {
			t.Fatalf("%v: %v", a, err)
		}
		if p, err := c.InputPeer(context.Background(), "@seven"); err != nil || p.(*tg.InputPeerUser).AccessHash != 70 {
			t.Fatalf("@seven: %v %v", p, err)
		}
		c.Close()
	}
}

// TestSelfBindsAndGuards: with the user id not known at Open, the first
// user marked self binds the store; a self of another id later stops the
// cache with an *AccountError.
func TestSelfBindsAndGuards(t *testing.T) {
	path := filepath.Join(t.TempDir(), "entities.db")
	c, err := Open(Config{Path: path, Account: &Account{}})
	if err != nil {
		t.Fatal(err)
	}
	c.Learn(&tg.User{ID: 5, AccessHash: 50, Self: true})
	c.Learn(user(8, 80, "eight"))
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	var ae *AccountError
	if _, err := Open(Config{Path: path, Account: &Account{SelfID: 6}}); !errors.As(err, &ae) {
		t.Fatalf("the learned self did not bind the file: %v", err)
	}
	c, err = Open(Config{Path: path, Account: &Account{}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Learn(&tg.User{ID: 6, AccessHash: 60, Self: true}) // logged in as someone else
	if _, err := c.InputPeer(context.Background(), "@eight"); !errors.As(err, &ae) || ae.Want.SelfID != 6 {
		t.Fatalf("after another self: %v, want an *AccountError", err)
	}
	if _, ok, _ := c.store.Get(Key{User, 6}); ok {
		t.Fatal("the other account's entities were stored")
	}
}
