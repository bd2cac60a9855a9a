package scheduler

import (
	"errors"
	"testing"
	"time"
)

func TestUnreachableFromDownUntilUp(t *testing.T) {
	s := New(Config{}.WithDefaults())
	now := time.Unix(1000, 0)
	steps := []struct {
		name string
		do   func()
		want bool
	}{
		{"new", func() {}, false},
		{"down", func() { s.DCDown(now, 2, errors.New("lost")) }, true},
		{"connected", func() { s.DCConnected(now, 2) }, true},
		{"up", func() { s.DCUp(now, 2) }, false},
		{"failed", func() { s.DCFailed(now, 2, errors.New("key lost")) }, true},
	}
	for _, st := range steps {
		st.do()
		if got := s.Unreachable(2); got != st.want {
			t.Fatalf("after %s: Unreachable = %v, want %v", st.name, got, st.want)
		}
		if s.Unreachable(1) {
			t.Fatalf("after %s: DC 1 unreachable", st.name)
		}
	}
}
