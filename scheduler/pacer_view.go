package scheduler

import "slices"

// Read-only views of the pacer (pacer.go) for those who show what it does:
// tlworker's progress and summary, and telemetry. Nothing here changes what
// the pacer decides.

// PacerView is a snapshot of the rates the pacer uses, in calls per second
// with PacingConfig.Headroom applied (what the pacer actually paces at).
type PacerView struct {
	// On is false with pacing off; every other field is then zero.
	On bool
	// Account is the account's rate; AccountBase the rate it started
	// from (PacingConfig.Account).
	Account, AccountBase float64
	// Private and Group are the rates a private chat and a group or
	// channel start from (PacingConfig.Private and Group).
	Private, Group float64
	// Chats are the chats whose rate or burst was learned (differs from
	// the one they started from), slowest first.
	Chats []ChatLimit
	// Queued counts the calls waiting for their turn in the chats' queues.
	Queued int
}

// ChatLimit is one chat's learned limit.
type ChatLimit struct {
	// Chat is the chat's key (Call.Peer).
	Chat string
	// Private is true for a private chat, false for a group or channel.
	Private bool
	// Rate is the chat's rate now, Base the rate it started from.
	Rate, Base float64
	// BurstCut: the chat's burst was cut to 1 after a flood.
	BurstCut bool
}

// PacerView returns the pacer's rates and the chats whose limits it
// learned (including those set by SetLimits).
func (s *State) PacerView() PacerView {
	p := s.pacer
	if p == nil {
		return PacerView{}
	}
	v := PacerView{
		On: true, Account: p.account.rate, AccountBase: p.account.base,
		Private: p.cfg.Private.perSecond() * p.cfg.Headroom, Group: p.cfg.Group.perSecond() * p.cfg.Headroom,
	}
	for k, c := range p.chats {
		for _, it := range c.q {
			if it.live(phPaced) {
				v.Queued++
			}
		}
		cut := c.b.burst < c.b.baseBurst
		if c.b.rate != c.b.base || cut {
			v.Chats = append(v.Chats, ChatLimit{Chat: k, Private: private(k), Rate: c.b.rate, Base: c.b.base, BurstCut: cut})
		}
	}
	slices.SortFunc(v.Chats, func(a, b ChatLimit) int {
		if a.Rate != b.Rate {
			if a.Rate < b.Rate {
				return -1
			}
			return 1
		}
		if a.Chat < b.Chat {
			return -1
		}
		if a.Chat > b.Chat {
			return 1
		}
		return 0
	})
	return v
}

// PacedNow reports whether call id waits for its turn in a chat's pacing
// queue now, and the chat's key.
func (s *State) PacedNow(id CallID) (chat string, ok bool) {
	e := s.entries[id]
	if e == nil || e.ph != phPaced {
		return "", false
	}
	return e.call.Peer, true
}

// EachPacedNewest calls f for the calls waiting in each chat's pacing
// queue, newest first, until f reports that it knew the call already: as
// calls join a queue at its end, f sees the calls that joined since the
// last call it knew of, at a cost of the chats plus those calls (not of
// every call queued). f must not call into s.
func (s *State) EachPacedNewest(f func(id CallID, chat string) (known bool)) {
	if s.pacer == nil {
		return
	}
	for k, c := range s.pacer.chats {
		for i := len(c.q) - 1; i >= 0; i-- {
			if it := c.q[i]; it.live(phPaced) && f(it.e.call.ID, k) {
				break
			}
		}
	}
}

// PrivateChat reports whether a chat key (Call.Peer) names a private chat
// ("user:…" or "self"), paced by PacingConfig.Private; other chats are
// groups or channels, paced by PacingConfig.Group.
func PrivateChat(peer string) bool { return private(peer) }
