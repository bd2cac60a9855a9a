package bench

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gotd/td/bin"
	"github.com/gotd/td/exchange"
	"github.com/gotd/td/tg"

	"github.com/tlsched/tlsched/actors"
	"github.com/tlsched/tlsched/scheduler"
)

// sendRunRow is the aggregate throughput of a Fleet's accounts each
// sending at its limit (fleet.go renders it).
type sendRunRow struct {
	Accounts int
	Scale    float64 // Telegram time's speed over real time
	// Delivered is the messages tgsim stored per Telegram second of the
	// window; Goodput is Delivered over the sum of the accounts' limits.
	Delivered, Goodput float64
	// WindowWaits and Waits are the FLOOD_WAIT answers to sendMessage in
	// the window and over the whole run (warm-up included).
	WindowWaits, Waits int64
	Failed             int64 // calls that failed before the run ended
	// AccountsCut counts the accounts whose pacer ran below its starting
	// rate at the window's end (cut after a flood on the account's
	// budget); ChatCuts sums the chats' cuts.
	AccountsCut, ChatCuts int64
	ByBudget              string  // the run's waits by the budget that imposed them
	RealPerSec            float64 // Delivered in real seconds
	Slowest               string  // the slowest accounts' deliveries in the window
}

// sendRun brings up n accounts against a tgsim child whose bots each
// have f.rate messages per Telegram second, resolves each account's chats
// (users.getUsers: access hashes are per viewer), then has every account
// keep 2×rate sendMessage calls submitted through its pacer, and counts
// what tgsim stored in the window.
func sendRun(f fleetFlags, n int, scale float64, logf func(string, ...any)) (sendRunRow, error) {
	sim, err := startFleetSim(fleetSimFlags{bots: n, users: max(f.chats, 10), prepare: true, rate: f.rate, scale: scale})
	if err != nil {
		return sendRunRow{}, err
	}
	defer sim.stop()
	ctx := context.Background()
	fleet, err := actors.NewFleet(ctx, actors.FleetConfig{DCs: map[int]string{2: sim.hello.Addr}, PublicKeys: []exchange.PublicKey{sim.key}, ConnsPerSecond: f.conns})
	if err != nil {
		return sendRunRow{}, err
	}
	defer fleet.Close(ctx)
	pacing := scheduler.PacingConfig{
		On:      true,
		Account: scheduler.Rate{N: f.rate, Per: time.Second, Burst: f.accountBurst},
		Private: scheduler.Rate{N: publishedPrivateN, Per: time.Second, Burst: publishedPrivateBurst},
		Group:   scheduler.Rate{N: publishedGroupN, Per: time.Minute, Burst: publishedGroupBurst},
	}
	clients := make([]*actors.Client, n)
	for i := range n {
		k, salt := sim.authKey(i)
		cfg := actors.Config{
			Store:     newSeededStore(k, salt, true, nil),
			Scheduler: scheduler.Config{HomeDC: 2, FloodThreshold: time.Hour, Pacing: pacing},
			TimeScale: scale,
		}
		if clients[i], err = fleet.Add(ctx, "bot"+strconv.Itoa(i), actors.AccountConfig{Config: cfg}); err != nil {
			return sendRunRow{}, err
		}
	}
	logf("fleet: %d accounts added; resolving their chats", n)
	peers := make([][]tg.InputPeerClass, n)
	if err := eachClient(ctx, clients, func(ctx context.Context, i int, c *actors.Client) error {
		req := &tg.UsersGetUsersRequest{}
		for _, id := range sim.hello.Users[:f.chats] {
			req.ID = append(req.ID, &tg.InputUser{UserID: id})
		}
		objs, err := actors.Do[[]bin.Object](ctx, c, req)
		if err != nil {
			return fmt.Errorf("account %d: users.getUsers: %w", i, err)
		}
		for _, o := range objs {
			if u, ok := o.(*tg.User); ok {
				peers[i] = append(peers[i], &tg.InputPeerUser{UserID: u.ID, AccessHash: u.AccessHash})
			}
		}
		if len(peers[i]) != f.chats {
			return fmt.Errorf("account %d: users.getUsers found %d of %d users", i, len(peers[i]), f.chats)
		}
		return nil
	}); err != nil {
		return sendRunRow{}, err
	}

	queued := 2 * f.rate
	sent := make([]atomic.Int64, n)
	var failed atomic.Int64
	var firstErr atomic.Pointer[error]
	runCtx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	c0, err := sim.counters()
	if err != nil {
		stop()
		return sendRunRow{}, err
	}
	for i, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var futs []*actors.Future
			for k := 0; runCtx.Err() == nil; k++ {
				req := &tg.MessagesSendMessageRequest{Peer: peers[i][k%f.chats], Message: "fleet " + strconv.Itoa(k), RandomID: int64(i)<<32 | int64(k+1)}
				fut, err := c.Go(runCtx, req)
				if err != nil {
					break
				}
				futs = append(futs, fut)
				if len(futs) < queued {
					continue
				}
				_, err = futs[0].Wait(runCtx)
				futs = futs[1:]
				if runCtx.Err() != nil {
					break
				}
				if err != nil {
					if failed.Add(1) == 1 {
						firstErr.Store(&err)
					}
					continue
				}
				sent[i].Add(1)
			}
		}()
	}
	snap := func() []int64 {
		out := make([]int64, n)
		for i := range sent {
			out[i] = sent[i].Load()
		}
		return out
	}
	clk := newBenchClock(scale)
	time.Sleep(clk.real(f.warmup))
	c1, err1 := sim.counters()
	s1, t1 := snap(), time.Now()
	time.Sleep(clk.real(f.duration))
	c2, err2 := sim.counters()
	s2, t2 := snap(), time.Now()
	// What each pacer made of the waits: accounts whose rate it cut.
	var cut, chatCuts atomic.Int64
	perr := eachClient(ctx, clients, func(ctx context.Context, _ int, c *actors.Client) error {
		p, err := c.Pacing(ctx)
		if p.Account < p.AccountBase {
			cut.Add(1)
		}
		chatCuts.Add(int64(p.Stats.ChatCuts))
		return err
	})
	stop()
	wg.Wait()
	if err1 != nil || err2 != nil || perr != nil {
		return sendRunRow{}, fmt.Errorf("tgsim counters: %v %v; pacing: %v", err1, err2, perr)
	}
	real := t2.Sub(t1).Seconds()
	window := real * scale // Telegram seconds
	stored := float64(c2.MessagesStored - c1.MessagesStored)
	row := sendRunRow{
		Accounts: n, Scale: scale,
		Delivered:   stored / window,
		WindowWaits: c2.FloodWaits["messages.sendMessage"] - c1.FloodWaits["messages.sendMessage"],
		Waits:       c2.FloodWaits["messages.sendMessage"] - c0.FloodWaits["messages.sendMessage"],
		Failed:      failed.Load(),
		AccountsCut: cut.Load(),
		ChatCuts:    chatCuts.Load(),
		ByBudget:    fmtBudgets(c2.WaitsByBudget, c0.WaitsByBudget),
		RealPerSec:  stored / real,
	}
	row.Goodput = row.Delivered / float64(n*f.rate)
	per := make([]float64, n)
	for i := range per {
		per[i] = float64(s2[i]-s1[i]) / window
	}
	sort.Float64s(per)
	row.Slowest = fmt.Sprintf("%.1f / %.1f / %.1f", per[0], per[n/100], per[n/2])
	logf("fleet: tgsim over the run: %d resent, %d duplicates suppressed, %d RANDOM_ID_DUPLICATE, %d calls inside an announced wait, flood waits by budget %v, flood seconds %d",
		c2.Resent-c0.Resent, c2.Duplicates-c0.Duplicates, c2.RandomIDBusy-c0.RandomIDBusy, c2.IgnoredWaits-c0.IgnoredWaits, c2.WaitsByBudget, c2.FloodSeconds-c0.FloodSeconds)
	if e := firstErr.Load(); e != nil {
		logf("fleet: first failure: %v", *e)
	}
	logf("fleet: %.0f msg/s delivered (%.1f%% of %d/s), %d flood waits in the window, %d in the run, %d failed", row.Delivered, 100*row.Goodput, n*f.rate, row.WindowWaits, row.Waits, row.Failed)
	return row, nil
}

// eachClient runs do for every client at once and returns the first error.
func eachClient(ctx context.Context, clients []*actors.Client, do func(context.Context, int, *actors.Client) error) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, len(clients))
	for i, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := do(ctx, i, c); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// fmtBudgets prints the waits between two counts by budget ("account 12,
// private 1"), or "none".
func fmtBudgets(now, before map[string]int64) string {
	var parts []string
	for k, v := range now {
		if d := v - before[k]; d > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", k, d))
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}
