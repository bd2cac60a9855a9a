package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/gotd/td/exchange"
	"github.com/gotd/td/tg"

	"github.com/tlsched/tlsched/actors"
	"github.com/tlsched/tlsched/cmd/tlworker/internal/accountpool"
	"github.com/tlsched/tlsched/cmd/tlworker/internal/jobs"
	"github.com/tlsched/tlsched/entitycache"
	"github.com/tlsched/tlsched/scheduler"
	"github.com/tlsched/tlsched/telemetry"
	"github.com/tlsched/tlsched/tgsim"
)

// The demo with --accounts N: tgsim makes N bots that must log in; one
// Fleet runs them, each with its own entity cache, and an account pool
// (internal/accountpool, as tlworker send --accounts uses) gives each
// chat of the bulk to the account with the most room, for good. The
// ordered chain and the peers' first resolution go through the first
// account.

// demoAccount is one bot of the demo's Fleet.
type demoAccount struct {
	client *actors.Client
	cache  *entitycache.Cache
}

// startDemoFleet is startDemo's actor system for n accounts: a Fleet of
// tgsim's n bots, logged in (loginAccounts), each with an entity cache.
// d.client and d.cache are the first bot's.
func startDemoFleet(d *demoRun, n int, tel *telemetry.Telemetry) error {
	ctx := context.Background()
	fleet, err := actors.NewFleet(ctx, actors.FleetConfig{
		APIID: 1, APIHash: "demo", DCs: d.srv.DCAddrs(), PublicKeys: []exchange.PublicKey{d.srv.PublicKey()}, Telemetry: tel,
	})
	if err != nil {
		return err
	}
	d.fleet = fleet
	d.accounts = map[string]*demoAccount{}
	var members []accountpool.Member
	var lines []accountLine
	for i, bot := range d.srv.Bots()[:n] {
		name := fmt.Sprintf("bot%d", i+1)
		client, err := fleet.Add(ctx, name, actors.AccountConfig{BotToken: bot.Token, Config: actors.Config{
			// Start on DC 1, as the one-account demo does: the bots live
			// on other DCs and meet USER_MIGRATE first.
			Scheduler: scheduler.Config{HomeDC: 1},
		}})
		if err != nil {
			return err
		}
		cache, err := entitycache.Open(entitycache.Config{})
		if err == nil {
			if err = cache.Attach(client); err != nil {
				cache.Close()
			}
		}
		if err != nil {
			return err
		}
		d.accounts[name] = &demoAccount{client: client, cache: cache}
		d.caches = append(d.caches, cache)
		members = append(members, accountpool.Member{Account: jobs.Account{Name: name, Sender: jobs.Actors(client), Peers: cache}, Rate: pacedRate(client)})
		lines = append(lines, accountLine{name: name, token: bot.Token})
		if i == 0 {
			d.client, d.cache = client, cache
		}
	}
	if err := errors.Join(loginAccounts(ctx, fleet, lines, 30*time.Second)...); err != nil {
		return err
	}
	d.pool, err = accountpool.New(members, nil)
	return err
}

// sendPooled sends the bulk's i-th message through the account the pool
// gives its chat, with the peer resolved by that account's own cache
// (access hashes are per account).
func (d *demoRun) sendPooled(ctx context.Context, i int, target string) error {
	a, err := d.pool.Route(jobs.Route{ID: strconv.Itoa(i), Chat: target})
	if err != nil {
		return err
	}
	acct := d.accounts[a.Name]
	peer, err := acct.cache.InputPeer(ctx, target)
	if err == nil {
		var res tg.UpdatesBox
		err = acct.client.Invoke(ctx, &tg.MessagesSendMessageRequest{
			Peer: peer, Message: fmt.Sprintf("demo message %d", i), RandomID: int64(i + 1),
		}, &res)
	}
	d.pool.Finished(a.Name, &jobs.Result{OK: err == nil})
	return err
}

// fleetStats sums the scheduler's figures over the Fleet's accounts.
func (d *demoRun) fleetStats(ctx context.Context) scheduler.Stats {
	var sum scheduler.Stats
	for _, a := range d.accounts {
		st, err := a.client.Stats(ctx)
		if err != nil {
			continue
		}
		sum.Submitted += st.Submitted
		sum.Batches += st.Batches
		sum.Sent += st.Sent
		sum.Succeeded += st.Succeeded
		sum.Failed += st.Failed
		sum.FloodWaits += st.FloodWaits
		sum.GateClosures += st.GateClosures
		sum.Migrations += st.Migrations
		sum.Backoffs += st.Backoffs
		sum.ChainRepairs += st.ChainRepairs
		sum.LateResults += st.LateResults
		sum.ChainWaits += st.ChainWaits
		sum.CanceledInFlight += st.CanceledInFlight
	}
	return sum
}

// printDemoAccounts prints what each bot sent, with what tgsim counted
// for it.
func (d *demoRun) printDemoAccounts(w io.Writer) {
	counts := d.pool.Counts()
	bots := d.srv.Bots()
	fmt.Fprintf(w, "accounts (%d bots; the bulk's chats dealt out by room, each chat to one bot)\n", len(counts))
	for i, c := range counts {
		ac := d.srv.AccountCounters(bots[i].ID)
		fmt.Fprintf(w, "  %-6s %6d ok, %d failed; %4d chats; tgsim stored %d messages from it\n", c.Name, c.OK, c.Failed, c.Chats, ac.MessagesStored)
	}
}

func (d *demoRun) closeFleet() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = d.fleet.Close(ctx)
	for _, c := range d.caches {
		c.Close()
	}
}

// demoSim is the bulk's tgsim configuration with n bots (0: one, as
// always): with more, each must log in with its token.
func demoSim(cfg tgsim.Config, n int) tgsim.Config {
	if n > 0 {
		cfg.World.Bots = n
		cfg.RequireLogin = true
	}
	return cfg
}
