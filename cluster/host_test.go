package cluster

import (
	"context"
	"errors"
	"net"
	"testing"

	"github.com/gotd/td/exchange"
	"github.com/gotd/td/tg"

	"github.com/tlsched/tlsched/actors"
	"github.com/tlsched/tlsched/cluster/internal/etcdtest"
	"github.com/tlsched/tlsched/tgsim"
)

func newHost(t *testing.T, e *etcdtest.Etcd, endpoint, name, ip string, srv *tgsim.Server) *Host {
	t.Helper()
	cli := etcdtest.ClientOf(t, endpoint)
	h, err := NewHost(HostConfig{
		Owners: newOwners(t, cli, name), Etcd: cli, Prefix: testPrefix, Sealer: testSealer(t, 1),
		Client: func(string) actors.Config {
			return actors.Config{
				DCs: srv.DCAddrs(), PublicKeys: []exchange.PublicKey{srv.PublicKey()},
				Dialer: &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}},
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// An account moves from a member cut off from etcd to another member: the
// first closes the account's Client (its connections) when its ownership
// is lost, before the second can own it; the second carries on with the
// key kept in etcd, from another IP, and Telegram (tgsim) never sees the
// key used from two IPs at once.
func TestHostHandsAccountOverOnPartition(t *testing.T) {
	e := etcdtest.Start(t)
	srv, err := tgsim.Start(tgsim.Config{Flood: tgsim.FloodConfig{Off: true}})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	proxy := e.NewProxy(t)
	a := newHost(t, e, proxy.Endpoint, "a", "127.0.0.2", srv)
	b := newHost(t, e, e.Endpoint, "b", "127.0.0.3", srv)
	ctx, cancel := context.WithTimeout(context.Background(), 3*patience)
	defer cancel()

	onA, err := a.Run(ctx, "bot1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := onA.Client.Call(ctx, &tg.HelpGetConfigRequest{}); err != nil {
		t.Fatal(err)
	}
	type ran struct {
		acc *Account
		err error
	}
	onB := make(chan ran, 1)
	go func() {
		acc, err := b.Run(ctx, "bot1")
		onB <- ran{acc, err}
	}()

	proxy.Partition()
	select {
	case <-onA.Stopped():
	case <-ctx.Done():
		t.Fatal("a kept the account after its etcd was cut off")
	}
	if !errors.Is(onA.Err(), ErrExpired) {
		t.Fatalf("a stopped: %v, want ErrExpired", onA.Err())
	}
	if _, err := onA.Client.Call(ctx, &tg.HelpGetConfigRequest{}); !errors.Is(err, actors.ErrClosed) {
		t.Fatalf("a call on a after it stopped: %v", err)
	}
	r := <-onB
	if r.err != nil {
		t.Fatal(r.err)
	}
	defer r.acc.Stop(ctx)
	if got := r.acc.Ownership.acquiredAt; !got.After(onA.stoppedAt) {
		t.Fatalf("b asked for the account at %v, before a closed its Client at %v", got, onA.stoppedAt)
	}
	if _, err := r.acc.Client.Call(ctx, &tg.HelpGetConfigRequest{}); err != nil {
		t.Fatal(err)
	}
	// tgsim is the judge: had a's connection been open when b's first
	// frame came, the key would have been revoked.
	c := srv.Counters()
	if c.DuplicatedKeys != 0 || c.KeyExchanges != 1 {
		t.Fatalf("tgsim: %d keys revoked as duplicated, %d key exchanges; want 0 and 1 (b used a's key from etcd)", c.DuplicatedKeys, c.KeyExchanges)
	}
}
