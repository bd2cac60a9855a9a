package bench

import (
	"context"
	"crypto/rsa"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/gotd/contrib/middleware/floodwait"
	"github.com/gotd/contrib/middleware/ratelimit"
	"github.com/gotd/td/bin"
	"github.com/gotd/td/exchange"
	"github.com/gotd/td/telegram"
	"github.com/gotd/td/telegram/dcs"
	"github.com/gotd/td/tg"
	"golang.org/x/time/rate"

	"github.com/tlsched/tlsched/actors"
	"github.com/tlsched/tlsched/scheduler"
	"github.com/tlsched/tlsched/tgsim"
)

// floodSender is one client's way to send: the input peer of each chat,
// and send, which sends message i and returns when it was answered (or
// failed for good).
type floodSender struct {
	peers []tg.InputPeerClass // by chat
	send  func(ctx context.Context, i int, req *tg.MessagesSendMessageRequest) error
}

// runFloodClient runs the workload through one client against a fresh
// tgsim. learned are the limits a paced run starts from ("learned
// limits" row).
func runFloodClient(who string, f floodFlags, key *rsa.PrivateKey, w floodWorkload, learned map[string]float64) (floodRun, error) {
	log := &floodLog{}
	srv, err := tgsim.Start(floodServerConfig(f, key, log.add))
	if err != nil {
		return floodRun{}, err
	}
	defer srv.Close()
	run := floodRun{Client: who}
	measured := func(ctx context.Context, s floodSender) error {
		c0 := srv.Counters()
		log.start()
		run.Start = time.Now()
		run.measure(ctx, f.timeout, w, s)
		run.Events = log.stop()
		c1 := srv.Counters()
		run.WaitSeconds = c1.FloodSeconds - c0.FloodSeconds
		run.Stored = c1.MessagesStored - c0.MessagesStored
		run.Ideal = srv.IdealFinish(srv.Bot().ID)
		if int(run.Stored) != run.Sent {
			return fmt.Errorf("%d messages answered, %d stored by tgsim", run.Sent, run.Stored)
		}
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), f.timeout+time.Minute)
	defer cancel()
	switch who {
	case floodClients[0], floodClients[1], floodClients[3]:
		paced := who != floodClients[3]
		err = runFloodOurs(ctx, f, srv, key, w, paced, learned, &run, measured)
	case floodClients[2]:
		err = runFloodOurs(ctx, f, srv, key, w, true, hiddenLimits(f, srv, w), &run, measured)
	case floodClients[4]:
		err = runFloodGotd(ctx, f, srv, key, w, false, measured)
	case floodClients[5]:
		err = runFloodGotd(ctx, f, srv, key, w, true, measured)
	default:
		err = fmt.Errorf("unknown client %q", who)
	}
	return run, err
}

// hiddenLimits are tgsim's own limits of the workload's chats, as pacer
// limits at the pacer's headroom: the "told the hidden limits" row.
func hiddenLimits(f floodFlags, srv *tgsim.Server, w floodWorkload) map[string]float64 {
	const headroom = 0.97 // scheduler.PacingConfig's default
	perSecond := func(r tgsim.Rate) float64 { return float64(r.N) / r.Per.Seconds() * headroom }
	bot := srv.Bot().ID
	out := map[string]float64{"account": perSecond(tgsim.Rate{N: publishedAccountN, Per: scaled(f, time.Second)})}
	for c := range w.Private {
		id := srv.Users()[c].ID
		out["user:"+strconv.FormatInt(id, 10)] = perSecond(srv.ChatLimit(bot, id, false))
	}
	groups := 0
	for _, ch := range srv.Chats() {
		if ch.Kind == "group" && groups < w.Groups {
			out["chat:"+strconv.FormatInt(ch.ID, 10)] = perSecond(srv.ChatLimit(bot, ch.ID, true))
			groups++
		}
	}
	return out
}

// measure submits every message at once and waits for all answers or the
// timeout.
func (r *floodRun) measure(ctx context.Context, timeout time.Duration, w floodWorkload, s floodSender) {
	var mu sync.Mutex
	var wg sync.WaitGroup
	runCtx, stop := context.WithDeadline(ctx, r.Start.Add(timeout))
	defer stop()
	for i, c := range w.Order {
		wg.Add(1)
		req := &tg.MessagesSendMessageRequest{Peer: s.peers[c], Message: "broadcast " + strconv.Itoa(i), RandomID: int64(i) + 1}
		go func() {
			defer wg.Done()
			err := s.send(runCtx, i, req)
			at := time.Since(r.Start)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				r.Failed++
				if r.FirstErr == "" {
					r.FirstErr = err.Error()
				}
				if errors.Is(err, context.DeadlineExceeded) || runCtx.Err() != nil {
					r.TimedOut = true
				}
				return
			}
			r.Sent++
			r.Lat = append(r.Lat, at)
			r.Done = append(r.Done, at)
			r.Total = max(r.Total, at)
		}()
	}
	wg.Wait()
	if r.TimedOut {
		r.Total = timeout
	}
}

// runFloodOurs: tlsched's actor system, paced or reactive. Every message
// is a Go; the futures are awaited. A paced run keeps its learned limits
// in run.Learned; learned (if any) are where it starts.
func runFloodOurs(ctx context.Context, f floodFlags, srv *tgsim.Server, key *rsa.PrivateKey, w floodWorkload, paced bool,
	learned map[string]float64, run *floodRun, measured func(context.Context, floodSender) error) error {
	store := actors.NewMemoryStore()
	if learned != nil {
		if err := store.SaveLimits(learned); err != nil {
			return err
		}
	}
	sc := scheduler.Config{HomeDC: 2, FloodThreshold: f.timeout}
	if paced {
		sc.Pacing = floodPacing(f)
	}
	c, err := actors.Start(ctx, actors.Config{
		DCs: map[int]string{2: srv.Addr(2)}, PublicKeys: []exchange.PublicKey{srv.PublicKey()},
		Store: store, Scheduler: sc,
	})
	if err != nil {
		return err
	}
	objs, err := actors.Do[[]bin.Object](ctx, c, getUsersReq(srv, w))
	if err != nil {
		closeClient(c, 10*time.Second)
		return fmt.Errorf("users.getUsers: %w", err)
	}
	users := make([]tg.UserClass, 0, len(objs))
	for _, o := range objs {
		if u, ok := o.(tg.UserClass); ok {
			users = append(users, u)
		}
	}
	peers, err := floodPeers(srv, w, users)
	if err != nil {
		closeClient(c, 10*time.Second)
		return err
	}
	err = measured(ctx, floodSender{peers: peers, send: func(ctx context.Context, _ int, req *tg.MessagesSendMessageRequest) error {
		fut, err := c.Go(ctx, req)
		if err != nil {
			return err
		}
		_, err = fut.Wait(ctx)
		return err
	}})
	closeClient(c, 10*time.Second)
	if paced {
		run.Learned, _ = store.LoadLimits()
	}
	return err
}

// runFloodGotd: gotd's telegram.Client with contrib's floodwait.Waiter
// (no retry or wait limit: every message is sent in the end), and with
// limit, contrib's ratelimit at the published 30/s (scaled) in front of it.
func runFloodGotd(ctx context.Context, f floodFlags, srv *tgsim.Server, key *rsa.PrivateKey, w floodWorkload, limit bool,
	measured func(context.Context, floodSender) error) error {
	host, portStr, _ := net.SplitHostPort(srv.Addr(2))
	port, _ := strconv.Atoi(portStr)
	waiter := floodwait.NewWaiter().WithMaxRetries(0).WithMaxWait(0)
	mws := []telegram.Middleware{waiter}
	if limit {
		mws = append(mws, ratelimit.New(rate.Limit(publishedAccountN*f.scale), publishedAccountN))
	}
	client := telegram.NewClient(1, "hash", telegram.Options{
		PublicKeys:  []telegram.PublicKey{{RSA: &key.PublicKey}},
		DC:          2,
		DCList:      dcs.List{Options: []tg.DCOption{{ID: 2, IPAddress: host, Port: port}}},
		NoUpdates:   true,
		Middlewares: mws,
	})
	return waiter.Run(ctx, func(ctx context.Context) error {
		return client.Run(ctx, func(ctx context.Context) error {
			api := client.API()
			users, err := api.UsersGetUsers(ctx, getUsersReq(srv, w).ID)
			if err != nil {
				return fmt.Errorf("users.getUsers: %w", err)
			}
			peers, err := floodPeers(srv, w, users)
			if err != nil {
				return err
			}
			return measured(ctx, floodSender{peers: peers, send: func(ctx context.Context, _ int, req *tg.MessagesSendMessageRequest) error {
				_, err := api.MessagesSendMessage(ctx, req)
				return err
			}})
		})
	})
}

// getUsersReq looks up the workload's users (tgsim's first ones): a bot
// may omit their access hashes in users.getUsers (tgsim and Telegram
// alike).
func getUsersReq(srv *tgsim.Server, w floodWorkload) *tg.UsersGetUsersRequest {
	req := &tg.UsersGetUsersRequest{}
	for _, u := range srv.Users()[:w.Private] {
		req.ID = append(req.ID, &tg.InputUser{UserID: u.ID})
	}
	return req
}

// floodPeers returns each chat's input peer: the users found, then tgsim's
// basic groups.
func floodPeers(srv *tgsim.Server, w floodWorkload, users []tg.UserClass) ([]tg.InputPeerClass, error) {
	if len(users) != w.Private {
		return nil, fmt.Errorf("users.getUsers found %d of %d users", len(users), w.Private)
	}
	peers := make([]tg.InputPeerClass, 0, w.Private+w.Groups)
	for _, u := range users {
		u, ok := u.(*tg.User)
		if !ok {
			return nil, fmt.Errorf("users.getUsers: %T", u)
		}
		peers = append(peers, &tg.InputPeerUser{UserID: u.ID, AccessHash: u.AccessHash})
	}
	for _, c := range srv.Chats() {
		if c.Kind == "group" && len(peers) < w.Private+w.Groups {
			peers = append(peers, &tg.InputPeerChat{ChatID: c.ID})
		}
	}
	if len(peers) != w.Private+w.Groups {
		return nil, fmt.Errorf("tgsim has %d of %d groups", len(peers)-w.Private, w.Groups)
	}
	return peers, nil
}
