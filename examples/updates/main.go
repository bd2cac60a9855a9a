// Command updates runs a bot that receives messages: gotd's updates.Manager
// is the account's Config.UpdateHandler, and it keeps the account's pts
// with the actors.Client as its API (tg.NewClient(client)), so an update
// the server never delivered is fetched again with updates.getDifference.
// The bot echoes each message back. tgsim, started in this process, plays
// the users writing to the bot, and drops one push on purpose to show the
// gap being repaired.
//
//	go run ./examples/updates
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"sync"
	"time"

	"github.com/gotd/td/exchange"
	"github.com/gotd/td/telegram/updates"
	"github.com/gotd/td/tg"

	"github.com/tlsched/tlsched/actors"
	"github.com/tlsched/tlsched/tgsim"
)

func main() {
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), `Usage: updates

Starts tgsim (a Telegram-like server) in this process and a bot on it
whose incoming messages go through gotd's updates.Manager; users write to
the bot, one of those messages is never pushed (a gap the Manager repairs
with updates.getDifference), and the bot prints and echoes each. It takes
no flags or arguments.
`)
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 0 {
		flag.Usage()
		os.Exit(2)
	}
	srv, err := tgsim.Start(tgsim.Config{World: tgsim.WorldConfig{Users: 2}, Flood: tgsim.FloodConfig{Off: true}})
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	if _, err := run(srv, os.Stdout); err != nil {
		log.Fatal(err)
	}
}

// received is what the bot got: the texts of incoming messages in the
// order its handler saw them.
type received struct {
	mu    sync.Mutex
	texts []string
	more  chan struct{} // a message was handled (and echoed)
}

func (r *received) add(s string) {
	r.mu.Lock()
	r.texts = append(r.texts, s)
	r.mu.Unlock()
	r.more <- struct{}{}
}

// wait waits until the bot has handled n messages in all.
func (r *received) wait(ctx context.Context, n int) error {
	for {
		r.mu.Lock()
		got := len(r.texts)
		r.mu.Unlock()
		if got >= n {
			return nil
		}
		select {
		case <-r.more:
		case <-ctx.Done():
			return fmt.Errorf("bot handled %d messages of %d: %w", got, n, ctx.Err())
		}
	}
}

func run(srv *tgsim.Server, w io.Writer) ([]string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dcs := srv.DCAddrs()

	// The bot's logic: a dispatcher by update type. The Manager hands it
	// updates in pts order, with gaps filled.
	got := &received{more: make(chan struct{}, 16)}
	var api *tg.Client
	d := tg.NewUpdateDispatcher()
	d.OnNewMessage(func(ctx context.Context, e tg.Entities, u *tg.UpdateNewMessage) error {
		m, ok := u.Message.(*tg.Message)
		if !ok || m.Out {
			return nil // the bot's own messages
		}
		from, ok := m.PeerID.(*tg.PeerUser)
		if !ok {
			return nil
		}
		fmt.Fprintf(w, "message %d from @%s: %q\n", m.ID, e.Users[from.UserID].Username, m.Message)
		// Its result (updateShortSentMessage) goes to the Manager too, so
		// the bot's own pts never looks like a gap.
		_, err := api.MessagesSendMessage(ctx, &tg.MessagesSendMessageRequest{
			Peer:     e.Users[from.UserID].AsInputPeer(),
			Message:  "echo: " + m.Message,
			RandomID: int64(m.ID),
		})
		got.add(m.Message)
		return err
	})
	mgr := updates.New(updates.Config{Handler: d})

	client, err := actors.Start(ctx, actors.Config{
		DCs:           dcs,
		PublicKeys:    []exchange.PublicKey{srv.PublicKey()},
		Store:         actors.NewMemoryStore(),
		UpdateHandler: mgr,
	})
	if err != nil {
		return nil, err
	}
	defer client.Close(ctx)
	api = tg.NewClient(client)

	self, err := api.UsersGetUsers(ctx, []tg.InputUserClass{&tg.InputUserSelf{}})
	if err != nil {
		return nil, err
	}
	me := self[0].(*tg.User)
	started := make(chan struct{})
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		// Run fetches the state (updates.getState), then follows pts.
		done <- mgr.Run(runCtx, api, me.ID, updates.AuthOptions{IsBot: true, OnStart: func(context.Context) { close(started) }})
	}()
	defer func() {
		stop()
		<-done
	}()
	select {
	case <-started:
	case err := <-done:
		return nil, err
	}
	// Run has begun; the state it fetched is in place once its first
	// getDifference (at startup) has answered.
	if err := waitCalls(ctx, srv, "updates.getDifference", 1); err != nil {
		return nil, err
	}

	users := srv.Users()
	send := func(from tgsim.Account, text string) error {
		_, err := srv.SendAs(from.ID, me.ID, text)
		return err
	}
	if err := send(users[0], "hello"); err != nil {
		return nil, err
	}
	if err := got.wait(ctx, 1); err != nil {
		return nil, err
	}
	// A push lost on the way: the Manager notices the pts gap with the
	// next update and asks updates.getDifference for what it missed.
	srv.SetFaults(tgsim.Faults{DropUpdates: 1})
	err = send(users[1], "this push is lost")
	srv.SetFaults(tgsim.Faults{})
	if err != nil {
		return nil, err
	}
	if err := send(users[0], "after the gap"); err != nil {
		return nil, err
	}
	if err := got.wait(ctx, 3); err != nil {
		return nil, err
	}
	n := srv.Counters()
	fmt.Fprintf(w, "%d updates pushed, %d dropped, %d getDifference calls\n", n.UpdatesPushed, n.UpdatesDropped, n.Calls["updates.getDifference"])
	got.mu.Lock()
	defer got.mu.Unlock()
	return append([]string(nil), got.texts...), nil
}

// waitCalls waits until the server has run method at least n times.
func waitCalls(ctx context.Context, srv *tgsim.Server, method string, n int64) error {
	for srv.Counters().Calls[method] < n {
		select {
		case <-ctx.Done():
			return errors.New("no " + method)
		case <-time.After(10 * time.Millisecond):
		}
	}
	return nil
}
