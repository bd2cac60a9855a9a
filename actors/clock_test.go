package actors

import (
	"testing"
	"time"
)

// The scheduler's clock at TimeScale 10: ten seconds of its time pass in
// one real second from the origin, and its waits last a tenth as long.
func TestSchedClockScale(t *testing.T) {
	c := schedClock{origin: time.Unix(1_700_000_000, 0), scale: 10}
	if got := c.at(c.origin.Add(time.Second)); !got.Equal(c.origin.Add(10 * time.Second)) {
		t.Fatalf("one real second after the origin: %v after it, want 10s", got.Sub(c.origin))
	}
	if got := c.real(3 * time.Second); got != 300*time.Millisecond {
		t.Fatalf("a 3 s wait lasts %v, want 300ms", got)
	}
	if !c.at(time.Time{}).IsZero() {
		t.Fatal("no deadline became one")
	}
	one := newSchedClock(0)
	if one.scale != 1 || one.real(time.Second) != time.Second {
		t.Fatalf("TimeScale 0 is not real time: %+v", one)
	}
	if at := time.Unix(5, 0); !one.at(at).Equal(at) {
		t.Fatal("real time moved an instant")
	}
}
