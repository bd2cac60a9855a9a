package scheduler

import (
	"math"
	"slices"
	"strings"
	"time"

	"github.com/tlsched/tlsched/tl"
)

// Pacing. Telegram's flood limits bind a bulk sender long before its CPU
// does: a bot may send about 30 messages a second in all, about one a
// second to a private chat (short bursts allowed) and 20 a minute to a
// group or channel (core.telegram.org/bots/faq). Reacting to FLOOD_WAIT
// (gates.go) costs the wait, and Telegram punishes repeated violations
// with longer ones. The pacer sends chat writes (Call.Writes with a Peer)
// no faster than the limits it knows:
//
//   - a token bucket for the account and one per chat, whose rates start
//     from PacingConfig and are learned;
//   - per-chat FIFO queues; each token of the account goes to the chat
//     with the most to send (in seconds at its rate) plus the longest
//     wait since its last turn, among those whose own limit lets them
//     send, so a slow group never holds private chats back and the chat
//     that would finish last starts first. A chain's calls enter their
//     chat's queue only once their predecessor is sent (chains.go), so
//     pacing never reorders a chain;
//   - a call whose turn would come after its flood budget (gates.go) fails
//     at once, not sent, with the wait it would have had.
//
// Learning: a FLOOD_WAIT does not say which limit it hit. The chat's limit
// was hit when the chat itself was bursting (two writes within twice its
// configured spacing), when the account was not sending near its own
// limit (chats that flood together at the start of a run flood on their
// own bursts), or when another chat took a write in the last
// FloodInference and no other chat flooded in that time. Then a gate
// closes on that chat only, and:
//   - a chat that flooded on a burst has its burst cut to one, its rate
//     kept;
//   - otherwise its rate is cut below the rate that flooded: to Headroom
//     of the fastest pace it accepted, when that tells (chatCut), else
//     to Cut times that rate.
//
// Otherwise (the account busy, the chat not, and every chat flooding at
// once or only this one flowing) the account's rate is cut by AccountCut and
// every chat write of the account waits out the wait. Rates run at
// Headroom of the configured figures. A key that ran at its limit for
// ProbeAfter without a flood probes ProbeStep higher, never above twice
// its configured rate; a key that flooded does not probe for CeilingHold. Limits (State.Limits) are meant to be kept with
// the account, so the next run starts where this one ended.
//
// PEER_FLOOD (a user account wrote to too many strangers) opens a breaker:
// writes to private chats that never took a write from this account fail
// at once with the server's error for PeerFloodPause.
//
// A call with Call.PaidFloodskip (allow_paid_floodskip: Telegram's paid
// broadcast) passes the chat and account limits and is paced by
// PacingConfig.Paid alone.

// Rate is N events per Per, in bursts of up to Burst (at least 1).
type Rate struct {
	N     int
	Per   time.Duration
	Burst int
}

func (r Rate) perSecond() float64 {
	if r.N <= 0 || r.Per <= 0 {
		return 0
	}
	return float64(r.N) / r.Per.Seconds()
}

// PacingConfig configures pacing (Config.Pacing). A zero field takes its
// default; the defaults are Telegram's published bot limits.
type PacingConfig struct {
	// On turns pacing on. Off (the default for now), calls only react to
	// flood waits (gates.go).
	On bool
	// Account paces every chat write of the account. Default 30/s, bursts
	// of 30.
	Account Rate
	// Private paces writes to one private chat (Peer "user:…" or "self").
	// Default 1/s, bursts of 1 (the published "no more than one message
	// per second" in a chat).
	Private Rate
	// Group paces writes to one group or channel (Peer "chat:…" or
	// "channel:…"). Default 20/min, bursts of 3.
	Group Rate
	// Paid paces calls with Call.PaidFloodskip. Default 1000/s.
	Paid Rate
	// Cut is the factor a flooded key's rate is cut to when nothing the
	// key took tells more. Default 0.7: Telegram's limits vary around the
	// published figures by up to about ±30%, so one cut lands under the
	// lowest a chat may have.
	Cut float64
	// AccountCut is the factor the account's rate is cut to after a flood
	// on it. Default 0.9: the account's limit is one published figure, not
	// varied per chat, so a flood there is mostly the network bunching
	// calls together; a deep cut would cost the whole account its pace.
	AccountCut float64
	// Headroom is the share of each configured rate the pacer uses, so
	// that network jitter does not bunch calls closer than the limit.
	// Default 0.97.
	Headroom float64
	// FloodInference is how far back the pacer looks to tell a chat's limit
	// from the account's. Default 2 s.
	FloodInference time.Duration
	// ProbeAfter is how long a key must run at its limit without a flood
	// before its rate is raised by ProbeStep. Defaults 5 min and 0.05.
	ProbeAfter time.Duration
	ProbeStep  float64
	// CeilingHold is how long a key that flooded does not probe: one more
	// flood is all a probe could find there (rates from SetLimits are held
	// from their first probe). Default 1 h.
	CeilingHold time.Duration
	// PeerFloodPause is how long writes to new private chats fail after a
	// PEER_FLOOD. Default 1 h.
	PeerFloodPause time.Duration
}

func (c PacingConfig) withDefaults() PacingConfig {
	def := func(r *Rate, d Rate) {
		if r.N <= 0 || r.Per <= 0 {
			*r = d
		}
		if r.Burst < 1 {
			r.Burst = 1
		}
	}
	def(&c.Account, Rate{N: 30, Per: time.Second, Burst: 30})
	def(&c.Private, Rate{N: 1, Per: time.Second, Burst: 1})
	def(&c.Group, Rate{N: 20, Per: time.Minute, Burst: 3})
	def(&c.Paid, Rate{N: 1000, Per: time.Second, Burst: 1000})
	if c.Cut <= 0 || c.Cut >= 1 {
		c.Cut = 0.7
	}
	if c.AccountCut <= 0 || c.AccountCut >= 1 {
		c.AccountCut = 0.9
	}
	if c.Headroom <= 0 || c.Headroom > 1 {
		c.Headroom = 0.97
	}
	if c.FloodInference <= 0 {
		c.FloodInference = 2 * time.Second
	}
	if c.ProbeAfter <= 0 {
		c.ProbeAfter = 5 * time.Minute
	}
	if c.ProbeStep <= 0 {
		c.ProbeStep = 0.05
	}
	if c.CeilingHold <= 0 {
		c.CeilingHold = time.Hour
	}
	if c.PeerFloodPause <= 0 {
		c.PeerFloodPause = time.Hour
	}
	return c
}

// minRate is the lowest rate learning cuts a key to (one call in 10 min).
const minRate = 1.0 / 600

// sendMemory is how many send times a key keeps to measure its rate.
const sendMemory = 64

// bucket is a token bucket read at injected times.
type bucket struct {
	rate, base       float64 // tokens per second: learned, and as configured
	burst, baseBurst float64
	tokens           float64
	last             time.Time
	sends            []time.Time // recent takes, oldest first
	calm             time.Time   // since when without a flood or a probe
	// held: the key flooded at ceilingAt (zero: its rate came from stored
	// limits, held from its first probe), and does not probe for
	// CeilingHold after.
	held      bool
	ceilingAt time.Time
	cutAt     time.Time // last cut
	// reserved counts calls whose turn came (their tokens are promised)
	// and that are not sent yet: the tokens go when they are sent, so a
	// call that waits in its DC's queue does not let the next one follow
	// it closer than the limit.
	reserved int
}

// newBucket runs at headroom of r, bursts included (but never below one):
// a bucket that starts as full as the server's leaves no room for calls
// the network bunches at the start.
func newBucket(r Rate, headroom float64) *bucket {
	rate := r.perSecond() * headroom
	burst := max(1, float64(r.Burst)*headroom)
	return &bucket{rate: rate, base: rate, burst: burst, baseBurst: burst, tokens: burst}
}

func (b *bucket) fill(now time.Time) {
	if b.last.IsZero() {
		b.last = now
		return
	}
	if dt := now.Sub(b.last).Seconds(); dt > 0 {
		b.tokens = min(b.burst, b.tokens+dt*b.rate)
		b.last = now
	}
}

// at returns when the k-th next token (k ≥ 1) not reserved is there.
func (b *bucket) at(now time.Time, k int) time.Time {
	b.fill(now)
	need := float64(k+b.reserved) - b.tokens
	if need <= 0 {
		return now
	}
	return now.Add(time.Duration(need / b.rate * float64(time.Second)))
}

func (b *bucket) ready(now time.Time) bool { return !b.at(now, 1).After(now) }

func (b *bucket) take(now time.Time) {
	b.fill(now)
	b.tokens--
	b.sends = append(b.sends, now)
	if len(b.sends) > sendMemory {
		b.sends = b.sends[1:]
	}
	if b.calm.IsZero() {
		b.calm = now
	}
}

// blocked reports whether the bucket's next token cannot come by waiting:
// its burst is promised to calls not sent yet (a DC down or full), and
// only a send or a give-back frees one.
func (b *bucket) blocked() bool { return float64(b.reserved+1) > b.burst }

// reserve promises a token to a call whose turn came.
func (b *bucket) reserve() { b.reserved++ }

// unreserve gives a promised token back (the call left unsent).
func (b *bucket) unreserve() { b.reserved-- }

// spend takes a promised token: the call is sent now.
func (b *bucket) spend(now time.Time) {
	b.reserved--
	b.take(now)
}

// recent counts the sends in the d up to at, at included.
func (b *bucket) recent(at time.Time, d time.Duration) float64 {
	n := 0
	for i := len(b.sends) - 1; i >= 0; i-- {
		s := b.sends[i]
		if s.After(at) {
			continue
		}
		if at.Sub(s) >= d {
			break
		}
		n++
	}
	return float64(n)
}

// spacing returns the time between two sends at rate per second.
func spacing(rate float64) time.Duration {
	if rate <= 0 {
		return 0
	}
	return time.Duration(float64(time.Second) / rate)
}

// cut lowers the rate below what flooded. Floods within window of a cut
// are the same event (the calls sent before the first wait was known):
// they cut once.
func (b *bucket) cut(now time.Time, factor float64, window time.Duration) bool {
	if !b.cutAt.IsZero() && now.Sub(b.cutAt) < window {
		return false
	}
	b.cutAt = now
	b.held, b.ceilingAt = true, now
	b.rate = max(minRate, b.rate*factor)
	b.tokens = min(b.tokens, 0)
	b.calm = now
	return true
}

// probe raises the rate of a key that ran at its limit without a flood,
// unless it flooded within CeilingHold: its limit is known to be near.
func (b *bucket) probe(now time.Time, cfg PacingConfig) bool {
	if b.calm.IsZero() || now.Sub(b.calm) < cfg.ProbeAfter || b.rate >= 2*b.base {
		return false
	}
	if b.held {
		if b.ceilingAt.IsZero() {
			b.ceilingAt = now
		}
		if now.Sub(b.ceilingAt) < cfg.CeilingHold {
			return false
		}
		b.held = false
	}
	b.rate = min(2*b.base, b.rate*(1+cfg.ProbeStep))
	b.calm = now
	return true
}

// setLimit starts the bucket at a rate a previous run learned. A rate
// under the configured one was cut after a flood: it is held from probing
// for CeilingHold.
func (b *bucket) setLimit(rate float64) {
	b.rate = rate
	b.held, b.ceilingAt = rate < b.base, time.Time{}
}

// chatQueue is one chat's bucket and its FIFO of paced calls.
type chatQueue struct {
	key    string
	b      *bucket
	q      []item
	inRing bool
	lastOK time.Time // last write to it that succeeded
	known  bool      // it took a write (the PEER_FLOOD breaker spares it)
	flood  time.Time // its last flood
	// okSent is when the latest write it accepted was sent, minGap the
	// shortest time between two accepted writes since its last cut: with
	// a burst of one, the server's rate is at least one per minGap.
	okSent time.Time
	minGap time.Duration
	turn   time.Time // its last turn, or when it queued into an empty ring slot
	cuts   int       // its rate cuts
}

// front drops stale items and returns the first live one.
func (c *chatQueue) front() (item, bool) {
	for len(c.q) > 0 {
		if it := c.q[0]; it.live(phPaced) {
			return it, true
		}
		c.q = c.q[1:]
	}
	return item{}, false
}

// pacer holds the buckets and the queues of paced calls. It reads no clock.
type pacer struct {
	cfg     PacingConfig
	account *bucket
	paid    *bucket
	chats   map[string]*chatQueue
	ring    []*chatQueue // chats with calls queued, in the order they queued
	breaker time.Time    // PEER_FLOOD: new private chats fail until then
	stats   PacingStats
}

// PacingStats counts what the pacer did.
type PacingStats struct {
	// Paced counts entries into a chat's queue (a call placed again after
	// a flood wait enters again); FailedFast calls failed because their
	// turn came after their flood budget; ChatCuts and AccountCuts count
	// rates cut after a flood, BurstCuts chats' bursts cut to one, Probes
	// rates raised; Breaker counts calls failed by the PEER_FLOOD breaker.
	Paced, FailedFast, ChatCuts, BurstCuts, AccountCuts, Probes, Breaker int
	// AccountBurstCuts counts floods met while the account spent its
	// burst: its burst was cut, its rate kept.
	AccountBurstCuts int
}

func newPacer(cfg PacingConfig) *pacer {
	cfg = cfg.withDefaults()
	return &pacer{cfg: cfg, account: newBucket(cfg.Account, cfg.Headroom), paid: newBucket(cfg.Paid, cfg.Headroom), chats: map[string]*chatQueue{}}
}

// private reports whether a chat key names a private chat.
func private(peer string) bool { return peer == "self" || strings.HasPrefix(peer, "user:") }

func (p *pacer) chat(peer string) *chatQueue {
	c := p.chats[peer]
	if c == nil {
		r := p.cfg.Group
		if private(peer) {
			r = p.cfg.Private
		}
		c = &chatQueue{key: peer, b: newBucket(r, p.cfg.Headroom)}
		p.chats[peer] = c
	}
	return c
}

// paced reports whether e is paced: a chat write with pacing on, that has
// not taken its tokens for this send yet.
func (s *State) paced(e *entry) bool {
	return s.pacer != nil && e.call.Writes && e.call.Peer != "" && !e.tokens
}

// pace queues e in its chat's queue, or fails it when its turn would come
// after its flood budget or the PEER_FLOOD breaker refuses it; it reports
// false when e is not paced.
func (s *State) pace(e *entry) bool {
	if !s.paced(e) {
		return false
	}
	p := s.pacer
	if e.call.PaidFloodskip {
		// Paid broadcast: only the paid rate holds it.
		if t := p.paid.at(s.now, 1); t.After(s.now) {
			e.notBefore = t
			s.delay(e)
			return true
		}
		e.tokens = true
		p.paid.reserve()
		return false
	}
	c := p.chat(e.call.Peer)
	if private(c.key) && !c.known && s.now.Before(p.breaker) {
		p.stats.Breaker++
		s.finish(e, &PeerFloodError{Until: p.breaker, Peer: c.key})
		return true
	}
	// Its place: in submission order among its chat's calls (a call
	// placed again after a flood wait goes back before the later ones).
	// Its turn: after the calls before it, at the chat's rate and, at the
	// least, the account's.
	at := len(c.q)
	if i := slices.IndexFunc(c.q, func(it item) bool { return it.e.call.ID > e.call.ID }); i >= 0 {
		at = i
	}
	ahead := 0
	for _, it := range c.q[:at] {
		if it.live(phPaced) {
			ahead++
		}
	}
	turn := c.b.at(s.now, ahead+1)
	if t := p.account.at(s.now, 1); t.After(turn) {
		turn = t
	}
	if wait := turn.Sub(s.now); wait > s.budget(e) {
		p.stats.FailedFast++
		s.finish(e, floodErr(e, "FLOOD_WAIT", wait))
		return true
	}
	p.stats.Paced++
	e.ph = phPaced
	c.q = slices.Insert(c.q, at, item{e, e.stamp})
	if !c.inRing {
		c.inRing = true
		c.turn = s.now
		p.ring = append(p.ring, c)
	}
	return true
}

// releasePaced moves the paced calls whose turn has come to their DC's
// ready queue, while the account has tokens. Each token goes to the chat
// with the highest priority among those whose own limit lets them send.
func (s *State) releasePaced() {
	p := s.pacer
	if p == nil || len(p.ring) == 0 {
		return
	}
	for len(p.ring) > 0 && p.account.ready(s.now) {
		best, bestPri := -1, 0.0
		for i := 0; i < len(p.ring); {
			c := p.ring[i]
			if _, ok := c.front(); !ok {
				c.inRing = false
				p.ring = slices.Delete(p.ring, i, i+1)
				continue
			}
			if c.b.ready(s.now) {
				if pri := c.priority(s.now); best < 0 || pri > bestPri {
					best, bestPri = i, pri
				}
			}
			i++
		}
		if best < 0 {
			return
		}
		c := p.ring[best]
		it, _ := c.front()
		c.q = c.q[1:]
		e := it.e
		e.stamp++
		if s.mustWait(e) {
			e.ph = phWaiting // its predecessor moved meanwhile
			continue
		}
		if s.gate(e) {
			// A gate closed while it queued: it waits there, and is
			// placed again, in order, when the gate opens.
			continue
		}
		c.turn = s.now
		s.takeTokens(e, c)
		s.enqueue(e)
	}
}

// priority orders the chats whose limit lets them send (releasePaced):
// the seconds their queue takes to drain at their rate, up to
// maxDrainPriority, plus the seconds since their last turn. The first
// term serves the chats that would finish last first, as the shortest
// schedule does (a plain round robin left the largest chat of a
// broadcast for the end, at a fraction of its rate while the account was
// busy with the small ones); the second ages every chat, so that none
// waits much more than maxDrainPriority behind busier ones. Ties go in
// the order chats queued.
func (c *chatQueue) priority(now time.Time) float64 {
	drain := 0.0
	if c.b.rate > 0 {
		drain = min(maxDrainPriority.Seconds(), float64(len(c.q))/c.b.rate)
	}
	return drain + now.Sub(c.turn).Seconds()
}

// maxDrainPriority caps what a long queue adds to a chat's priority: a
// call of a quiet chat waits about this long at most for the busy chats
// while the account's limit binds (its flood budget estimate, pace, does
// not count that wait).
const maxDrainPriority = 10 * time.Second

// takeTokens promises e the tokens of its next send.
func (s *State) takeTokens(e *entry, c *chatQueue) {
	e.tokens = true
	s.pacer.account.reserve()
	c.b.reserve()
}

// nextTurn returns when the next paced call's turn comes.
func (p *pacer) nextTurn(now time.Time) (time.Time, bool) {
	var t time.Time
	ok := false
	for _, c := range p.ring {
		if _, live := c.front(); !live || c.b.blocked() {
			continue
		}
		if at := c.b.at(now, 1); !ok || at.Before(t) {
			t, ok = at, true
		}
	}
	if !ok || p.account.blocked() {
		return t, false
	}
	if at := p.account.at(now, 1); at.After(t) {
		t = at
	}
	return t, true
}

// pacedSent notes that a batch takes e: it spends the tokens promised to
// it, and its next send needs new ones.
func (s *State) pacedSent(e *entry) {
	if !e.tokens {
		return
	}
	e.tokens = false
	p := s.pacer
	if e.call.PaidFloodskip {
		p.paid.spend(s.now)
		return
	}
	p.account.spend(s.now)
	p.chat(e.call.Peer).b.spend(s.now)
	e.sentAt = s.now
}

// pacedGone gives back the tokens promised to a call that is not on its
// way to the wire any more: it became final unsent, or it is placed again
// (held for its predecessor, behind a gate), where holding them would
// keep the calls it waits for from their turn.
func (s *State) pacedGone(e *entry) {
	if !e.tokens {
		return
	}
	e.tokens = false
	p := s.pacer
	if e.call.PaidFloodskip {
		p.paid.unreserve()
		return
	}
	p.account.unreserve()
	p.chat(e.call.Peer).b.unreserve()
}

// pacedOK learns from a write that succeeded: its chat is known (the
// PEER_FLOOD breaker spares it) and its keys may probe higher.
func (s *State) pacedOK(e *entry) {
	p := s.pacer
	if p == nil || !e.call.Writes || e.call.Peer == "" || e.call.PaidFloodskip {
		return
	}
	c := p.chat(e.call.Peer)
	c.lastOK, c.known = s.now, true
	if !e.sentAt.IsZero() && e.sentAt.After(c.okSent) {
		if !c.okSent.IsZero() {
			if g := e.sentAt.Sub(c.okSent); c.minGap == 0 || g < c.minGap {
				c.minGap = g
			}
		}
		c.okSent = e.sentAt
	}
	saturated := func(b *bucket) bool { return b.tokens < 1 }
	if saturated(c.b) && c.b.probe(s.now, p.cfg) {
		p.stats.Probes++
	}
	if saturated(p.account) && p.account.probe(s.now, p.cfg) {
		p.stats.Probes++
	}
}

// pacedFlood learns from a flood wait on a paced write and reports whether
// the chat's limit was hit (then only the chat's gate closes) and whether
// the call was paced at all (else the account's limit: every chat write
// waits).
func (s *State) pacedFlood(e *entry, fw *tl.FloodWaitError) (chatHit, paced bool) {
	p := s.pacer
	if p == nil || !e.call.Writes || e.call.Peer == "" || e.call.PaidFloodskip || fw.Scope != tl.ScopeMethod {
		return false, false // slow mode names its chat itself
	}
	c := p.chat(e.call.Peer)
	since := s.now.Add(-p.cfg.FloodInference)
	othersFlowed, othersFlooded := false, false
	for _, o := range p.chats {
		if o == c {
			continue
		}
		othersFlowed = othersFlowed || o.lastOK.After(since)
		othersFlooded = othersFlooded || o.flood.After(since)
	}
	c.flood = s.now
	// What was flowing is read at the flooded call's send, not at its
	// answer (a slow answer would shift the windows off it).
	at := e.sentAt
	if at.IsZero() {
		at = s.now
	}
	// The account's limit can only have been hit if the account was sending
	// near it: chats flooding together at the start of a run are their own
	// bursts, not the account's.
	accountBusy := p.account.recent(at, time.Second) >= max(2, 0.8*p.account.rate)
	// A chat that took another write within a little more than its
	// spacing before this one was sending at its own rate: its own limit
	// is the likely one. Well within its spacing, it was bursting.
	chatAtPace := c.b.recent(at, spacing(c.b.rate)*3/2) >= 2
	chatBursting := c.b.recent(at, spacing(c.b.rate)*9/10) >= 2
	if chatBursting && c.b.burst > 1 {
		// The chat allows less of a burst than the pacer assumed (many
		// do, on Telegram): its burst is cut to one, its rate kept. The
		// gaps it accepted in its bursts prove nothing of its rate.
		c.b.burst, c.b.tokens = 1, min(c.b.tokens, 0)
		c.b.cutAt, c.b.calm = s.now, s.now
		c.minGap, c.okSent = 0, time.Time{}
		p.stats.BurstCuts++
		return true, true
	}
	if chatAtPace || !accountBusy || (othersFlowed && !othersFlooded) {
		// The chat's limit: its rate is cut below what flooded.
		if c.b.cut(s.now, s.chatCut(c), p.cfg.FloodInference) {
			c.b.burst = 1
			c.minGap = 0
			c.cuts++
			p.stats.ChatCuts++
		}
		return true, true
	}
	if p.account.burst > 1 && p.account.recent(at, time.Second) > p.account.rate+1 {
		if !p.account.cutAt.IsZero() && s.now.Sub(p.account.cutAt) < p.cfg.FloodInference {
			// The floods of one bunched burst are one event: its first
			// cut the burst already.
			return false, true
		}
		// The account was spending its burst (more writes in the second
		// before this one than its rate alone allows): the server allows
		// less of a burst than the pacer assumed, or the burst reached it
		// bunched with the writes after it (a late start, a busy
		// machine). Its burst is cut to a quarter, its rate kept: a
		// burst proves nothing of the rate.
		p.account.burst = max(1, math.Floor(p.account.burst/4))
		p.account.tokens = min(p.account.tokens, 0)
		p.account.cutAt, p.account.calm = s.now, s.now
		p.stats.AccountBurstCuts++
		return false, true
	}
	if p.account.cut(s.now, p.cfg.AccountCut, p.cfg.FloodInference) {
		p.stats.AccountCuts++
	}
	return false, true
}

// chatCut returns the factor chat c's rate is cut by after a write sent
// at c's rate flooded. With a burst of one, every write the chat accepted
// proves the server's rate is at least one per gap to the accepted write
// before it. So on a chat's first cut the rate goes to Headroom of one per
// its shortest accepted gap, when that is more than the plain cut: a chat
// whose limit is a little under the pacer's rate (it flooded on network
// jitter) loses a little, and one whose limit is far under it (it
// flooded on its first write at the pacer's rate) loses Cut. A chat that
// floods again, or allows bursts, or accepted no gap yet, is cut by
// PacingConfig.Cut: the server may allow a burst the pacer cannot see,
// which makes accepted gaps prove nothing.
func (s *State) chatCut(c *chatQueue) float64 {
	cut := s.pacer.cfg.Cut
	if c.cuts > 0 || c.b.burst > 1 || c.minGap <= 0 || c.b.rate <= 0 {
		return cut
	}
	floor := s.pacer.cfg.Headroom / c.minGap.Seconds()
	return max(cut, min(floor/c.b.rate, s.pacer.cfg.Headroom))
}

// pacedPeerFlood opens the PEER_FLOOD breaker.
func (s *State) pacedPeerFlood() {
	if s.pacer != nil {
		s.pacer.breaker = s.now.Add(s.pacer.cfg.PeerFloodPause)
	}
}

// PacingStats returns the pacer's counters (zero with pacing off).
func (s *State) PacingStats() PacingStats {
	if s.pacer == nil {
		return PacingStats{}
	}
	return s.pacer.stats
}

// Limits returns the rates the pacer uses, in calls per second, by key:
// "account", the chat keys (Call.Peer) whose rate differs from the
// configured one, "burst:" plus a chat key for chats whose burst was
// cut to 1, and "account-burst" when a flood cut the account's burst. Keep them with the account and hand them to SetLimits in
// the next run.
func (s *State) Limits() map[string]float64 {
	if s.pacer == nil {
		return nil
	}
	out := map[string]float64{"account": s.pacer.account.rate}
	if a := s.pacer.account; a.burst < a.baseBurst {
		out[accountBurstKey] = a.burst
	}
	for k, c := range s.pacer.chats {
		if c.b.rate != c.b.base {
			out[k] = c.b.rate
		}
		if c.b.burst < c.b.baseBurst {
			out[burstPrefix+k] = c.b.burst
		}
	}
	return out
}

// accountBurstKey is the account's burst in Limits, when a flood cut it.
const accountBurstKey = "account-burst"

// burstPrefix marks a chat whose burst was cut to 1 in Limits.
const burstPrefix = "burst:"

// SetLimits starts the pacer from limits a previous run learned (Limits).
func (s *State) SetLimits(limits map[string]float64) {
	if s.pacer == nil {
		return
	}
	for k, r := range limits {
		if r <= 0 {
			continue
		}
		if k == "account" {
			s.pacer.account.setLimit(r)
			continue
		}
		if k == accountBurstKey {
			a := s.pacer.account
			a.burst = max(1, min(r, a.baseBurst))
			a.tokens = min(a.tokens, a.burst)
			continue
		}
		if chat, ok := strings.CutPrefix(k, burstPrefix); ok {
			b := s.pacer.chat(chat).b
			b.burst, b.tokens = 1, min(b.tokens, 1)
			continue
		}
		s.pacer.chat(k).b.setLimit(r)
	}
}

// PeerFloodError fails a write to a private chat that never took a write
// from this account while the PEER_FLOOD breaker is open: Telegram said
// the account writes to too many strangers; retrying blindly makes it
// worse. It matches ErrNotSent.
type PeerFloodError struct {
	// Until is when the breaker closes.
	Until time.Time
	// Peer is the chat the call was for.
	Peer string
}

// Error names the chat and when writes to new chats may go again.
func (e *PeerFloodError) Error() string {
	return "scheduler: PEER_FLOOD: writes to new private chats (" + e.Peer + ") paused until " + e.Until.UTC().Format(time.RFC3339)
}

// Is matches ErrNotSent.
func (e *PeerFloodError) Is(target error) bool { return target == ErrNotSent }
