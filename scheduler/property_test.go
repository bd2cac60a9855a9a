package scheduler

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
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
	canceled map[CallID]bool // cancelled: never sent again
	executed map[CallID]bool // run by the server (answered without an error)
	sends    map[CallID]int  // sends of each call
	// paced holds the send times of paced writes by key ("account" and
	// the chat), to check the limits are kept.
	paced map[string][]time.Time
	// awaits holds dependents handed back (MSG_WAIT_TIMEOUT, a session that
	// could not name the predecessor) while their predecessor was in
	// flight: its send count then. They must not go out again after that
	// same send.
	awaits map[CallID]int
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
		if !m.canceled[d.ID] {
			// A call cancelled in flight stays in flight until its answer.
			delete(m.inflight, d.ID)
		}
		// A failure says truly whether the call may have run.
		if errors.Is(d.Err, ErrNotSent) && m.maybeRan[d.ID] {
			m.t.Fatalf("call %d failed as not sent, but it may have run: %v", d.ID, d.Err)
		}
		if errors.Is(d.Err, ErrMayHaveRun) && !m.maybeRan[d.ID] {
			m.t.Fatalf("call %d failed as may have run, but it never was written: %v", d.ID, d.Err)
		}
		if d.Err == nil {
			// (The predecessor may have been cancelled in flight and run
			// all the same: the server's order is what counts.)
			if p := m.calls[d.ID].After; p != 0 && !m.executed[p] {
				perr, ok := m.done[p]
				m.t.Fatalf("call %d succeeded though its predecessor %d did not run (done=%v err=%v)", d.ID, p, ok, perr)
			}
		}
	}
}

func (m *model) submit(t *rapid.T) {
	m.next++
	c := Call{
		ID:     m.next,
		Method: rapid.SampledFrom([]string{"a", "b"}).Draw(t, "method"),
		Peer:   rapid.SampledFrom([]string{"", "p", "user:1", "user:2", "chat:3"}).Draw(t, "peer"),
		Writes: rapid.Bool().Draw(t, "writes"),
		DC:     rapid.IntRange(0, 2).Draw(t, "dc"), // 0: the home DC
		Size:   rapid.IntRange(1, 40).Draw(t, "size"),
	}
	if m.next > 1 && rapid.Bool().Draw(t, "ordered") {
		c.After = CallID(rapid.IntRange(1, int(m.next)-1).Draw(t, "after"))
		if err, done := m.done[c.After]; done && err == nil {
			// The owner's part (Call.After): a predecessor that succeeded
			// is nothing to wait for.
			c.After = 0
		}
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
	if until, ok := m.gates["p:"+c.Peer]; ok && c.Peer != "" && c.Writes && until.After(m.now) {
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
				t.Fatalf("call %d sent after it was done (cancelled: %v)", c.ID, m.canceled[c.ID])
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
			if n, ok := m.awaits[c.ID]; ok && sc.After != 0 && m.sends[sc.After] == n {
				t.Fatalf("call %d resent after the same attempt of its predecessor %d", c.ID, sc.After)
			}
			delete(m.awaits, c.ID)
			m.sends[c.ID]++
			if m.cfg.Pacing.On && c.Writes && c.Peer != "" {
				m.pace("account", m.cfg.Pacing.Account)
				r := m.cfg.Pacing.Group
				if strings.HasPrefix(c.Peer, "user:") {
					r = m.cfg.Pacing.Private
				}
				m.pace(c.Peer, r)
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

// pace records a paced send on key and checks the key's limit: in any
// window ending now, at most Burst + N·window/Per sends (learning only
// lowers rates; probing needs far longer than a run).
func (m *model) pace(key string, r Rate) {
	m.paced[key] = append(m.paced[key], m.now)
	ts := m.paced[key]
	for i, t := range ts {
		n := len(ts) - i
		allowed := float64(r.Burst) + float64(r.N)*m.now.Sub(t).Seconds()/r.Per.Seconds()
		if float64(n) > allowed+1e-9 {
			m.t.Fatalf("%s: %d paced sends in %v (limit %d/%v, bursts of %d)", key, n, m.now.Sub(t), r.N, r.Per, r.Burst)
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
	if outcome == "ok" {
		// The server runs it: its predecessor must have run before.
		if p := m.calls[id].After; p != 0 && !m.executed[p] {
			m.t.Fatalf("server ran call %d before its predecessor %d", id, p)
		}
		m.executed[id] = true
	}
	err := rpcFor(outcome)
	c := m.calls[id]
	if fw, ok := tgerr.As(err); ok && fw.Code == 420 {
		until := m.now.Add(time.Duration(fw.Argument) * time.Second)
		key := "m:" + c.Method
		if fw.Type == "SLOWMODE_WAIT" && c.Peer != "" {
			key = "p:" + c.Peer
			// The server says slow mode holds it: a write.
			c.Writes = true
			m.calls[id] = c
		}
		if m.cfg.Pacing.On && c.Writes && c.Peer != "" {
			// Paced writes: the model's server floods per chat (a
			// chat's limit), which the pacer may take for the account's.
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
	if _, done := m.done[id]; !done {
		if _, on := m.inflight[id]; on {
			m.maybeRan[id] = true // it was written: it may run
		}
		m.canceled[id] = true
	}
	m.record(m.s.Cancel(m.now, id, context.Canceled))
}

// timeout is the server answering MSG_WAIT_TIMEOUT to a dependent whose
// predecessor is slow (in flight, unanswered).
func (m *model) timeout(t *rapid.T) {
	var ids []CallID
	for id, s := range m.inflight {
		if _, waiting := m.inflight[s.after]; s.after != 0 && waiting && !m.answered[s.after] {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		t.Skip("no dependent behind a slow predecessor")
	}
	slices.Sort(ids)
	id := rapid.SampledFrom(ids).Draw(t, "timeout")
	m.awaits[id] = m.sends[m.inflight[id].after]
	err := tgerr.New(400, "MSG_WAIT_TIMEOUT")
	m.lastErr[id] = err
	m.answered[id] = true
	delete(m.inflight, id)
	m.record(m.s.Complete(m.now, id, err))
}

// unnamed is a DC actor's session handing back, unsent, a dependent whose
// predecessor it does not hold (answered meanwhile, or sent in an older
// session): the dependent must not go out unwrapped before that answer.
func (m *model) unnamed(t *rapid.T) {
	var ids []CallID
	for id, s := range m.inflight {
		if s.after != 0 {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		t.Skip("no wrapped dependent in flight")
	}
	slices.Sort(ids)
	id := rapid.SampledFrom(ids).Draw(t, "unnamed")
	dc := m.inflight[id].dc
	// The session hands back the calls wrapped after it too: it cannot
	// name them either.
	back := []CallID{id}
	for i := 0; i < len(back); i++ {
		for d, s := range m.inflight {
			if s.after == back[i] && !slices.Contains(back, d) {
				back = append(back, d)
			}
		}
	}
	for _, b := range back {
		if _, on := m.inflight[m.inflight[b].after]; on {
			m.awaits[b] = m.sends[m.inflight[b].after]
		}
	}
	for _, b := range back {
		delete(m.inflight, b)
	}
	m.record(m.s.Lost(m.now, dc, Lost{NotSent: back}, errors.New("predecessor unknown to the session")))
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
			if _, on := m.inflight[id]; on {
				m.answer(id, "ok")
			}
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
		if rapid.Bool().Draw(t, "pacing") {
			cfg.Pacing = PacingConfig{On: true, Account: Rate{N: 5, Per: time.Second, Burst: 3},
				Private: Rate{N: 2, Per: time.Second, Burst: 2}, Group: Rate{N: 1, Per: time.Second, Burst: 1}}
		}
		m := &model{t: t, s: New(cfg), cfg: cfg.WithDefaults(), now: t0,
			calls: map[CallID]Call{}, done: map[CallID]error{}, inflight: map[CallID]sentCall{},
			lastErr: map[CallID]error{}, answered: map[CallID]bool{}, gates: map[string]time.Time{},
			maybeRan: map[CallID]bool{}, parked: map[int]bool{}, canceled: map[CallID]bool{}, executed: map[CallID]bool{},
			sends: map[CallID]int{}, awaits: map[CallID]int{}, paced: map[string][]time.Time{}}
		t.Repeat(map[string]func(*rapid.T){
			"submit":   m.submit,
			"ready":    m.ready,
			"complete": m.complete,
			"cancel":   m.cancel,
			"timeout":  m.timeout,
			"unnamed":  m.unnamed,
			"lose":     m.lose,
			"down":     m.down,
			"connect":  m.connect,
		})
		m.drain()
	})
}
