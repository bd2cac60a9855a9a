package tgsim

import (
	"math"
	"sync"
	"time"
)

// Rate is a budget of N events per Per, with a burst of N.
type Rate struct {
	N   int
	Per time.Duration
}

func (r Rate) unlimited() bool { return r.N <= 0 || r.Per <= 0 }

// FloodConfig is the flood model. Defaults follow Telegram's published bot
// limits (core.telegram.org/bots/faq: about 30 messages per second overall,
// one per second in a private chat, 20 per minute in a group).
type FloodConfig struct {
	// Off disables the model: no call is ever answered FLOOD_WAIT.
	Off bool
	// Messages is the per-account budget of message sends. Default 30/s.
	Messages Rate
	// PrivateChat is the per-account, per-user budget of message sends.
	// Default 1/s.
	PrivateChat Rate
	// Group is the per-account, per-group (and channel) budget of message
	// sends. Default 20/min.
	Group Rate
	// Methods are per-account budgets for other methods by name.
	Methods map[string]Rate
	// DefaultMethod is the per-account budget of a method not in Methods and
	// not a message send. Default 100/s.
	DefaultMethod Rate
	// Penalty is added to the wait of a client that calls again before a wait
	// it was told has ended. Default 1 s.
	Penalty time.Duration
	// Grace is how long after a wait is announced calls still count as sent
	// before the client could know (those in the same container, say): they
	// get the rest of the wait without the penalty. Default 500 ms.
	Grace time.Duration
}

func (f FloodConfig) withDefaults() FloodConfig {
	if f.Messages == (Rate{}) {
		f.Messages = Rate{N: 30, Per: time.Second}
	}
	if f.PrivateChat == (Rate{}) {
		f.PrivateChat = Rate{N: 1, Per: time.Second}
	}
	if f.Group == (Rate{}) {
		f.Group = Rate{N: 20, Per: time.Minute}
	}
	if f.DefaultMethod == (Rate{}) {
		f.DefaultMethod = Rate{N: 100, Per: time.Second}
	}
	if f.Penalty == 0 {
		f.Penalty = time.Second
	}
	if f.Grace == 0 {
		f.Grace = 500 * time.Millisecond
	}
	return f
}

type bucketKind uint8

const (
	bucketMethod bucketKind = iota
	bucketMessages
	bucketPrivate
	bucketGroup
)

type bucketKey struct {
	account int64
	kind    bucketKind
	peer    int64
	method  string
}

type bucket struct {
	tokens float64
	last   time.Time
	// told is when the last FLOOD_WAIT announced for this bucket ends;
	// toldAt when it was announced.
	told, toldAt time.Time
}

// floodModel holds token buckets. Safe for concurrent use.
type floodModel struct {
	cfg FloodConfig
	mu  sync.Mutex
	b   map[bucketKey]*bucket
}

func newFloodModel(cfg FloodConfig) *floodModel {
	return &floodModel{cfg: cfg, b: make(map[bucketKey]*bucket)}
}

// floodCheck is one budget a call spends from.
type floodCheck struct {
	key  bucketKey
	rate Rate
}

// methodChecks lists the budgets one call of method spends: the account's
// budget for that method (FloodConfig.Methods, else DefaultMethod).
func (m *floodModel) methodChecks(account int64, method string) []floodCheck {
	r, ok := m.cfg.Methods[method]
	if !ok {
		r = m.cfg.DefaultMethod
	}
	return []floodCheck{{bucketKey{account: account, kind: bucketMethod, method: method}, r}}
}

// sendChecks lists the budgets one message send to peer spends: the
// account's message budget, and its budget for that private chat (a user
// peer) or that group or channel (any other peer).
func (m *floodModel) sendChecks(account int64, to peerRef) []floodCheck {
	out := []floodCheck{{bucketKey{account: account, kind: bucketMessages}, m.cfg.Messages}}
	if to.kind == peerUser {
		return append(out, floodCheck{bucketKey{account: account, kind: bucketPrivate, peer: to.id}, m.cfg.PrivateChat})
	}
	return append(out, floodCheck{bucketKey{account: account, kind: bucketGroup, peer: to.id}, m.cfg.Group})
}

// take spends one token from every budget, or none: it returns the wait in
// whole seconds (at least 1) when one of them is empty, and whether the
// caller ignored a wait it had been told.
func (m *floodModel) take(now time.Time, checks []floodCheck) (wait int, ignored bool) {
	if m.cfg.Off {
		return 0, false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var worst time.Duration
	bs := make([]*bucket, len(checks))
	short := make([]bool, len(checks))
	for i, c := range checks {
		if c.rate.unlimited() {
			continue
		}
		b := m.b[c.key]
		if b == nil {
			b = &bucket{tokens: float64(c.rate.N), last: now}
			m.b[c.key] = b
		}
		bs[i] = b
		perSec := float64(c.rate.N) / c.rate.Per.Seconds()
		if dt := now.Sub(b.last).Seconds(); dt > 0 {
			b.tokens = math.Min(float64(c.rate.N), b.tokens+dt*perSec)
			b.last = now
		}
		var d time.Duration
		switch {
		case now.Before(b.told) && now.Sub(b.toldAt) < m.cfg.Grace:
			// Sent before the client could have heard of the wait.
			d = b.told.Sub(now)
		case now.Before(b.told):
			// Called again inside a wait it was told: the wait grows.
			b.told = b.told.Add(m.cfg.Penalty)
			d = b.told.Sub(now)
			ignored = true
		case b.tokens < 1-1e-9:
			d = time.Duration((1 - b.tokens) / perSec * float64(time.Second))
			short[i] = true
		}
		worst = max(worst, d)
	}
	if worst > 0 {
		wait = max(1, int(math.Ceil(worst.Seconds())))
		for i, b := range bs {
			if short[i] {
				b.told, b.toldAt = now.Add(time.Duration(wait)*time.Second), now
			}
		}
		return wait, ignored
	}
	for _, b := range bs {
		if b != nil {
			b.tokens--
		}
	}
	return 0, false
}
