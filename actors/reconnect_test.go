package actors

import (
	"errors"
	"testing"
	"time"

	"github.com/gotd/td/proto/codec"
)

var r0 = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

func TestDialLimiter(t *testing.T) {
	s := time.Second
	for _, tc := range []struct {
		name   string
		limits []DialLimit
		opened []time.Duration // openings, after r0
		at     time.Duration   // asking at
		want   time.Duration   // earliest allowed
	}{
		{"nothing opened", DefaultDialLimits, nil, 0, 0},
		{"1 per 1 s", DefaultDialLimits, []time.Duration{0}, 0, s},
		{"1 per 1 s, later", DefaultDialLimits, []time.Duration{0}, 3 * s, 3 * s},
		{"2 per 4 s", DefaultDialLimits, []time.Duration{0, s}, 2 * s, 4 * s},
		{"3 per 8 s", DefaultDialLimits, []time.Duration{0, 4 * s, 5 * s}, 6 * s, 8 * s},
		{"3 per 8 s, old ones forgotten", DefaultDialLimits, []time.Duration{0, 4 * s, 8 * s, 12 * s}, 12 * s, 13 * s},
		{"3 per 8 s after 4 openings", DefaultDialLimits, []time.Duration{0, 4 * s, 5 * s, 9 * s}, 10 * s, 12 * s},
		{"disabled by an empty list", []DialLimit{}, []time.Duration{0, 0, 0}, 0, 0},
		{"invalid entries ignored", []DialLimit{{0, s}, {-1, s}, {1, 0}}, []time.Duration{0, 0}, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := newDialLimiter(tc.limits)
			for _, o := range tc.opened {
				l.record(r0.Add(o))
			}
			if got := l.next(r0.Add(tc.at)).Sub(r0); got != tc.want {
				t.Fatalf("next(+%v) = +%v, want +%v", tc.at, got, tc.want)
			}
		})
	}
}

// A server that accepts connections and drops them at once never makes a
// healthy connection: the backoff keeps growing instead of resetting on
// every connect (the reconnect storm). A connection that carried answers
// for HealthyAfter resets it.
func TestReconnectBackoffResetsOnlyWhenHealthy(t *testing.T) {
	cfg := reconnectConfig{initial: 100 * time.Millisecond, max: 10 * time.Second, healthyAfter: 5 * time.Second, floodWait: 2 * time.Second}
	r := newReconnect(cfg, r0)
	now := r0
	var waits []time.Duration
	for range 5 {
		r.dialing(now)
		r.connected(now)
		r.answer() // even an answer: not up for HealthyAfter
		w, _ := r.lost(now.Add(time.Second), errors.New("reset"))
		waits = append(waits, w)
		now = now.Add(time.Second + w)
	}
	want := []time.Duration{100, 200, 400, 800, 1600}
	for i, w := range want {
		if waits[i] != w*time.Millisecond {
			t.Fatalf("waits %v, want %v ms", waits, want)
		}
	}
	r.dialing(now)
	r.connected(now)
	r.answer()
	if w, reason := r.lost(now.Add(5*time.Second), errors.New("reset")); w != 100*time.Millisecond {
		t.Fatalf("after a healthy connection: wait %v (%s), want 100ms", w, reason)
	}
	// Connected for long but no answer: not healthy.
	now = now.Add(time.Minute)
	r.dialing(now)
	r.connected(now)
	if w, _ := r.lost(now.Add(time.Minute), errors.New("reset")); w != 200*time.Millisecond {
		t.Fatalf("after a silent connection: wait %v, want 200ms", w)
	}
}

func TestReconnectTransportFlood(t *testing.T) {
	cfg := reconnectConfig{initial: 100 * time.Millisecond, max: 10 * time.Second, healthyAfter: 5 * time.Second, floodWait: 2 * time.Second}
	r := newReconnect(cfg, r0)
	flood := &codec.ProtocolErr{Code: codec.CodeTransportFlood}
	now := r0
	var waits []time.Duration
	for range 5 {
		r.dialing(now)
		r.connected(now)
		w, reason := r.lost(now, flood)
		if reason != "transport flood (-429)" {
			t.Fatalf("reason %q", reason)
		}
		waits = append(waits, w)
		now = now.Add(w)
	}
	want := []time.Duration{2, 4, 8, 10, 10}
	for i, w := range want {
		if waits[i] != w*time.Second {
			t.Fatalf("waits after -429 %v, want %v s", waits, want)
		}
	}
	// A healthy connection ends the flood.
	r.dialing(now)
	r.connected(now)
	r.answer()
	now = now.Add(time.Minute)
	if w, _ := r.lost(now, flood); w != 2*time.Second {
		t.Fatalf("first -429 after a healthy connection: wait %v, want 2s", w)
	}
}

// The rate limit holds even when the backoff would dial sooner.
func TestReconnectDialLimit(t *testing.T) {
	cfg := reconnectConfig{initial: time.Millisecond, max: time.Millisecond, healthyAfter: time.Second, floodWait: time.Second, limits: DefaultDialLimits}
	r := newReconnect(cfg, r0)
	now := r0
	var dials []time.Duration
	for range 5 {
		if w, ok := r.allowed(now); !ok {
			t.Fatalf("dial at +%v not allowed (wait %v) though lost() said so", now.Sub(r0), w)
		}
		r.dialing(now)
		dials = append(dials, now.Sub(r0))
		w, _ := r.lost(now, errors.New("refused"))
		now = now.Add(w)
	}
	want := []time.Duration{0, 1, 4, 8, 9} // 1 per 1 s, 2 per 4 s, 3 per 8 s
	for i, d := range want {
		if dials[i] != d*time.Second {
			t.Fatalf("dials at %v, want %v s", dials, want)
		}
	}
}
