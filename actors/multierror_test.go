package actors

import (
	"context"
	"errors"
	"testing"

	"github.com/gotd/td/tgerr"

	"github.com/tlsched/tlsched/scheduler"
)

func TestMultiErrorUnwraps(t *testing.T) {
	rpc := tgerr.New(400, "PEER_ID_INVALID")
	err := error(&MultiError{Total: 4, Errors: map[int]error{
		3: context.Canceled,
		1: rpc,
	}})
	var got *tgerr.Error
	if !errors.As(err, &got) || got != rpc {
		t.Fatalf("errors.As found %v", got)
	}
	if !errors.Is(err, context.Canceled) {
		t.Fatal("errors.Is does not see #3's error")
	}
	if errors.Is(err, scheduler.ErrQueueFull) {
		t.Fatal("errors.Is matched an error no call had")
	}
	u := err.(interface{ Unwrap() []error }).Unwrap()
	if len(u) != 2 || u[0] != error(rpc) || u[1] != context.Canceled {
		t.Fatalf("Unwrap: %v, want index order", u)
	}
}

func TestMultiErrorErr(t *testing.T) {
	rpc := tgerr.New(400, "MESSAGE_EMPTY")
	m := &MultiError{Total: 3, Errors: map[int]error{1: rpc}}
	for i, want := range []error{nil, rpc, nil} {
		if got := m.Err(i); got != want {
			t.Errorf("Err(%d) = %v, want %v", i, got, want)
		}
	}
	var none *MultiError // a batch with no failure
	if err := none.Err(0); err != nil {
		t.Fatalf("nil MultiError: Err(0) = %v", err)
	}
}
