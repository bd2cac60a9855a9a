package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tlsched/tlsched/actors"
	"github.com/tlsched/tlsched/entitycache"
)

// What tlworker shows of the pacer (scheduler/pacer.go): the paced rate
// beside the limits in the progress line, and a summary at the end.

// pacingSource is the Client's pacer report (actors.Client.Pacing).
type pacingSource interface {
	Pacing(ctx context.Context) (actors.PacingReport, error)
}

// pacingWatch takes the pacer's report when the progress line is drawn
// (at most every pacingPoll) and keeps the last one for the summary. Safe
// for concurrent use; it has no goroutine of its own.
type pacingWatch struct {
	src    pacingSource
	name   func(chat string) string // chatNames
	mu     sync.Mutex
	last   actors.PacingReport
	ok     bool
	rate   float64 // paced sends per second over the last pacingRateWindow; -1: not known yet
	polled time.Time
	// samples of (when, paced sends) over the last pacingRateWindow,
	// oldest first
	samples []pacingSample
}

type pacingSample struct {
	at   time.Time
	sent int
}

// pacingRateWindow is how far back the progress line's paced rate looks;
// pacingPoll is how stale the line's report may be.
const (
	pacingRateWindow = 5 * time.Second
	pacingPoll       = 500 * time.Millisecond
)

func watchPacing(src pacingSource, name func(chat string) string) *pacingWatch {
	// The paced rate counts from now: nothing was paced before.
	return &pacingWatch{src: src, name: name, samples: []pacingSample{{at: time.Now()}}}
}

// pollLocked takes a report; on error (the client closed) it keeps the
// last. w.mu is held.
func (w *pacingWatch) pollLocked() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	r, err := w.src.Pacing(ctx)
	if err != nil {
		return
	}
	now := time.Now()
	w.last, w.ok, w.polled = r, true, now
	w.samples = append(w.samples, pacingSample{now, r.Sent})
	for len(w.samples) > 2 && now.Sub(w.samples[1].at) >= pacingRateWindow {
		w.samples = w.samples[1:]
	}
	// Over less than a second, the first burst would read as a rate far
	// above any limit: no rate yet.
	w.rate = -1
	if first := w.samples[0]; now.Sub(first.at) >= time.Second {
		w.rate = float64(r.Sent-first.sent) / now.Sub(first.at).Seconds()
	}
}

// line is the progress line's pacing part ("" until a report came):
// pacingLine, or pacingShort when compact.
func (w *pacingWatch) line(compact bool) string {
	w.mu.Lock()
	defer w.mu.Unlock()
	if time.Since(w.polled) >= pacingPoll {
		w.pollLocked()
	}
	if !w.ok {
		return ""
	}
	if compact {
		return pacingShort(w.last, w.rate)
	}
	return pacingLine(w.last, w.rate, w.name)
}

// final takes a last report: call it before the client closes.
func (w *pacingWatch) final() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.pollLocked()
}

// report is the last report taken, if any.
func (w *pacingWatch) report() (actors.PacingReport, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.last, w.ok
}

// pacingLine is the progress line's pacing part: the rate paced writes go
// out at beside the limits, the chats whose limit was learned, and how
// many calls wait for their turn.
func pacingLine(r actors.PacingReport, rate float64, name func(string) string) string {
	if !r.On {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "paced %s; limits: account %s, private chat %s, group %s", fmtRate(rate), fmtRate(r.Account), fmtRate(r.Private), fmtRate(r.Group))
	if n := len(r.Chats); n > 0 {
		fmt.Fprintf(&b, ", %d learned (slowest %s %s)", n, name(r.Chats[0].Chat), fmtRate(r.Chats[0].Rate))
	}
	fmt.Fprintf(&b, "; %d waiting their turn; flood waits %d", r.Queued, r.FloodWaits)
	return b.String()
}

// pacingShort is pacingLine for the progress bar's one terminal line: the
// paced rate beside the account's limit, how many chats' limits were
// learned, the flood waits met.
func pacingShort(r actors.PacingReport, rate float64) string {
	if !r.On {
		return ""
	}
	return fmt.Sprintf("paced %s (account %s), %d learned, %d floods", fmtRate(rate), fmtRate(r.Account), len(r.Chats), r.FloodWaits)
}

// fmtRate shows calls per second with the digits that matter ("-" for a
// rate not known yet, negative).
func fmtRate(r float64) string {
	switch {
	case r < 0:
		return "-"
	case r == 0:
		return "0/s"
	case r >= 10:
		return fmt.Sprintf("%.1f/s", r)
	case r >= 0.1:
		return fmt.Sprintf("%.2f/s", r)
	default:
		return fmt.Sprintf("%.2f/min", r*60)
	}
}

// summaryLimits is how many learned limits the summary names; the rest are
// counted.
const summaryLimits = 5

// printPacingSummary prints what the run met and learned: flood waits and
// the seconds they cost, what the pacer held calls for, and the limits
// that differ from the configured ones (the account's and the slowest
// chats').
func printPacingSummary(w io.Writer, r actors.PacingReport, name func(string) string) {
	fmt.Fprintf(w, "flood waits met: %d (%s waited)", r.FloodWaits, fmtSeconds(r.FloodWaited))
	if !r.On {
		fmt.Fprintln(w, "; pacing off (--pacing paces writes below Telegram's limits)")
		return
	}
	avg := time.Duration(0)
	if r.Sent > 0 {
		avg = r.Waited / time.Duration(r.Sent)
	}
	fmt.Fprintf(w, "; pacing: %d sends paced (retries included), waiting %s for their turn on average\n", r.Sent, fmtSeconds(avg))
	fmt.Fprintln(w, "limits learned: "+learnedLimits(r, name))
}

// learnedLimits lists the keys whose rate differs from the configured
// one: "account 22.8/s, chat @alice 0.61/s, … and 3 more", or says there
// are none. name names a chat key (chatNames).
func learnedLimits(r actors.PacingReport, name func(string) string) string {
	var parts []string
	if r.Account != r.AccountBase {
		parts = append(parts, "account "+fmtRate(r.Account))
	}
	for i, c := range r.Chats {
		if i == summaryLimits {
			parts = append(parts, fmt.Sprintf("and %d more", len(r.Chats)-summaryLimits))
			break
		}
		s := "chat " + name(c.Chat) + " " + fmtRate(c.Rate)
		if c.BurstCut {
			s += " (no bursts)"
		}
		parts = append(parts, s)
	}
	if len(parts) == 0 {
		return fmt.Sprintf("none (as configured: account %s, private chat %s, group %s)", fmtRate(r.Account), fmtRate(r.Private), fmtRate(r.Group))
	}
	return strings.Join(parts, ", ")
}

func fmtSeconds(d time.Duration) string {
	if d < 10*time.Second {
		return fmt.Sprintf("%.1f s", d.Seconds())
	}
	return fmt.Sprintf("%.0f s", d.Seconds())
}

// chatNames names a scheduler chat key ("user:123", "chat:5",
// "channel:7") by the username the entity cache knows for it ("@alice"),
// else by the key itself. Nil cache: keys as they are.
func chatNames(c *entitycache.Cache) func(chat string) string {
	return func(chat string) string {
		kind, id, ok := strings.Cut(chat, ":")
		if !ok || c == nil {
			return chat
		}
		n, err := strconv.ParseInt(id, 10, 64)
		if err != nil {
			return chat
		}
		var k entitycache.Kind
		switch kind {
		case "user":
			k = entitycache.User
		case "chat":
			k = entitycache.Chat
		case "channel":
			k = entitycache.Channel
		default:
			return chat
		}
		if e, ok := c.Lookup(entitycache.Key{Kind: k, ID: n}); ok && len(e.Usernames) > 0 {
			return "@" + e.Usernames[0]
		}
		return chat
	}
}
