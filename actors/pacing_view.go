package actors

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/tlsched/tlsched/scheduler"
	"github.com/tlsched/tlsched/telemetry"
)

// What the pacer does, made visible: the scheduler actor measures how long
// each paced call waited for its turn (a "pacer.wait" span event and
// histogram), publishes the pacer's rates to the telemetry gauges, and
// answers Client.Pacing.

// PacingReport is what the pacer did since the Client started, and the
// rates it uses now (Client.Pacing). With pacing off (PacerView.On false)
// only the flood-wait figures are filled in.
type PacingReport struct {
	// PacerView holds the rates (account, defaults, learned chats).
	scheduler.PacerView
	// Stats counts the pacer's decisions (cuts, probes, failed fast).
	Stats scheduler.PacingStats
	// Sent counts sends of chat writes the pacer held to its limits;
	// Waited sums how long the paced calls waited for their turn.
	Sent   int
	Waited time.Duration
	// FloodWaits counts the flood waits met (scheduler.Stats.FloodWaits),
	// FloodWaited sums the waits they announced.
	FloodWaits  int
	FloodWaited time.Duration
}

// Pacing returns the pacer's report. It fails with ErrClosed after Close,
// with ErrSchedulerStopped once the scheduler actor failed for good, and
// with ctx's error if ctx ends first. A scheduler actor restarted after a
// failure starts its figures over.
func (c *Client) Pacing(ctx context.Context) (PacingReport, error) {
	if c.closed.Load() {
		return PacingReport{}, ErrClosed
	}
	if c.stopped.Load() {
		return PacingReport{}, ErrSchedulerStopped
	}
	reply := make(chan PacingReport, 1)
	c.system.Root.Send(c.sched, &statsMsg{pacing: reply})
	select {
	case r := <-reply:
		return r, nil
	case <-ctx.Done():
		return PacingReport{}, ctx.Err()
	}
}

// pacedCall is a call waiting for its turn: since when, and in which
// chat's queue.
type pacedCall struct {
	since time.Time
	chat  string
}

// pacingTrack is the scheduler actor's record of the pacer's waits. It
// notices a call entering a chat's queue right after Submit (PacedNow), and
// otherwise (a retry after a flood gate, a chain's next call) by looking at
// the newest calls of each chat's queue when the pacer's count of paced
// calls grew more than Submit explains (EachPacedNewest).
type pacingTrack struct {
	on      bool
	tel     *telemetry.Telemetry
	waiting map[scheduler.CallID]pacedCall
	seen    int // the pacer's Paced count this track has accounted for
	learned int // the pacer's cuts and probes when the gauges were published
	rates   atomic.Pointer[telemetry.PacerRates]
	sent    int
	waited  time.Duration
	floods  time.Duration
}

func newPacingTrack(on bool, tel *telemetry.Telemetry, state *scheduler.State) *pacingTrack {
	t := &pacingTrack{on: on, tel: tel, waiting: map[scheduler.CallID]pacedCall{}, learned: -1}
	if on && tel != nil {
		t.publish(state)
		tel.Pacer(func() (telemetry.PacerRates, bool) {
			r := t.rates.Load()
			if r == nil {
				return telemetry.PacerRates{}, false
			}
			return *r, true
		})
	}
	return t
}

// submitted notes a call just submitted, if the pacer queued it.
func (t *pacingTrack) submitted(state *scheduler.State, id scheduler.CallID, now time.Time) {
	if !t.on {
		return
	}
	if chat, ok := state.PacedNow(id); ok {
		t.waiting[id] = pacedCall{since: now, chat: chat}
		t.seen++
	}
}

// catchUp notes the calls the pacer queued since the last look.
func (t *pacingTrack) catchUp(state *scheduler.State, now time.Time) {
	if !t.on {
		return
	}
	n := state.PacingStats().Paced
	if n == t.seen {
		return
	}
	t.seen = n
	state.EachPacedNewest(func(id scheduler.CallID, chat string) bool {
		if _, ok := t.waiting[id]; ok {
			return true
		}
		t.waiting[id] = pacedCall{since: now, chat: chat}
		return false
	})
}

// sentBatches counts paced sends and records the waits of the paced calls
// that the batches take.
func (t *pacingTrack) sentBatches(batches []scheduler.Batch, pending map[scheduler.CallID]*pending, now time.Time) {
	if !t.on {
		return
	}
	for _, b := range batches {
		for _, s := range b.Calls {
			c := s.Call
			if c.Writes && c.Peer != "" && !c.PaidFloodskip {
				t.sent++
			}
			w, ok := t.waiting[c.ID]
			if !ok {
				continue
			}
			delete(t.waiting, c.ID)
			d := now.Sub(w.since)
			t.waited += d
			if p := pending[c.ID]; p != nil {
				p.tel.PacerWait(w.chat, chatKind(w.chat), d)
			}
		}
	}
}

// done forgets a call that is final.
func (t *pacingTrack) done(id scheduler.CallID) {
	if t.on {
		delete(t.waiting, id)
	}
}

// floodWait adds a flood wait met.
func (t *pacingTrack) floodWait(d time.Duration) { t.floods += d }

// publish refreshes the gauges' rates when the pacer learned something.
func (t *pacingTrack) publish(state *scheduler.State) {
	if !t.on || t.tel == nil {
		return
	}
	st := state.PacingStats()
	n := st.ChatCuts + st.BurstCuts + st.AccountCuts + st.AccountBurstCuts + st.Probes
	if n == t.learned {
		return
	}
	t.learned = n
	v := state.PacerView()
	r := telemetry.PacerRates{Account: v.Account, AccountDefault: v.AccountBase,
		Private: telemetry.PacerKindRates{Default: v.Private, Min: v.Private},
		Group:   telemetry.PacerKindRates{Default: v.Group, Min: v.Group}}
	for _, c := range v.Chats {
		k := &r.Group
		if c.Private {
			k = &r.Private
		}
		k.Learned++
		k.Min = min(k.Min, c.Rate)
	}
	t.rates.Store(&r)
}

// report is the answer to Client.Pacing.
func (t *pacingTrack) report(state *scheduler.State) PacingReport {
	return PacingReport{PacerView: state.PacerView(), Stats: state.PacingStats(), Sent: t.sent, Waited: t.waited,
		FloodWaits: state.Stats().FloodWaits, FloodWaited: t.floods}
}

// chatKind is a chat key's kind for telemetry (bounded, unlike its id).
func chatKind(chat string) string {
	if scheduler.PrivateChat(chat) {
		return telemetry.PacerPrivate
	}
	return telemetry.PacerGroup
}
