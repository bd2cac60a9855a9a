package actors

import (
	"testing"
	"time"
)

func TestRedialBackoff(t *testing.T) {
	ms := time.Millisecond
	b := redialBackoff{initial: defaultRedialBackoff, max: defaultRedialBackoffMax}
	for _, tc := range []struct {
		failures int
		want     time.Duration
	}{
		{1, 100 * ms}, {2, 200 * ms}, {3, 400 * ms}, {7, 6400 * ms}, {8, 10 * time.Second}, {1000, 10 * time.Second},
	} {
		if got := b.delay(tc.failures); got != tc.want {
			t.Errorf("delay(%d) = %v, want %v", tc.failures, got, tc.want)
		}
	}
	// The defaults keep the formula the DC actor used before it was
	// configurable.
	for n := 1; n <= 64; n++ {
		old := min(time.Duration(1<<min(n-1, 8))*100*time.Millisecond, 10*time.Second)
		if got := b.delay(n); got != old {
			t.Errorf("delay(%d) = %v, the fixed formula gave %v", n, got, old)
		}
	}
	huge := redialBackoff{initial: time.Second, max: time.Duration(1<<63 - 1)}
	if got := huge.delay(200); got != huge.max {
		t.Errorf("delay with an unbounded max = %v, want %v", got, huge.max)
	}
}
