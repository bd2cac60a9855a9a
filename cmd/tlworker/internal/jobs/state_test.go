package jobs

import (
	"context"
	"testing"
)

type namedCall string

func (namedCall) Wait(context.Context) ([]byte, error) { return nil, nil }

// A dependent chains after a job in flight, runs unchained after a job
// that succeeded (whose call is then dropped), learns that a job failed
// or was never sent, and waits for the job's submission, not longer.
func TestJobState(t *testing.T) {
	var st jobState
	got := make(chan Call)
	go func() {
		c, o := st.await()
		if o != running {
			t.Errorf("outcome %d before it ended", o)
		}
		got <- c
	}()
	st.submit(namedCall("first"))
	st.submit(namedCall("second")) // only the first attempt counts
	if c := <-got; c != namedCall("first") {
		t.Fatalf("dependent chained after %v, want the first attempt", c)
	}
	st.end(succeeded)
	if c, o := st.await(); o != succeeded || c != nil {
		t.Fatalf("after success: call %v, outcome %d; want no call, succeeded", c, o)
	}

	var bad jobState
	bad.submit(namedCall("sent"))
	bad.end(failed)
	if c, o := bad.await(); o != failed || c != namedCall("sent") {
		t.Fatalf("failed: call %v, outcome %d", c, o)
	}

	// A job never sent wakes its waiting dependents when it ends.
	var never jobState
	woke := make(chan outcome)
	go func() { _, o := never.await(); woke <- o }()
	never.end(dropped)
	if o := <-woke; o != dropped {
		t.Fatalf("never sent: outcome %d, want dropped", o)
	}
}
