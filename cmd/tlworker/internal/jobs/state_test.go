package jobs

import (
	"context"
	"testing"
)

type namedCall string

func (namedCall) Wait(context.Context) ([]byte, error) { return nil, nil }

// A dependent chains after a job in flight, runs unchained after a job
// that succeeded (whose call is then dropped), and learns when a job was
// never sent; it waits for the job's submission, not longer.
func TestJobState(t *testing.T) {
	var st jobState
	got := make(chan Call)
	go func() {
		c, done := st.await()
		if done {
			t.Error("done before it ran")
		}
		got <- c
	}()
	st.submit(namedCall("first"))
	st.submit(namedCall("second")) // only the first attempt counts
	if c := <-got; c != namedCall("first") {
		t.Fatalf("dependent chained after %v, want the first attempt", c)
	}
	st.succeed()
	if c, done := st.await(); !done || c != nil {
		t.Fatalf("after success: call %v, done %v; want no call, done", c, done)
	}

	var never jobState
	never.submit(nil)
	if c, done := never.await(); done || c != nil {
		t.Fatalf("never sent: call %v, done %v", c, done)
	}
}
