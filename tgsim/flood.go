package tgsim

import (
	"fmt"
	"hash/fnv"
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

	// Limits a client cannot know in advance (all off by default):
	//
	// Vary makes each chat's limit differ from PrivateChat or Group by up to
	// ±Vary (0.3: ±30%), fixed per account and chat by Seed, as Telegram's
	// real limits vary around the published figures.
	Vary float64
	Seed int64
	// Escalation multiplies the wait of each further violation of the same
	// budget within EscalationWindow (default 10 min): Telegram punishes
	// repeated flooding with longer waits. 0 or 1: no escalation.
	Escalation       float64
	EscalationWindow time.Duration
	// NewPrivateChats, when set, is how many private chats a user account
	// (not a bot) may start writing to per Per: past it, a message to a new
	// private chat gets 400 PEER_FLOOD.
	NewPrivateChats Rate
	// Paid is the budget of sends with allow_paid_floodskip (Telegram's
	// paid broadcast): they skip the other budgets. Default 1000/s.
	Paid Rate

	// Logins is the budget of auth.importBotAuthorization calls (right
	// token or wrong, at home or answered USER_MIGRATE) per client
	// address; past it they are answered FLOOD_WAIT_X. Telegram publishes
	// no figure; 30/s with a burst of 30 is tgsim's choice, so a fleet that
	// logs 1,000 bots in at once meets it and one that paces its logins
	// does not. Every tgsim client comes from 127.0.0.1, so the budget is
	// the server's. Unlimited: Rate{N: -1}.
	Logins Rate
	// TokenLogins, when set, is the budget of logins per bot token (counted
	// when a valid token is presented on its home DC). Telegram answers a
	// bot that logs in again and again (a crash loop that restarts it) with
	// waits of tens of minutes; tgsim leaves it off by default.
	TokenLogins Rate

	// Now, if set, is the flood model's clock in place of the server's:
	// a benchmark gives it a clock that runs faster than real time (a time
	// scale), so minutes of Telegram's limits pass in seconds. Waits are
	// announced in its seconds, FloodEvent.At and IdealFinish are in its
	// time; the client must keep time the same way (actors'
	// Config.TimeScale).
	Now func() time.Time

	// OnWait, if set, is called for every FLOOD_WAIT announced, with the
	// budget that imposed it: benchmarks use it to tell which limit a
	// client hit and when. It is called with the flood model locked, so it
	// must not call back into the Server.
	OnWait func(FloodEvent)
}

// FloodEvent is one FLOOD_WAIT the server announced (FloodConfig.OnWait).
type FloodEvent struct {
	At      time.Time
	Account int64
	// Budget is the budget that imposed the wait: "account" (the account's
	// message budget), "private", "group", "method", "paid", "new_chats",
	// "logins" (FloodConfig.Logins; Account 0: the budget is the server's)
	// or "token_logins" (Account: the bot).
	Budget string
	// Peer is the chat of a "private" or "group" budget (a user id, or a
	// group or channel id), else 0.
	Peer int64
	// Wait is the wait announced, in seconds.
	Wait int
}

var budgetNames = [...]string{bucketMethod: "method", bucketMessages: "account", bucketPrivate: "private",
	bucketGroup: "group", bucketPaid: "paid", bucketNewChats: "new_chats",
	bucketLogins: "logins", bucketTokenLogins: "token_logins"}

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
	if f.EscalationWindow == 0 {
		f.EscalationWindow = 10 * time.Minute
	}
	if f.Paid == (Rate{}) {
		f.Paid = Rate{N: 1000, Per: time.Second}
	}
	if f.Logins == (Rate{}) {
		f.Logins = Rate{N: 30, Per: time.Second}
	}
	return f
}

type bucketKind uint8

const (
	bucketMethod bucketKind = iota
	bucketMessages
	bucketPrivate
	bucketGroup
	bucketPaid
	bucketNewChats
	bucketLogins
	bucketTokenLogins
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
	// violations counts the waits announced within EscalationWindow of the
	// one before (escalation); taken counts the tokens spent (the ideal
	// schedule).
	violations int
	lastWait   time.Time
	rate       Rate
	taken      int
}

// floodModel holds token buckets. Safe for concurrent use.
type floodModel struct {
	cfg   FloodConfig
	mu    sync.Mutex
	b     map[bucketKey]*bucket
	chats map[int64]map[int64]bool // private chats each user account wrote to
}

func newFloodModel(cfg FloodConfig) *floodModel {
	return &floodModel{cfg: cfg, b: make(map[bucketKey]*bucket), chats: make(map[int64]map[int64]bool)}
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
		k := bucketKey{account: account, kind: bucketPrivate, peer: to.id}
		return append(out, floodCheck{k, m.vary(k, m.cfg.PrivateChat)})
	}
	k := bucketKey{account: account, kind: bucketGroup, peer: to.id}
	return append(out, floodCheck{k, m.vary(k, m.cfg.Group)})
}

// paidChecks lists the budget of a send with allow_paid_floodskip.
func (m *floodModel) paidChecks(account int64) []floodCheck {
	return []floodCheck{{bucketKey{account: account, kind: bucketPaid}, m.cfg.Paid}}
}

// loginChecks lists the budget one auth.importBotAuthorization spends
// (FloodConfig.Logins): the server's, as every client shares 127.0.0.1.
func (m *floodModel) loginChecks() []floodCheck {
	return []floodCheck{{bucketKey{kind: bucketLogins}, m.cfg.Logins}}
}

// tokenLoginChecks lists the budget a login as bot spends
// (FloodConfig.TokenLogins).
func (m *floodModel) tokenLoginChecks(bot int64) []floodCheck {
	return []floodCheck{{bucketKey{account: bot, kind: bucketTokenLogins}, m.cfg.TokenLogins}}
}

// vary returns a chat's own limit: r changed by up to ±Vary, fixed by Seed
// and the chat (FloodConfig.Vary).
func (m *floodModel) vary(k bucketKey, r Rate) Rate {
	if m.cfg.Vary <= 0 || r.unlimited() {
		return r
	}
	h := fnv.New64a()
	fmt.Fprintf(h, "%d/%d/%d/%d", m.cfg.Seed, k.account, k.kind, k.peer)
	u := float64(h.Sum64()%2001)/1000 - 1 // in [-1, 1]
	f := 1 + m.cfg.Vary*u
	// Vary the period, keeping the burst: N per Per·(1/f).
	r.Per = time.Duration(float64(r.Per) / f)
	return r
}

// newChat reports whether a user account may start writing to private
// chat peer (FloodConfig.NewPrivateChats); false means 400 PEER_FLOOD. A
// chat written to before is not new.
func (m *floodModel) newChat(now time.Time, account int64, bot bool, peer int64) bool {
	if m.cfg.Off || bot || m.cfg.NewPrivateChats.unlimited() {
		return true
	}
	m.mu.Lock()
	known := m.chats[account][peer]
	m.mu.Unlock()
	if known {
		return true
	}
	if wait, _ := m.take(now, []floodCheck{{bucketKey{account: account, kind: bucketNewChats}, m.cfg.NewPrivateChats}}); wait > 0 {
		return false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.chats[account] == nil {
		m.chats[account] = map[int64]bool{}
	}
	m.chats[account][peer] = true
	return true
}

// ideal returns the shortest time, from its first send, in which the
// sends an account made could have been made within the limits: for
// every budget it spent from, the tokens beyond its burst at its rate.
// A schedule that meets all of them at once may not exist, so this is a
// lower bound: goodput against it is at most 100%.
func (m *floodModel) ideal(account int64) time.Duration {
	m.mu.Lock()
	defer m.mu.Unlock()
	var worst time.Duration
	for k, b := range m.b {
		if k.account != account || b.rate.unlimited() || k.kind == bucketPaid || k.kind == bucketNewChats || k.kind == bucketTokenLogins {
			continue
		}
		if extra := b.taken - b.rate.N; extra > 0 {
			d := time.Duration(float64(extra) / float64(b.rate.N) * float64(b.rate.Per))
			worst = max(worst, d)
		}
	}
	return worst
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
	now = m.clock(now) // read under the lock: a caller that waited for it is not in the past
	var worst time.Duration
	worstAt := 0 // the check that imposes worst
	bs := make([]*bucket, len(checks))
	short := make([]bool, len(checks))
	for i, c := range checks {
		if c.rate.unlimited() {
			continue
		}
		b := m.b[c.key]
		if b == nil {
			b = &bucket{tokens: float64(c.rate.N), last: now, rate: c.rate}
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
		if d > worst {
			worst, worstAt = d, i
		}
	}
	if worst > 0 {
		wait = max(1, int(math.Ceil(worst.Seconds())))
		for i, b := range bs {
			if short[i] {
				wait = max(wait, m.escalate(now, b, wait))
			}
		}
		for i, b := range bs {
			if short[i] {
				b.told, b.toldAt = now.Add(time.Duration(wait)*time.Second), now
			}
		}
		if m.cfg.OnWait != nil {
			k := checks[worstAt].key
			m.cfg.OnWait(FloodEvent{At: now, Account: k.account, Budget: budgetNames[k.kind], Peer: k.peer, Wait: wait})
		}
		return wait, ignored
	}
	for _, b := range bs {
		if b != nil {
			b.tokens--
			b.taken++
		}
	}
	return 0, false
}

// clock returns the flood model's time for the server's now (FloodConfig.Now).
func (m *floodModel) clock(now time.Time) time.Time {
	if m.cfg.Now != nil {
		return m.cfg.Now()
	}
	return now
}

// escalate returns the wait of a violation of b: longer for each one that
// follows another within EscalationWindow (FloodConfig.Escalation).
func (m *floodModel) escalate(now time.Time, b *bucket, wait int) int {
	if m.cfg.Escalation <= 1 {
		return wait
	}
	if !b.lastWait.IsZero() && now.Sub(b.lastWait) < m.cfg.EscalationWindow {
		b.violations++
	} else {
		b.violations = 0
	}
	b.lastWait = now
	return int(math.Ceil(float64(wait) * math.Pow(m.cfg.Escalation, float64(b.violations))))
}

// IdealFinish returns the shortest time, from its first send, in which an
// account's sends so far could have been made within this server's limits
// (a lower bound; FloodConfig): goodput is IdealFinish over the time a run
// took.
func (s *Server) IdealFinish(account int64) time.Duration { return s.flood.ideal(account) }

// ChatLimit returns the limit an account has in one chat (a user's private
// chat, or a group or channel when group is set): the published figure as
// FloodConfig.Vary changed it, which a client can only learn. Benchmarks
// use it to show what a client that knew every limit could do.
func (s *Server) ChatLimit(account, peer int64, group bool) Rate {
	k, r := bucketKey{account: account, kind: bucketPrivate, peer: peer}, s.flood.cfg.PrivateChat
	if group {
		k.kind, r = bucketGroup, s.flood.cfg.Group
	}
	return s.flood.vary(k, r)
}
