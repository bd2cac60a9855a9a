package mtproto

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/gotd/td/bin"
	"github.com/gotd/td/mt"
	"github.com/gotd/td/proto/codec"
)

// only404 is a transport whose every read is a -404.
type only404 struct{ reads int }

func (c *only404) Send(context.Context, *bin.Buffer) error { return nil }
func (c *only404) Close() error                            { return nil }
func (c *only404) Recv(context.Context, *bin.Buffer) error {
	c.reads++
	return &codec.ProtocolErr{Code: codec.CodeAuthKeyNotFound}
}

// A server that answers the exchange with -404 only is given up on after a
// few reads, with the transport's error, not read from until the caller's
// context ends.
func TestExchangeGivesUpOn404(t *testing.T) {
	conn := &only404{}
	x := &keyExchange{conn: conn, timeout: time.Minute}
	err := x.roundTrip(context.Background(), &mt.ReqPqMultiRequest{}, &mt.ResPQ{})
	var perr *codec.ProtocolErr
	if !errors.As(err, &perr) || perr.Code != codec.CodeAuthKeyNotFound {
		t.Fatalf("error %v, want the transport's -404", err)
	}
	if conn.reads != maxSkipped404+1 {
		t.Fatalf("%d reads, want %d", conn.reads, maxSkipped404+1)
	}
}
