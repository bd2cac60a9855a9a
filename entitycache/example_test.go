package entitycache_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/gotd/td/exchange"
	"github.com/gotd/td/tg"

	"github.com/tlsched/tlsched/actors"
	"github.com/tlsched/tlsched/entitycache"
	"github.com/tlsched/tlsched/tgsim"
)

// simConfig starts tgsim, the local Telegram-like server the examples run
// against, and returns a Config for it. Against Telegram, actors.Config{}
// is all it takes.
func simConfig() (actors.Config, func()) {
	keyOnce.Do(func() { key, _ = rsa.GenerateKey(rand.Reader, 2048) })
	srv, err := tgsim.Start(tgsim.Config{Key: key, Latency: tgsim.NoLatency, Flood: tgsim.FloodConfig{Off: true}})
	if err != nil {
		panic(err)
	}
	dcs := srv.DCAddrs()
	cfg := actors.Config{DCs: dcs, PublicKeys: []exchange.PublicKey{srv.PublicKey()}, Store: actors.NewMemoryStore()}
	return cfg, func() { srv.Close() }
}

// A cache attached to a started client learns from every result the
// client gets, resolves misses through it, and refreshes stale access
// hashes in the client's calls.
func ExampleCache_Attach() {
	cfg, stop := simConfig()
	defer stop()
	ctx := context.Background()
	client, err := actors.Start(ctx, cfg)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer client.Close(ctx)
	cache, err := entitycache.Open(entitycache.Config{}) // in memory; Path for a file
	if err != nil {
		fmt.Println(err)
		return
	}
	defer cache.Close()
	if err := cache.Attach(client); err != nil {
		fmt.Println(err)
		return
	}

	api := tg.NewClient(client)
	if _, err := api.ContactsResolveUsername(ctx, &tg.ContactsResolveUsernameRequest{Username: "channel2"}); err != nil {
		fmt.Println(err)
		return
	}
	_ = cache.Settle(ctx)                           // results are learned in the background: wait, for the example's sake
	ch, err := cache.InputChannel(ctx, "@channel2") // learned from the call above: no network
	fmt.Printf("%T %v %d\n", ch, err, cache.Stats().NetworkCalls)
	// Output: *tg.InputChannel <nil> 0
}

// The embedding snippet of the README, as it is written there
// (TestREADMEEmbeddingSnippet keeps the two the same).
func Example_embedding() {
	cfg, stop := simConfig()
	defer stop()
	dir, err := os.MkdirTemp("", "tlsched-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	if err := sendHi(context.Background(), cfg, filepath.Join(dir, "entities.db"), "@user5"); err != nil {
		fmt.Println(err)
	}
	// Output: 2 sent in order
}

// README: embedding
func sendHi(ctx context.Context, cfg actors.Config, cachePath, to string) error {
	client, err := actors.Start(ctx, cfg) // actors.Config{}: Telegram's DCs and keys
	if err != nil {
		return err
	}
	defer client.Close(ctx)
	cache, err := entitycache.Open(entitycache.Config{Path: cachePath})
	if err != nil {
		return err
	}
	defer cache.Close()
	if err := cache.Attach(client); err != nil { // learn from every result, refresh stale hashes
		return err
	}
	api := tg.NewClient(client)           // *actors.Client is a tg.Invoker
	peer, err := cache.InputPeer(ctx, to) // "@alice", "t.me/alice", "me", "-1001234567890", …
	if err != nil {
		return err
	}
	// RandomID left zero: the client fills it (actors.FillRandomID).
	if _, err := api.MessagesSendMessage(ctx, &tg.MessagesSendMessageRequest{Peer: peer, Message: "hi"}); err != nil {
		return err
	}
	reqs := []*tg.MessagesSendMessageRequest{{Peer: peer, Message: "one"}, {Peer: peer, Message: "two"}}
	upds, err := actors.InvokeAllAs[tg.UpdatesBox](ctx, client, reqs, actors.Ordered(), actors.FloodBudget(time.Minute))
	var batch *actors.MultiError
	if errors.As(err, &batch) { // any failure, in a batch of any size
		for i, e := range batch.Errors {
			log.Printf("#%d failed: %v", i, e) // upds[i] is zero
		}
		return err
	} else if err != nil {
		return err
	}
	fmt.Println(len(upds), "sent in order")
	return nil
}

// README: end
