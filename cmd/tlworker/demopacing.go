package main

import (
	"context"
	"crypto/rsa"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/gotd/td/exchange"
	"github.com/gotd/td/tg"

	"github.com/tlsched/tlsched/actors"
	"github.com/tlsched/tlsched/entitycache"
	"github.com/tlsched/tlsched/scheduler"
	"github.com/tlsched/tlsched/tgsim"
)

// The demo's pacing scene: while the bulk runs, a second client with
// pacing on (scheduler/pacer.go) writes to a few private chats and groups
// of a second tgsim that enforces Telegram's published bot limits, each
// chat's varied by up to ±30% (limits the client cannot know), on a clock
// pacingSpeed times faster than real time so that it fits the demo's
// seconds. The summary shows the rates it paced at beside the limits, and
// the flood waits it met, in Telegram's seconds.

// pacingSpeed is how much faster than real time the scene's clock runs:
// tgsim's flood model (FloodConfig.Now) and the client's scheduler
// (actors.Config.TimeScale) keep it, so limits, waits and rates are
// Telegram's own figures.
const pacingSpeed = 4

// The scene's workload: pacingPerChat messages to each of pacingPrivate
// private chats, pacingPerGroup to each of pacingGroups supergroups.
const (
	pacingPrivate, pacingPerChat = 4, 8
	pacingGroups, pacingPerGroup = 2, 6
	pacingVary, pacingSeed       = 0.3, 7
)

// pacingScene is the scene's outcome, for the summary.
type pacingScene struct {
	sent, failed int
	firstErr     error
	elapsed      time.Duration
	ideal        time.Duration // the least time tgsim's limits allowed (tgsim.Server.IdealFinish)
	report       actors.PacingReport
	learned      string // learnedLimits, chats by name
	issued       int    // FLOOD_WAITs tgsim issued
	err          error
}

// sceneClock returns the scene's clock: real time, pacingSpeed times
// faster from now.
func sceneClock() func() time.Time {
	origin := time.Now()
	return func() time.Time { return origin.Add(time.Since(origin) * pacingSpeed) }
}

// runPacingScene plays the scene and returns its outcome; it never fails
// the demo on its own (the summary says what went wrong).
func runPacingScene(ctx context.Context, key *rsa.PrivateKey) (s pacingScene) {
	srv, err := tgsim.Start(tgsim.Config{
		Key: key, DCs: []int{2},
		World: tgsim.WorldConfig{Users: pacingPrivate, Groups: 1, Megagroups: pacingGroups, Channels: 1},
		Flood: tgsim.FloodConfig{
			Messages:    tgsim.Rate{N: 30, Per: time.Second},
			PrivateChat: tgsim.Rate{N: 1, Per: time.Second}, // "one a second"
			Group:       tgsim.Rate{N: 20, Per: time.Minute},
			Vary:        pacingVary, Seed: pacingSeed,
			Now: sceneClock(),
		},
	})
	if err != nil {
		s.err = err
		return s
	}
	defer srv.Close()
	dcs := srv.DCAddrs()
	client, err := actors.Start(ctx, actors.Config{
		DCs: dcs, PublicKeys: []exchange.PublicKey{srv.PublicKey()}, Store: actors.NewMemoryStore(),
		TimeScale: pacingSpeed,
		// The pacer's defaults are Telegram's published bot limits.
		Scheduler: scheduler.Config{HomeDC: 2, Pacing: scheduler.PacingConfig{On: true}},
	})
	if err != nil {
		s.err = err
		return s
	}
	defer closeClient(client, 10*time.Second)
	cache, err := entitycache.Open(entitycache.Config{})
	if err != nil {
		s.err = err
		return s
	}
	defer cache.Close()
	if err := cache.Attach(client); err != nil { // before the first call: it learns from every result
		s.err = err
		return s
	}

	var targets []tg.InputPeerClass
	var names []string
	for _, u := range srv.Users() {
		names = append(names, "@"+u.Username)
	}
	for _, ch := range srv.Chats() {
		if ch.Kind == "supergroup" {
			names = append(names, "@"+ch.Username)
		}
	}
	for i, name := range names {
		p, err := cache.InputPeer(ctx, name)
		if err != nil {
			s.err = fmt.Errorf("resolve %s: %w", name, err)
			return s
		}
		n := pacingPerChat
		if i >= pacingPrivate {
			n = pacingPerGroup
		}
		for range n {
			targets = append(targets, p)
		}
	}

	// Every message at once: the pacer decides when each goes.
	var wg sync.WaitGroup
	var mu sync.Mutex
	start := time.Now()
	for i, p := range targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := client.Call(ctx, &tg.MessagesSendMessageRequest{Peer: p, Message: fmt.Sprintf("paced %d", i), RandomID: int64(i + 1)})
			mu.Lock()
			defer mu.Unlock()
			s.sent++
			if err != nil {
				s.failed++
				if s.firstErr == nil {
					s.firstErr = err
				}
			}
		}()
	}
	wg.Wait()
	s.elapsed = time.Since(start) * pacingSpeed // Telegram time
	s.ideal = srv.IdealFinish(srv.Bot().ID)
	s.report, s.err = client.Pacing(ctx)
	s.learned = learnedLimits(s.report, chatNames(cache))
	s.issued = int(srv.Counters().FloodWaits["messages.sendMessage"])
	return s
}

// printPacingScene adds the scene to the demo's summary.
func printPacingScene(row func(k string, v ...any), header func(string), s pacingScene) {
	header(fmt.Sprintf("pacing (a second tgsim: Telegram's bot limits on a clock %d× faster, each chat's ±%.0f%%; Telegram seconds)", pacingSpeed, pacingVary*100))
	if s.err != nil && s.sent == 0 {
		row("scene", "NOT RUN: ", s.err)
		return
	}
	r := s.report
	row("paced writes", fmt.Sprintf("%d to %d private chats and %d groups in %v (%v real; ok %d, failed %d)",
		s.sent, pacingPrivate, pacingGroups, s.elapsed.Round(time.Millisecond), (s.elapsed/pacingSpeed).Round(time.Millisecond), s.sent-s.failed, s.failed))
	if s.ideal > 0 {
		row("tgsim's limits allowed", fmt.Sprintf("%v at best: %.0f%% goodput", s.ideal.Round(time.Millisecond), 100*s.ideal.Seconds()/s.elapsed.Seconds()))
	}
	row("paced at", fmt.Sprintf("account %s, private chat %s, group %s (published limits %s, %s, %s)",
		fmtRate(r.Account), fmtRate(r.Private), fmtRate(r.Group),
		fmtRate(30), fmtRate(1), fmtRate(20.0/60)))
	row("flood waits", fmt.Sprintf("%d met (%s waited; tgsim issued %d)", r.FloodWaits, fmtSeconds(r.FloodWaited), s.issued))
	row("limits learned", s.learned)
	if s.firstErr != nil {
		row("first failure", s.firstErr)
	}
}

// pacingSceneLine is printed when the scene starts.
func pacingSceneLine(w io.Writer) {
	fmt.Fprintf(w, "pacing scene alongside: %d messages to %d private chats and %d groups of a second tgsim, paced below Telegram's bot limits (sped up %d×), each chat's limit unknown (±%.0f%%)\n",
		pacingPrivate*pacingPerChat+pacingGroups*pacingPerGroup, pacingPrivate, pacingGroups, pacingSpeed, pacingVary*100)
}
