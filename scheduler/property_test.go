package scheduler

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/gotd/td/tgerr"
	"pgregory.net/rapid"
)

// sentCall is a call on the model server's wire.
type sentCall struct {
	dc    int
	after CallID // the invokeAfterMsg wrapper, 0 if none
}

// model drives a State with random submissions, time steps, answers,
// cancellations and lost connections, answering like a server would
// (invokeAfterMsg: a dependent is answered only after its predecessor, with
// MSG_WAIT_FAILED if that failed), and checks the promises of the package.
type model struct {
	t        *rapid.T
	s        *State
	cfg      Config
	now      time.Time
	next     CallID
	calls    map[CallID]Call
	done     map[CallID]error
	inflight map[CallID]sentCall
	lastErr  map[CallID]error // last answer the server gave each call
	answered map[CallID]bool
	gates    map[string]time.Time
	maybeRan map[CallID]bool // lost after it was written, or answered 5xx
	parked   map[int]bool    // DCs down with no connection: nothing goes there
}

var outcomes = []string{"ok", "ok", "ok", "ok", "FLOOD_WAIT_1", "SLOWMODE_WAIT_1", "INTERNAL",
	"PEER_ID_INVALID", "USER_MIGRATE_1", "FILE_MIGRATE_2", "MSG_WAIT_TIMEOUT"}

func rpcFor(name string) error {
	switch name {
	case "ok":
		return nil
	case "INTERNAL":
		return tgerr.New(500, name)
	case "PEER_ID_INVALID", "MSG_WAIT_TIMEOUT", "MSG_WAIT_FAILED":
		return tgerr.New(400, name)
	case "USER_MIGRATE_1", "FILE_MIGRATE_2":
		return tgerr.New(303, name)
	}
	return tgerr.New(420, name)
}

func (m *model) record(done []Done) {
	for _, d := range done {
		if prev, dup := m.done[d.ID]; dup {
			m.t.Fatalf("call %d answered twice (%v, then %v)", d.ID, prev, d.Err)
		}
		if _, known := m.calls[d.ID]; !known {
			m.t.Fatalf("done for unknown call %d", d.ID)
		}
		m.done[d.ID] = d.Err
		delete(m.inflight, d.ID)
		var cb *ChainBrokenError
		if !errors.As(d.Err, &cb) {
			// A call's own unanswered failure says truly whether it may
			// have run (a dependent's carries its predecessor's).
			if errors.Is(d.Err, ErrNotSent) && m.maybeRan[d.ID] {
				m.t.Fatalf("call %d failed as not sent, but it may have run: %v", d.ID, d.Err)
			}
			if errors.Is(d.Err, ErrMayHaveRun) && !m.maybeRan[d.ID] {
				m.t.Fatalf("call %d failed as may have run, but it never was written: %v", d.ID, d.Err)
			}
		}
		if d.Err == nil {
			if p := m.calls[d.ID].After; p != 0 {
				if perr, ok := m.done[p]; !ok || perr != nil {
					m.t.Fatalf("call %d succeeded though its predecessor %d has not (done=%v err=%v)", d.ID, p, ok, perr)
				}
			}
		}
	}
}

func (m *model) submit(t *rapid.T) {
	m.next++
	c := Call{
		ID:     m.next,
		Method: rapid.SampledFrom([]string{"a", "b"}).Draw(t, "method"),
		Peer:   rapid.SampledFrom([]string{"", "p"}).Draw(t, "peer"),
		DC:     rapid.IntRange(1, 2).Draw(t, "dc"),
		Size:   rapid.IntRange(1, 40).Draw(t, "size"),
	}
	if m.next > 1 && rapid.Bool().Draw(t, "ordered") {
		c.After = CallID(rapid.IntRange(1, int(m.next)-1).Draw(t, "after"))
	}
	m.calls[c.ID] = c
	done, err := m.s.Submit(m.now, c)
	if err != nil {
		t.Fatal(err)
	}
	m.record(done)
}

func (m *model) ready(t *rapid.T) {
	m.now = m.now.Add(time.Duration(rapid.IntRange(0, 1500).Draw(t, "step_ms")) * time.Millisecond)
	bs, done := m.s.Ready(m.now)
	m.record(done)
	m.check(bs)
}

func (m *model) gateOpen(c Call) bool {
	if until, ok := m.gates["m:"+c.Method]; ok && until.After(m.now) {
		return false
	}
	if until, ok := m.gates["p:"+c.Peer]; ok && c.Peer != "" && until.After(m.now) {
		return false
	}
	return true
}

func (m *model) check(bs []Batch) {
	t := m.t
	for _, b := range bs {
		if len(b.Calls) == 0 || len(b.Calls) > m.cfg.MaxMessages {
			t.Fatalf("batch of %d calls (cap %d)", len(b.Calls), m.cfg.MaxMessages)
		}
		if len(b.Calls) > 1 && b.Bytes > m.cfg.MaxBytes {
			t.Fatalf("batch of %d bytes (cap %d)", b.Bytes, m.cfg.MaxBytes)
		}
		if m.parked[b.DC] {
			t.Fatalf("batch sent to dc %d, which is down", b.DC)
		}
		for _, sc := range b.Calls {
			c := *sc.Call
			if _, d := m.done[c.ID]; d {
				t.Fatalf("call %d sent after it was done", c.ID)
			}
			if _, on := m.inflight[c.ID]; on {
				t.Fatalf("call %d sent while in flight", c.ID)
			}
			if !m.gateOpen(c) {
				t.Fatalf("call %d (%s, peer %q) sent through a closed gate", c.ID, c.Method, c.Peer)
			}
			if p := c.After; p != 0 {
				perr, pdone := m.done[p]
				ps, pon := m.inflight[p]
				switch {
				case pdone && perr == nil:
				case pon && ps.dc == b.DC && sc.After == p:
				default:
					t.Fatalf("call %d sent out of order: predecessor %d done=%v (%v) in flight=%v, wrapped after %d",
						c.ID, p, pdone, perr, pon, sc.After)
				}
			}
			m.inflight[c.ID] = sentCall{dc: b.DC, after: sc.After}
			delete(m.answered, c.ID)
		}
		n := 0
		for _, s := range m.inflight {
			if s.dc == b.DC {
				n++
			}
		}
		if n > m.cfg.MaxInFlight {
			t.Fatalf("%d calls in flight on dc %d (cap %d)", n, b.DC, m.cfg.MaxInFlight)
		}
	}
}

// answerable lists calls the server can answer now: not waiting behind an
// unanswered invokeAfterMsg predecessor.
func (m *model) answerable() []CallID {
	var ids []CallID
	for id, s := range m.inflight {
		if s.after != 0 {
			if _, waiting := m.inflight[s.after]; waiting && !m.answered[s.after] {
				continue
			}
		}
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

func (m *model) answer(id CallID, outcome string) {
	s := m.inflight[id]
	if s.after != 0 {
		if err := m.lastErr[s.after]; err != nil {
			outcome = "MSG_WAIT_FAILED" // MTProto: the awaited call failed
		}
	}
	err := rpcFor(outcome)
	c := m.calls[id]
	if fw, ok := tgerr.As(err); ok && fw.Code == 420 {
		until := m.now.Add(time.Duration(fw.Argument) * time.Second)
		key := "m:" + c.Method
		if fw.Type == "SLOWMODE_WAIT" && c.Peer != "" {
			key = "p:" + c.Peer
		}
		if until.After(m.gates[key]) {
			m.gates[key] = until
		}
	}
	if outcome == "INTERNAL" {
		m.maybeRan[id] = true
	}
	m.lastErr[id] = err
	m.answered[id] = true
	delete(m.inflight, id)
	m.record(m.s.Complete(m.now, id, err))
}

func (m *model) complete(t *rapid.T) {
	ids := m.answerable()
	if len(ids) == 0 {
		t.Skip("nothing to answer")
	}
	id := rapid.SampledFrom(ids).Draw(t, "answer")
	m.answer(id, rapid.SampledFrom(outcomes).Draw(t, "outcome"))
}

func (m *model) cancel(t *rapid.T) {
	if m.next == 0 {
		t.Skip("no calls")
	}
	id := CallID(rapid.IntRange(1, int(m.next)).Draw(t, "cancel"))
	done, _ := m.s.Cancel(m.now, id)
	m.record(done)
}

func (m *model) lose(t *rapid.T) {
	dc := rapid.IntRange(1, 2).Draw(t, "lost_dc")
	for id, s := range m.inflight {
		if s.dc == dc {
			m.maybeRan[id] = true
			delete(m.inflight, id)
		}
	}
	m.record(m.s.LostDC(m.now, dc, fmt.Errorf("connection reset")))
}

// down is a DC actor losing its connection: the DC is down, then the calls
// in flight on it are lost, each written or not.
func (m *model) down(t *rapid.T) {
	dc := rapid.IntRange(1, 2).Draw(t, "down_dc")
	var ids []CallID
	for id, s := range m.inflight {
		if s.dc == dc {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	var l Lost
	for _, id := range ids {
		if rapid.Bool().Draw(t, "written") {
			l.MaybeSent = append(l.MaybeSent, id)
			m.maybeRan[id] = true
		} else {
			l.NotSent = append(l.NotSent, id)
		}
		delete(m.inflight, id)
	}
	m.parked[dc] = true
	m.record(m.s.DCDown(m.now, dc, errors.New("connection refused")))
	m.record(m.s.Lost(m.now, dc, l, errors.New("connection refused")))
}

// connect is a connection opening to a DC, and maybe answering.
func (m *model) connect(t *rapid.T) {
	dc := rapid.IntRange(1, 2).Draw(t, "up_dc")
	m.parked[dc] = false
	m.record(m.s.DCConnected(m.now, dc))
	if rapid.Bool().Draw(t, "answers") {
		m.record(m.s.DCUp(m.now, dc))
	}
}

// drain answers everything successfully until the scheduler is empty; it
// fails if the scheduler stops making progress.
func (m *model) drain() {
	for dc := 1; dc <= 2; dc++ {
		m.parked[dc] = false
		m.record(m.s.DCConnected(m.now, dc))
		m.record(m.s.DCUp(m.now, dc))
	}
	for round := 0; m.s.Len() > 0; round++ {
		if round > 2000 {
			m.t.Fatalf("no progress: %d calls left, %d in flight", m.s.Len(), len(m.inflight))
		}
		m.now = m.now.Add(2 * time.Second)
		bs, done := m.s.Ready(m.now)
		m.record(done)
		m.check(bs)
		for _, id := range m.answerable() {
			m.answer(id, "ok")
		}
	}
	for id := range m.calls {
		if _, ok := m.done[id]; !ok {
			m.t.Fatalf("call %d never answered", id)
		}
	}
	if len(m.inflight) != 0 {
		m.t.Fatalf("%d calls in flight after the end", len(m.inflight))
	}
}

func TestSchedulerProperties(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		cfg := Config{MaxMessages: 4, MaxBytes: 60, MaxInFlight: 6, FloodThreshold: 2 * time.Second,
			MaxAttempts: 4, OutageTimeout: 5 * time.Second, Backoff: BackoffConfig{NoJitter: true}}
		m := &model{t: t, s: New(cfg), cfg: cfg.WithDefaults(), now: t0,
			calls: map[CallID]Call{}, done: map[CallID]error{}, inflight: map[CallID]sentCall{},
			lastErr: map[CallID]error{}, answered: map[CallID]bool{}, gates: map[string]time.Time{},
			maybeRan: map[CallID]bool{}, parked: map[int]bool{}}
		t.Repeat(map[string]func(*rapid.T){
			"submit":   m.submit,
			"ready":    m.ready,
			"complete": m.complete,
			"cancel":   m.cancel,
			"lose":     m.lose,
			"down":     m.down,
			"connect":  m.connect,
		})
		m.drain()
	})
}
