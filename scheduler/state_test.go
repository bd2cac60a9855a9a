package scheduler

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/gotd/td/tgerr"

	"github.com/tlsched/tlsched/tl"
)

var t0 = time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)

const ms = time.Millisecond

func newTest(cfg Config) *State {
	cfg.Backoff.NoJitter = true
	return New(cfg)
}

func submit(t *testing.T, s *State, now time.Time, cs ...Call) {
	t.Helper()
	for _, c := range cs {
		if c.Method == "" {
			c.Method = "messages.sendMessage"
		}
		done, err := s.Submit(now, c)
		if err != nil {
			t.Fatal(err)
		}
		if len(done) != 0 {
			t.Fatalf("submit %d finished at once: %+v", c.ID, done)
		}
	}
}

// ids flattens batches to call ids per batch.
func ids(bs []Batch) [][]CallID {
	var out [][]CallID
	for _, b := range bs {
		var x []CallID
		for _, c := range b.Calls {
			x = append(x, c.Call.ID)
		}
		out = append(out, x)
	}
	return out
}

func ready(t *testing.T, s *State, now time.Time) [][]CallID {
	t.Helper()
	bs, done := s.Ready(now)
	if len(done) != 0 {
		t.Fatalf("unexpected failures: %+v", done)
	}
	return ids(bs)
}

func eq(t *testing.T, got, want [][]CallID) {
	t.Helper()
	if !slices.EqualFunc(got, want, slices.Equal[[]CallID]) {
		t.Fatalf("batches %v, want %v", got, want)
	}
}

func calls(from, n int) []Call {
	out := make([]Call, n)
	for i := range out {
		out[i] = Call{ID: CallID(from + i), Size: 50}
	}
	return out
}

func rpc(code int, msg string) error { return tgerr.New(code, msg) }

func TestAdaptiveWindow(t *testing.T) {
	s := newTest(Config{})
	submit(t, s, t0, calls(1, 1)...)
	eq(t, ready(t, s, t0), [][]CallID{{1}}) // idle DC: at once
	submit(t, s, t0, calls(2, 3)...)
	eq(t, ready(t, s, t0), nil) // busy: wait for more
	when, ok := s.NextDeadline()
	if !ok || !when.Equal(t0.Add(ms)) {
		t.Fatalf("deadline %v %v", when, ok)
	}
	eq(t, ready(t, s, t0.Add(ms-1)), nil)
	eq(t, ready(t, s, t0.Add(ms)), [][]CallID{{2, 3, 4}})
	if _, ok := s.NextDeadline(); ok {
		t.Fatal("nothing to do until answers arrive")
	}
}

func TestCaps(t *testing.T) {
	t.Run("messages", func(t *testing.T) {
		s := newTest(Config{MaxMessages: 10})
		submit(t, s, t0, calls(1, 25)...)
		got := ready(t, s, t0)
		if len(got) != 2 || len(got[0]) != 10 || len(got[1]) != 10 {
			t.Fatalf("%v", got)
		}
		if got := ready(t, s, t0.Add(ms)); len(got) != 1 || len(got[0]) != 5 {
			t.Fatalf("rest after the window: %v", got)
		}
	})
	t.Run("bytes", func(t *testing.T) {
		s := newTest(Config{MaxBytes: 120})
		submit(t, s, t0, Call{ID: 1, Size: 50}, Call{ID: 2, Size: 50}, Call{ID: 3, Size: 50}, Call{ID: 4, Size: 500})
		eq(t, ready(t, s, t0), [][]CallID{{1, 2}})
		eq(t, ready(t, s, t0.Add(ms)), [][]CallID{{3}, {4}}) // an oversize call goes alone
	})
	t.Run("in flight", func(t *testing.T) {
		s := newTest(Config{MaxInFlight: 3})
		submit(t, s, t0, calls(1, 5)...)
		eq(t, ready(t, s, t0), [][]CallID{{1, 2, 3}})
		eq(t, ready(t, s, t0.Add(time.Second)), nil)
		s.Complete(t0, 2, nil)
		eq(t, ready(t, s, t0.Add(time.Second)), [][]CallID{{4}})
	})
	t.Run("queue", func(t *testing.T) {
		s := newTest(Config{MaxQueued: 2})
		submit(t, s, t0, calls(1, 2)...)
		if _, err := s.Submit(t0, Call{ID: 3}); !errors.Is(err, ErrQueueFull) {
			t.Fatalf("%v", err)
		}
		if _, err := s.Submit(t0, Call{ID: 1}); err == nil {
			t.Fatal("duplicate id accepted")
		}
	})
}

func TestChainInOneContainer(t *testing.T) {
	s := newTest(Config{})
	submit(t, s, t0, Call{ID: 1}, Call{ID: 2, After: 1}, Call{ID: 3, After: 2})
	bs, _ := s.Ready(t0)
	if len(bs) != 1 || len(bs[0].Calls) != 3 {
		t.Fatalf("%v", ids(bs))
	}
	c := bs[0].Calls
	if c[0].After != 0 || c[1].After != 1 || c[2].After != 2 {
		t.Fatalf("wrapping %+v", c)
	}
}

func TestChainAcrossDCsWaitsForResult(t *testing.T) {
	s := newTest(Config{})
	submit(t, s, t0, Call{ID: 1, DC: 1}, Call{ID: 2, DC: 2, After: 1})
	eq(t, ready(t, s, t0), [][]CallID{{1}})
	done := s.Complete(t0, 1, nil)
	if len(done) != 1 || done[0].Err != nil {
		t.Fatalf("%+v", done)
	}
	bs, _ := s.Ready(t0)
	if eq(t, ids(bs), [][]CallID{{2}}); bs[0].Calls[0].After != 0 || bs[0].DC != 2 {
		t.Fatalf("%+v", bs[0])
	}
}

func TestChainRepairAfterFloodWaitOnHead(t *testing.T) {
	s := newTest(Config{})
	submit(t, s, t0, Call{ID: 1}, Call{ID: 2, After: 1, Method: "messages.forwardMessages"})
	eq(t, ready(t, s, t0), [][]CallID{{1, 2}})
	// The head floods; the server fails the dependent with MSG_WAIT_FAILED.
	if d := s.Complete(t0, 1, rpc(420, "FLOOD_WAIT_2")); len(d) != 0 {
		t.Fatalf("%+v", d)
	}
	if d := s.Complete(t0, 2, rpc(400, "MSG_WAIT_FAILED")); len(d) != 0 {
		t.Fatalf("%+v", d)
	}
	eq(t, ready(t, s, t0.Add(time.Second)), nil) // the dependent waits for its head
	bs, _ := s.Ready(t0.Add(2 * time.Second))
	if eq(t, ids(bs), [][]CallID{{1, 2}}); bs[0].Calls[1].After != 1 || bs[0].Calls[0].Attempt != 2 {
		t.Fatalf("repaired chain %+v", bs[0].Calls)
	}
	s.Complete(t0, 1, nil)
	if d := s.Complete(t0, 2, nil); len(d) != 1 || d[0].Err != nil {
		t.Fatalf("%+v", d)
	}
	if st := s.Stats(); st.ChainRepairs != 1 || st.FloodWaits != 1 {
		t.Fatalf("%+v", st)
	}
}

func TestChainBrokenByFinalFailure(t *testing.T) {
	s := newTest(Config{})
	submit(t, s, t0, Call{ID: 1, DC: 1}, Call{ID: 2, DC: 1, After: 1}, Call{ID: 3, DC: 2, After: 2})
	eq(t, ready(t, s, t0), [][]CallID{{1, 2}})
	done := s.Complete(t0, 1, rpc(400, "PEER_ID_INVALID"))
	if len(done) != 1 || done[0].ID != 1 {
		t.Fatalf("%+v", done)
	}
	// 2 is in flight: its MSG_WAIT_FAILED turns final; 3 never runs.
	done = s.Complete(t0, 2, rpc(400, "MSG_WAIT_FAILED"))
	var cb *ChainBrokenError
	if len(done) != 2 || !errors.As(done[0].Err, &cb) || cb.Pred != 1 || !errors.As(done[1].Err, &cb) || cb.Pred != 2 {
		t.Fatalf("%+v", done)
	}
	if !tgerr.Is(done[1].Err, "PEER_ID_INVALID") {
		t.Fatalf("chain error must carry the root cause: %v", done[1].Err)
	}
	// A call submitted after a failed one fails at once.
	d, err := s.Submit(t0, Call{ID: 4, After: 1})
	if err != nil || len(d) != 1 || !errors.As(d[0].Err, &cb) {
		t.Fatalf("%v %+v", err, d)
	}
	if s.Len() != 0 {
		t.Fatalf("%d calls left", s.Len())
	}
}

func TestFloodGateHoldsOnlyItsMethod(t *testing.T) {
	s := newTest(Config{})
	submit(t, s, t0, Call{ID: 1})
	eq(t, ready(t, s, t0), [][]CallID{{1}})
	s.Complete(t0, 1, rpc(420, "FLOOD_WAIT_2"))
	submit(t, s, t0, Call{ID: 2}, Call{ID: 3, Method: "users.getUsers"})
	eq(t, ready(t, s, t0), [][]CallID{{3}}) // other methods keep flowing
	s.Complete(t0, 3, nil)
	if when, ok := s.NextDeadline(); !ok || !when.Equal(t0.Add(2*time.Second)) {
		t.Fatalf("deadline %v", when)
	}
	eq(t, ready(t, s, t0.Add(1999*ms)), nil)
	eq(t, ready(t, s, t0.Add(2*time.Second)), [][]CallID{{1, 2}})
}

func TestSlowModeGatesOnlyThatChat(t *testing.T) {
	s := newTest(Config{})
	submit(t, s, t0, Call{ID: 1, Peer: "chat:1"})
	ready(t, s, t0)
	s.Complete(t0, 1, rpc(420, "SLOWMODE_WAIT_10"))
	submit(t, s, t0, Call{ID: 2, Peer: "chat:1"}, Call{ID: 3, Peer: "chat:2"})
	eq(t, ready(t, s, t0), [][]CallID{{3}})
	s.Complete(t0, 3, nil)
	eq(t, ready(t, s, t0.Add(10*time.Second)), [][]CallID{{1, 2}})
}

func TestLongFloodWaitFails(t *testing.T) {
	s := newTest(Config{FloodThreshold: 60 * time.Second})
	submit(t, s, t0, Call{ID: 1}, Call{ID: 2, Method: "users.getUsers"})
	ready(t, s, t0)
	submit(t, s, t0, Call{ID: 3})
	done := s.Complete(t0, 1, rpc(420, "FLOOD_WAIT_3600"))
	fw, ok := tl.AsFloodWait(done[0].Err)
	if len(done) != 1 || !ok || fw.Duration != time.Hour {
		t.Fatalf("%+v", done)
	}
	// Queued calls of the method fail too instead of waiting an hour.
	bs, done := s.Ready(t0.Add(ms))
	if len(bs) != 0 || len(done) != 1 || done[0].ID != 3 {
		t.Fatalf("%v %+v", ids(bs), done)
	}
	if fw, ok := tl.AsFloodWait(done[0].Err); !ok || fw.Duration < 59*time.Minute {
		t.Fatalf("%v", done[0].Err)
	}
}

func TestBackoffRetriesThenGivesUp(t *testing.T) {
	s := newTest(Config{MaxAttempts: 3, Backoff: BackoffConfig{Initial: 100 * ms}})
	submit(t, s, t0, Call{ID: 1})
	ready(t, s, t0)
	s.Complete(t0, 1, rpc(500, "INTERNAL"))
	eq(t, ready(t, s, t0.Add(99*ms)), nil)
	eq(t, ready(t, s, t0.Add(100*ms)), [][]CallID{{1}})
	s.Complete(t0.Add(100*ms), 1, rpc(-503, "Timeout"))
	eq(t, ready(t, s, t0.Add(299*ms)), nil)
	eq(t, ready(t, s, t0.Add(300*ms)), [][]CallID{{1}}) // 200 ms later: ×2
	done := s.Complete(t0.Add(300*ms), 1, rpc(500, "INTERNAL"))
	if len(done) != 1 || done[0].Attempts != 3 || !tgerr.Is(done[0].Err, "INTERNAL") {
		t.Fatalf("%+v", done)
	}
}

func TestMigration(t *testing.T) {
	s := newTest(Config{HomeDC: 2})
	submit(t, s, t0, Call{ID: 1})
	ready(t, s, t0)
	s.Complete(t0, 1, rpc(303, "USER_MIGRATE_4"))
	bs, _ := s.Ready(t0)
	if len(bs) != 1 || bs[0].DC != 4 || s.HomeDC() != 4 {
		t.Fatalf("%+v home %d", bs, s.HomeDC())
	}
	s.Complete(t0, 1, nil)
	// FILE_MIGRATE moves the call only.
	submit(t, s, t0, Call{ID: 2, Method: "upload.getFile"})
	bs, _ = s.Ready(t0)
	s.Complete(t0, 2, rpc(303, "FILE_MIGRATE_5"))
	bs, _ = s.Ready(t0)
	if len(bs) != 1 || bs[0].DC != 5 || s.HomeDC() != 4 {
		t.Fatalf("%+v home %d", bs, s.HomeDC())
	}
}

func TestLostDCRetriesWithSamePayload(t *testing.T) {
	s := newTest(Config{})
	payload := &struct{ RandomID int64 }{42}
	submit(t, s, t0, Call{ID: 1, Payload: payload}, Call{ID: 2})
	ready(t, s, t0)
	if d := s.LostDC(t0, 2, errors.New("connection reset")); len(d) != 0 {
		t.Fatalf("%+v", d)
	}
	if s.InFlight(2) != 0 {
		t.Fatal("lost calls still counted in flight")
	}
	bs, _ := s.Ready(t0.Add(100 * ms))
	if eq(t, ids(bs), [][]CallID{{1, 2}}); bs[0].Calls[0].Call.Payload != payload {
		t.Fatal("payload (and its random_id) must be the same on retry")
	}
	// The late answer from the lost connection is ignored.
	if d := s.Complete(t0, 1, nil); len(d) != 1 {
		t.Fatalf("%+v", d)
	}
	if d := s.Complete(t0, 1, nil); len(d) != 0 || s.Stats().LateResults != 1 {
		t.Fatal("duplicate answer not ignored")
	}
}

func TestCancel(t *testing.T) {
	s := newTest(Config{})
	submit(t, s, t0, Call{ID: 1}, Call{ID: 2})
	ready(t, s, t0)
	submit(t, s, t0, Call{ID: 3}, Call{ID: 4, After: 3})
	if _, ok := s.Cancel(t0, 1); ok {
		t.Fatal("a sent call cannot be cancelled")
	}
	done, ok := s.Cancel(t0, 3)
	if !ok || len(done) != 2 || !errors.Is(done[0].Err, context.Canceled) || !errors.Is(done[1].Err, context.Canceled) {
		t.Fatalf("%+v", done)
	}
	eq(t, ready(t, s, t0.Add(time.Second)), nil)
}
