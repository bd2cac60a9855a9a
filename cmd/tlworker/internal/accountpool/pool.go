// Package accountpool routes tlworker send's jobs over many accounts
// (--accounts): it is the jobs engine's Router. A job that names its
// account goes there; a job chained after another goes where that one
// went; any other job goes to its chat's account, and a chat seen for the
// first time goes to the account with the most room (fewest jobs in
// flight per its paced rate). A chat keeps its account for the whole run
// and across --resume (Journal), so its jobs stay in one account's
// session (where an "after" chain keeps its order), its access hashes
// (which are per account) stay valid, and a job that may
// have been sent is never sent again by another account (random_id
// deduplicates per account and peer). Tested under faults by
// cmd/tlworker's TestSendAccountsInterruptAndResume (answers lost, the run
// interrupted, resumed with the accounts reordered: tgsim stores each
// message once, every chat from one bot).
//
// Where its rules live: routing and the room measure in pool.go; what is
// kept across runs in journal.go.
package accountpool

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/tlsched/tlsched/cmd/tlworker/internal/jobs"
	"github.com/tlsched/tlsched/scheduler"
)

// Member is one account of a Pool.
type Member struct {
	jobs.Account
	// Rate, if set, returns the account's paced rate now (sends per
	// second, actors.Client.Pacing's PacerView.Account), or 0 when it is
	// not paced or cannot say (the Pool keeps the last rate it was told).
	// The Pool asks at most once per RateEvery, every member at once.
	Rate func(ctx context.Context) float64
	// Down, if set, is why the account cannot send this run (its login
	// failed): it gets no new chat, and the jobs that must go to it (its
	// chats of earlier runs, jobs naming it, chains after its jobs) fail
	// with this error, as not sent (scheduler.ErrNotSent: --resume
	// --retry-not-sent runs them again), rather than move to another
	// account. They count as its failed jobs.
	Down error
}

// RateEvery is how often a Pool asks its members' Rate.
const RateEvery = time.Second

// Pool is a jobs.Router over a fixed set of accounts. Safe for
// concurrent use; the engine calls Route from one goroutine at a time.
type Pool struct {
	members []*member
	byName  map[string]*member
	journal *Journal // nil: nothing kept across runs

	mu       sync.Mutex
	earlier  map[string]string  // chat → the account earlier runs gave it, by name
	chats    map[string]*member // chat → its account
	jobs     map[string]*member // job id → account, for jobs without a chat
	rateAt   time.Time          // when rates were last asked
	rateBusy bool
}

type member struct {
	Member
	inFlight int     // routed, not finished
	rate     float64 // last Rate; 0: unknown
	count    Count
}

// Count is what one account did in a run (Pool.Counts).
type Count struct {
	Name string
	// Chats is how many chats the account holds (this run and earlier).
	Chats int
	// OK and Failed count result lines; Dropped counts jobs routed to it
	// that got none (a rerun with --resume runs them, on this account).
	OK, Failed, Dropped int
}

// New makes a Pool of members (at least one up, distinct names). The
// journal, if not nil, holds what earlier runs assigned (OpenJournal), and
// every new assignment is written to it before the job is sent.
func New(members []Member, journal *Journal) (*Pool, error) {
	if len(members) == 0 {
		return nil, fmt.Errorf("accountpool: no accounts")
	}
	p := &Pool{byName: map[string]*member{}, journal: journal, earlier: map[string]string{}, chats: map[string]*member{}, jobs: map[string]*member{}}
	for _, m := range members {
		if _, dup := p.byName[m.Name]; dup {
			return nil, fmt.Errorf("accountpool: account %q given twice", m.Name)
		}
		mm := &member{Member: m}
		mm.count.Name = m.Name
		p.members = append(p.members, mm)
		p.byName[m.Name] = mm
	}
	if p.roomiest() == nil {
		return nil, fmt.Errorf("accountpool: no account can send (%s: %w)", members[0].Name, members[0].Down)
	}
	if journal != nil {
		for chat, name := range journal.chats {
			p.earlier[chat] = name
			if m := p.byName[name]; m != nil {
				p.chats[chat] = m
				m.count.Chats++
			}
		}
		for id, name := range journal.jobs {
			if m := p.byName[name]; m != nil {
				p.jobs[id] = m
			}
		}
	}
	return p, nil
}

// Route implements jobs.Router.
func (p *Pool) Route(r jobs.Route) (jobs.Account, error) {
	p.refreshRates()
	p.mu.Lock()
	defer p.mu.Unlock()
	m, err := p.pick(r)
	if err != nil {
		return jobs.Account{}, err
	}
	if m.Down != nil {
		// Not sent, and kept for this account: --resume
		// --retry-not-sent runs it again once the account is back.
		m.count.Failed++
		return jobs.Account{}, fmt.Errorf("account %q cannot send (%w); the job stays with it: %w", m.Name, m.Down, scheduler.ErrNotSent)
	}
	if err := p.bind(r, m); err != nil {
		return jobs.Account{}, err
	}
	m.inFlight++
	return m.Account, nil
}

// pick is the account of the job r describes. p.mu is held.
func (p *Pool) pick(r jobs.Route) (*member, error) {
	held := p.held(r)
	if r.Chat == "" {
		if w, ok := p.journal.job(r.ID); ok && p.byName[w] == nil {
			return nil, fmt.Errorf("job %q was routed to account %q in an earlier run, which is not in --accounts; it may have been sent, so no other account sends it", r.ID, w)
		}
	} else if w, ok := p.earlier[r.Chat]; ok && p.byName[w] == nil {
		return nil, fmt.Errorf("chat %s was sent by account %q in an earlier run, which is not in --accounts; its jobs stay with it", r.Chat, w)
	}
	switch {
	case r.Account != "":
		m := p.byName[r.Account]
		if m == nil {
			return nil, fmt.Errorf("no account %q (the accounts are %s)", r.Account, p.names())
		}
		if r.After != "" && r.After != r.Account {
			return nil, fmt.Errorf("job names account %q, and the job it runs after is sent by %q: a chain stays in one account", r.Account, r.After)
		}
		if held != nil && held != m && r.Chat == "" {
			return nil, fmt.Errorf("job names account %q, and an earlier run routed it to %q: it may have been sent, so no other account sends it", r.Account, held.Name)
		}
		return m, nil
	case r.After != "":
		m := p.byName[r.After]
		if held != nil && held != m {
			what := "chat " + r.Chat + " is sent"
			if r.Chat == "" {
				what = "an earlier run routed it"
			}
			return nil, fmt.Errorf("%s by account %q, and the job it runs after by %q: a chain stays in one account", what, held.Name, r.After)
		}
		return m, nil
	case held != nil:
		return held, nil
	}
	return p.roomiest(), nil
}

// held is the account that already holds r's chat (or, for a job without
// one, the job), or nil. p.mu is held.
func (p *Pool) held(r jobs.Route) *member {
	if r.Chat == "" {
		return p.jobs[r.ID]
	}
	return p.chats[r.Chat]
}

// bind records r's chat (or, without one, the job) as m's, in the journal
// first. A chat held by another account is left with it: only a job that
// names its account goes elsewhere. p.mu is held.
func (p *Pool) bind(r jobs.Route, m *member) error {
	if p.held(r) != nil {
		return nil
	}
	if err := p.journal.write(r.Chat, r.ID, m.Name); err != nil {
		return fmt.Errorf("recording the job's account: %w: %w", err, scheduler.ErrNotSent)
	}
	if r.Chat == "" {
		p.jobs[r.ID] = m
		return nil
	}
	p.chats[r.Chat] = m
	m.count.Chats++
	return nil
}

// roomiest is the account with the most room: the fewest jobs in flight
// per second of its paced rate (1 when unknown); ties go to the one with
// fewer chats, then to the first listed; nil if every account is down.
// p.mu is held.
func (p *Pool) roomiest() *member {
	var best *member
	var bestLoad float64
	for _, m := range p.members {
		if m.Down != nil {
			continue
		}
		rate := m.rate
		if rate <= 0 {
			rate = 1
		}
		load := float64(m.inFlight+1) / rate
		if best == nil || load < bestLoad || load == bestLoad && m.count.Chats < best.count.Chats {
			best, bestLoad = m, load
		}
	}
	return best
}

// refreshRates asks the members' Rate when RateEvery has passed. Route
// is not called concurrently; rateBusy guards against it anyway.
func (p *Pool) refreshRates() {
	p.mu.Lock()
	if p.rateBusy || time.Since(p.rateAt) < RateEvery {
		p.mu.Unlock()
		return
	}
	p.rateBusy = true
	p.mu.Unlock()
	// Asked at once, each with its own time: a busy account's slow answer
	// does not cost the others theirs, and an account that does not
	// answer keeps the rate it had (0, unknown, would make it look 30×
	// fuller than its peers).
	rates := make([]float64, len(p.members))
	var wg sync.WaitGroup
	for i, m := range p.members {
		if m.Rate == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
			defer cancel()
			rates[i] = m.Rate(ctx)
		}()
	}
	wg.Wait()
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, m := range p.members {
		if rates[i] > 0 {
			m.rate = rates[i]
		}
	}
	p.rateAt, p.rateBusy = time.Now(), false
}

// Finished implements jobs.Router.
func (p *Pool) Finished(account string, o *jobs.Result) {
	p.mu.Lock()
	defer p.mu.Unlock()
	m := p.byName[account]
	if m == nil {
		return
	}
	m.inFlight--
	switch {
	case o == nil:
		m.count.Dropped++
	case o.OK:
		m.count.OK++
	default:
		m.count.Failed++
	}
}

// Earlier implements jobs.Router: a chat an earlier run's result line
// gives an account keeps it (the journal usually has it already); if that
// account is not in the pool, the chat's jobs fail rather than move.
func (p *Pool) Earlier(chat, account string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if chat == "" || account == "" {
		return
	}
	if _, ok := p.earlier[chat]; !ok {
		p.earlier[chat] = account
	}
	m := p.byName[account]
	if m == nil || p.chats[chat] != nil {
		return
	}
	p.chats[chat] = m
	m.count.Chats++
}

// Counts returns what each account did, in the order given to New.
func (p *Pool) Counts() []Count {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]Count, len(p.members))
	for i, m := range p.members {
		out[i] = m.count
	}
	return out
}

func (p *Pool) names() string {
	n := make([]string, len(p.members))
	for i, m := range p.members {
		n[i] = m.Name
	}
	return strings.Join(n, ", ")
}
