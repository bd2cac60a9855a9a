package cluster

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/gotd/td/crypto"
	"github.com/gotd/td/exchange"
	"github.com/gotd/td/tg"

	"github.com/tlsched/tlsched/actors"
	"github.com/tlsched/tlsched/cluster/internal/etcdtest"
	"github.com/tlsched/tlsched/mtproto"
	"github.com/tlsched/tlsched/tgsim"
)

func testKey(fill byte) crypto.AuthKey {
	var k crypto.Key
	for i := range k {
		k[i] = fill + byte(i)
	}
	return k.WithID()
}

// Every part of the store contract round-trips through etcd, auth keys
// sealed: etcd's value holds no key bytes.
func TestStoreRoundTrip(t *testing.T) {
	e := etcdtest.Start(t)
	cli := e.Client(t)
	s, err := NewStore(cli, StoreConfig{Prefix: "/tlsched/test/", Account: "bot1", Sealer: testSealer(t, 1)})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, ok, err := s.Load("2@telegram"); ok || err != nil {
		t.Fatalf("an empty store: %v, %v", ok, err)
	}
	k := testKey(3)
	if err := s.Save("2@telegram", k, 77); err != nil {
		t.Fatal(err)
	}
	got, salt, ok, err := s.Load("2@telegram")
	if err != nil || !ok || got.ID != k.ID || got.Value != k.Value || salt != 77 {
		t.Fatalf("load: %v %v salt %d", ok, err, salt)
	}
	raw, err := cli.Get(context.Background(), "/tlsched/test/accounts/bot1/keys/2@telegram")
	if err != nil || len(raw.Kvs) != 1 || bytes.Contains(raw.Kvs[0].Value, k.Value[:32]) {
		t.Fatalf("etcd's value holds the key in the clear (or is missing): %v", err)
	}

	// Session state belongs to its key.
	st := actors.SessionState{Salt: 5, TimeOffset: 1500 * time.Millisecond, FutureSalts: []mtproto.ServerSalt{{Salt: 6, ValidSince: time.Unix(100, 0), ValidUntil: time.Unix(200, 0)}}}
	if err := s.SaveSession("2@telegram", testKey(9).ID, st); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := s.LoadSession("2@telegram", k.ID); !ok {
		t.Fatal("the key's own session state is gone after another key's save")
	}
	if err := s.SaveSession("2@telegram", k.ID, st); err != nil {
		t.Fatal(err)
	}
	back, ok, err := s.LoadSession("2@telegram", k.ID)
	if err != nil || !ok || back.Salt != 5 || back.TimeOffset != st.TimeOffset || len(back.FutureSalts) != 1 || back.FutureSalts[0].ValidUntil.Unix() != 200 {
		t.Fatalf("session state: %+v %v %v", back, ok, err)
	}
	if _, ok, _ := s.LoadSession("2@telegram", testKey(9).ID); ok {
		t.Fatal("another key's session state")
	}

	// Home DC, limits, login, primes.
	if err := s.SaveHomeDC("2@telegram"); err != nil {
		t.Fatal(err)
	}
	if dc, ok, err := s.LoadHomeDC(); dc != "2@telegram" || !ok || err != nil {
		t.Fatalf("home dc: %q %v %v", dc, ok, err)
	}
	if err := s.SaveLimits(map[string]float64{"account": 27.5}); err != nil {
		t.Fatal(err)
	}
	if l, err := s.LoadLimits(); err != nil || l["account"] != 27.5 {
		t.Fatalf("limits: %v %v", l, err)
	}
	acc := actors.Account{HomeDC: 2, UserID: 42, Bot: true}
	if err := s.SaveLogin("4@telegram", acc); err == nil {
		t.Fatal("a login on a DC with no key was recorded")
	}
	if err := s.SaveLogin("2@telegram", acc); err != nil {
		t.Fatal(err)
	}
	if got, ok, err := s.LoadLogin(); !ok || err != nil || got != acc {
		t.Fatalf("login: %+v %v %v", got, ok, err)
	}
	if err := s.Save("2@telegram", testKey(5), 1); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := s.LoadLogin(); ok {
		t.Fatal("a new key counts as logged in")
	}
	for range 2 {
		if err := s.SavePrime([]byte{1, 2, 3}); err != nil {
			t.Fatal(err)
		}
	}
	if p, err := s.LoadPrimes(); err != nil || len(p) != 1 || !bytes.Equal(p[0], []byte{1, 2, 3}) {
		t.Fatalf("primes: %v %v", p, err)
	}

	// Another sealing key cannot read it, and says so.
	other, err := NewStore(cli, StoreConfig{Prefix: "/tlsched/test/", Account: "bot1", Sealer: testSealer(t, 2)})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := other.Load("2@telegram"); !errors.Is(err, ErrUnsealable) {
		t.Fatalf("another sealing key: %v", err)
	}
}

// Writes are fenced by the ownership: once another member owns the
// account, the old owner's writes are refused and the new owner's stand.
func TestStoreFencedByOwnership(t *testing.T) {
	e := etcdtest.Start(t)
	aCli, bCli := e.Client(t), e.Client(t)
	a, b := newOwners(t, aCli, "a"), newOwners(t, bCli, "b")
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	wa, err := a.Acquire(ctx, "bot1")
	if err != nil {
		t.Fatal(err)
	}
	sa, err := NewStore(aCli, StoreConfig{Prefix: testPrefix, Sealer: testSealer(t, 1), Owner: wa})
	if err != nil {
		t.Fatal(err)
	}
	if err := sa.Save("2@telegram", testKey(1), 1); err != nil {
		t.Fatal(err)
	}
	if err := wa.Release(ctx); err != nil {
		t.Fatal(err)
	}
	wb, err := b.Acquire(ctx, "bot1")
	if err != nil {
		t.Fatal(err)
	}
	sb, err := NewStore(bCli, StoreConfig{Prefix: testPrefix, Sealer: testSealer(t, 1), Owner: wb})
	if err != nil {
		t.Fatal(err)
	}
	if err := sb.Save("2@telegram", testKey(2), 2); err != nil {
		t.Fatal(err)
	}
	if err := sa.Save("2@telegram", testKey(3), 3); !errors.Is(err, ErrFenced) {
		t.Fatalf("the old owner's write: %v, want ErrFenced", err)
	}
	if err := sa.SaveHomeDC("1@telegram"); !errors.Is(err, ErrFenced) {
		t.Fatalf("the old owner's home DC: %v, want ErrFenced", err)
	}
	if k, _, _, err := sa.Load("2@telegram"); err != nil || k.ID != testKey(2).ID {
		t.Fatalf("the key after the fenced write: %v (want the new owner's)", err)
	}
	if _, err := NewStore(bCli, StoreConfig{Prefix: testPrefix, Account: "bot2", Sealer: testSealer(t, 1), Owner: wb}); err == nil {
		t.Fatal("a Store of bot2 fenced by bot1's ownership")
	}
}

// A Client keeps its key in etcd: a second Client of the account, in a new
// actor system as on another member, uses it without a key exchange.
func TestStoreKeepsTheClientsKey(t *testing.T) {
	e := etcdtest.Start(t)
	srv, err := tgsim.Start(tgsim.Config{Flood: tgsim.FloodConfig{Off: true}})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	for range 2 {
		s, err := NewStore(e.Client(t), StoreConfig{Prefix: "/tlsched/test/", Account: "bot1", Sealer: testSealer(t, 1)})
		if err != nil {
			t.Fatal(err)
		}
		c, err := actors.Start(ctx, actors.Config{DCs: srv.DCAddrs(), PublicKeys: []exchange.PublicKey{srv.PublicKey()}, Store: s})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Call(ctx, &tg.HelpGetConfigRequest{}); err != nil {
			t.Fatal(err)
		}
		if err := c.Close(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if n := srv.Counters().KeyExchanges; n != 1 {
		t.Fatalf("%d key exchanges for two clients of one account, want 1", n)
	}
}
