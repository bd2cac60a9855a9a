// Command service is a small notification service embedding tlsched the way
// the README's "Embedding" section shows, with nothing but the public API:
// it logs in as a bot, attaches an entity cache, and uses gotd's typed API
// (tg.NewClient) on the client to
//
//   - notify 1,000 users at once, one goroutine each, resolving "@name"
//     through the cache (random_id filled by the client, flood waits absorbed
//     by the scheduler);
//   - post a three-part announcement to a group as one ordered typed batch
//     (actors.InvokeAllAs), one part of which the server rejects: the
//     *actors.MultiError says which part failed and which did not run;
//   - send an alert that must not wait out a flood wait (actors.FloodBudget),
//     and a digest that may;
//   - withdraw a message whose caller went away while it waited (a cancelled
//     context: *scheduler.CanceledError, never sent);
//
// and traces every call with package telemetry (spans as JSON lines).
//
// It runs against tgsim, a Telegram-like server started in this process, so
// it needs no account:
//
//	go run ./examples/service                    # spans in $TMPDIR/service-traces.json
//	go run ./examples/service -traces spans.json
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/gotd/td/exchange"
	"github.com/gotd/td/tg"
	"golang.org/x/sync/errgroup"

	"github.com/tlsched/tlsched/actors"
	"github.com/tlsched/tlsched/entitycache"
	"github.com/tlsched/tlsched/scheduler"
	"github.com/tlsched/tlsched/telemetry"
	"github.com/tlsched/tlsched/tgsim"
	"github.com/tlsched/tlsched/tl"
)

// config is what the service needs to know; main fills it from tgsim.
type config struct {
	DCs      map[int]string       // the server's DCs (Telegram's when nil)
	Keys     []exchange.PublicKey // the server's RSA keys (Telegram's when nil)
	BotToken string
	Users    []string  // who gets the notification: "@name", "t.me/name", ids, …
	Group    string    // where the announcement goes
	Out      io.Writer // what the service reports
	Traces   io.Writer // spans, one JSON object per line
}

// outcome is what happened, for the test.
type outcome struct {
	Notified  int      // users notified
	Batch     []string // per announcement part: "sent", "failed: …" or "not run"
	Alert     error    // the alert that could not wait
	Digest    error    // the digest that could
	Cancelled error    // the withdrawn message
}

func run(ctx context.Context, cfg config) (outcome, error) {
	var o outcome
	tel, err := telemetry.Setup(ctx, telemetry.Config{Exporter: "stdout", Stdout: cfg.Traces, ServiceName: "notify-service"})
	if err != nil {
		return o, err
	}
	defer tel.Shutdown(context.Background()) // flushes the spans

	client, err := actors.Start(ctx, actors.Config{
		APIID: 12345, APIHash: "your api_hash", // my.telegram.org's; tgsim takes any
		DCs: cfg.DCs, PublicKeys: cfg.Keys, // no Store: keys of a test server stay in memory
		Telemetry: tel,
	})
	if err != nil {
		return o, err
	}
	defer client.Close(context.Background()) // waits for the calls in flight

	me, err := client.Login(ctx, actors.Credentials{BotToken: cfg.BotToken})
	if err != nil {
		return o, fmt.Errorf("login: %w", err)
	}
	fmt.Fprintf(cfg.Out, "logged in as %s (id %d) on DC %d\n", me.Name, me.UserID, me.HomeDC)

	cache, err := entitycache.Open(entitycache.Config{}) // Path: "bot.entities.db" to keep it
	if err != nil {
		return o, err
	}
	defer cache.Close()
	if err := cache.Attach(client); err != nil { // learns, resolves, refreshes stale hashes
		return o, err
	}
	api := tg.NewClient(client)

	// 1,000 users at once, one goroutine each. Flood waits are the
	// scheduler's business; random_id is left zero for the client to fill.
	start := time.Now()
	nctx, span := tel.TracerProvider().Tracer("notify-service").Start(ctx, "notify users")
	g, gctx := errgroup.WithContext(nctx)
	for _, name := range cfg.Users {
		g.Go(func() error {
			peer, err := cache.InputPeer(gctx, name)
			if err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			_, err = api.MessagesSendMessage(gctx, &tg.MessagesSendMessageRequest{Peer: peer, Message: "Your order has shipped."})
			return err
		})
	}
	err = g.Wait()
	span.End()
	if err != nil {
		return o, err
	}
	o.Notified = len(cfg.Users)
	fmt.Fprintf(cfg.Out, "notified %d users in %v\n", o.Notified, time.Since(start).Round(time.Millisecond))

	// An announcement in parts that must appear in order: one ordered
	// batch, typed in and out. Part 3 is blank, which the server rejects.
	group, err := cache.InputPeer(ctx, cfg.Group)
	if err != nil {
		return o, err
	}
	parts := []*tg.MessagesSendMessageRequest{
		{Peer: group, Message: "Release 2.0, part 1: what's new"},
		{Peer: group, Message: "Release 2.0, part 2: how to upgrade"},
		{Peer: group, Message: " "},
		{Peer: group, Message: "Release 2.0, part 4: thanks"},
	}
	upds, err := actors.InvokeAllAs[tg.UpdatesBox](ctx, client, parts, actors.Ordered())
	var failed *actors.MultiError
	if err != nil && !errors.As(err, &failed) {
		return o, err // the batch as a whole was not sent
	}
	for i := range parts {
		var broken *scheduler.ChainBrokenError
		switch e := failed.Err(i); {
		case e == nil:
			o.Batch = append(o.Batch, fmt.Sprintf("sent (%T)", upds[i].Updates))
		case errors.As(e, &broken):
			o.Batch = append(o.Batch, "not run")
		default:
			o.Batch = append(o.Batch, "failed: "+e.Error())
		}
		fmt.Fprintf(cfg.Out, "announcement part %d: %s\n", i+1, o.Batch[i])
	}

	// Telegram allows about one message a second in a private chat. An
	// alert that is worthless late gets a flood budget of 100 ms: it
	// fails rather than wait. The digest after it may wait up to 30 s.
	user, err := cache.InputPeer(ctx, cfg.Users[0])
	if err != nil {
		return o, err
	}
	send := func(ctx context.Context, text string) error {
		_, err := api.MessagesSendMessage(ctx, &tg.MessagesSendMessageRequest{Peer: user, Message: text})
		return err
	}
	if err := send(ctx, "Your parcel is out for delivery."); err != nil {
		return o, err
	}
	o.Alert = send(actors.WithOptions(ctx, actors.FloodBudget(100*time.Millisecond)), "The courier is at your door!")
	if fw, ok := tl.AsFloodWait(o.Alert); ok {
		fmt.Fprintf(cfg.Out, "alert not sent: the chat's flood wait (%v) exceeds its budget\n", fw.Duration)
	} else {
		fmt.Fprintf(cfg.Out, "alert: %v\n", o.Alert)
	}
	o.Digest = send(actors.WithOptions(ctx, actors.FloodBudget(30*time.Second)), "Today: 1 parcel delivered.")
	fmt.Fprintf(cfg.Out, "digest after waiting out the flood wait: %v\n", errOrSent(o.Digest))

	// The caller of the next message goes away while it waits out the
	// chat's flood wait: the call is withdrawn and never sent.
	cctx, cancel := context.WithCancel(ctx)
	time.AfterFunc(500*time.Millisecond, cancel) // the wait is about a second
	o.Cancelled = send(cctx, "Rate your delivery!")
	cancel()
	var cancelled *scheduler.CanceledError
	if errors.As(o.Cancelled, &cancelled) {
		fmt.Fprintf(cfg.Out, "cancelled message: %v (not sent: %v)\n", o.Cancelled, errors.Is(o.Cancelled, scheduler.ErrNotSent))
	} else {
		fmt.Fprintf(cfg.Out, "cancelled message: unexpectedly %v\n", errOrSent(o.Cancelled))
	}

	st := cache.Stats()
	fmt.Fprintf(cfg.Out, "entity cache: %d lookups answered from memory, %d resolved with %d calls\n", st.Hits, st.Misses, st.NetworkCalls)
	return o, nil
}

func errOrSent(err error) string {
	if err == nil {
		return "sent"
	}
	return err.Error()
}

func main() {
	traces := flag.String("traces", filepath.Join(os.TempDir(), "service-traces.json"), "file to write spans to, one JSON object per line")
	flag.Parse()
	if flag.NArg() != 0 {
		flag.Usage()
		os.Exit(2)
	}
	f, err := os.Create(*traces)
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	srv, err := startTgsim()
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	cfg := tgsimConfig(srv, os.Stdout, f)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := run(ctx, cfg); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("spans in %s\n", *traces)
}

// startTgsim starts tgsim with Telegram's bot limits, except the
// account-wide ones, raised from 30 messages and 100 calls a second so that
// 1,000 notifications take a second rather than half a minute. A new auth
// key must log in, as on Telegram.
func startTgsim() (*tgsim.Server, error) {
	return tgsim.Start(tgsim.Config{RequireLogin: true, Flood: tgsim.FloodConfig{
		Messages:      tgsim.Rate{N: 2000, Per: time.Second},
		DefaultMethod: tgsim.Rate{N: 2000, Per: time.Second},
	}})
}

// tgsimConfig points the service at srv: its DCs, key and bot, every
// user of its world, and its first supergroup.
func tgsimConfig(srv *tgsim.Server, out, traces io.Writer) config {
	cfg := config{DCs: srv.DCAddrs(), Keys: []exchange.PublicKey{srv.PublicKey()}, BotToken: srv.BotToken(), Out: out, Traces: traces}
	for _, u := range srv.Users() {
		cfg.Users = append(cfg.Users, "@"+u.Username)
	}
	for _, c := range srv.Chats() {
		if c.Kind == "supergroup" && cfg.Group == "" {
			cfg.Group = "@" + c.Username
		}
	}
	return cfg
}
