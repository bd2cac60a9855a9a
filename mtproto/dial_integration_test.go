package mtproto_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"

	"github.com/tlsched/tlsched/mtproto"
)

func TestDialNeedsAKey(t *testing.T) {
	_, err := mtproto.Dial(context.Background(), mtproto.DialConfig{Addr: "127.0.0.1:1", DC: 4})
	if err == nil || !strings.Contains(err.Error(), "dc 4") {
		t.Fatalf("want an error naming the DC, got %v", err)
	}
}

func TestDialCancelStopsKeyExchange(t *testing.T) {
	// gotd's exchange (no PrimeCache) and ours (with one).
	for _, primes := range []*mtproto.PrimeCache{nil, {}} {
		testDialCancelStopsKeyExchange(t, primes)
	}
}

func testDialCancelStopsKeyExchange(t *testing.T, primes *mtproto.PrimeCache) {
	// A server that accepts and then says nothing: the key exchange would
	// wait for its full timeout unless cancellation closes the socket.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := l.Accept()
		if err == nil {
			accepted <- c
		}
		close(accepted)
	}()
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := mtproto.Dial(ctx, mtproto.DialConfig{Addr: l.Addr().String(), DC: 2, PublicKeys: testPublicKeys(t), Primes: primes})
		errc <- err
	}()
	c := <-accepted
	defer c.Close()
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("primes %v: want context.Canceled, got %v", primes != nil, err)
	}
}

func TestDialRefused(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	_, err = mtproto.Dial(context.Background(), mtproto.DialConfig{Addr: addr, DC: 2, PublicKeys: testPublicKeys(t)})
	if err == nil || !strings.Contains(err.Error(), addr) {
		t.Fatalf("want an error naming %s, got %v", addr, err)
	}
}
