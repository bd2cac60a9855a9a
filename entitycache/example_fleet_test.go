package entitycache_test

import (
	"context"
	"log"

	"github.com/gotd/td/tg"

	"github.com/tlsched/tlsched/actors"
	"github.com/tlsched/tlsched/entitycache"
)

// Each bot of a Fleet resolves peers through its own entity cache, kept
// with its keys in the Fleet's one file; the Fleet closes the caches.
func ExampleForAccount() {
	ctx := context.Background()
	db, err := actors.OpenBoltStore("bots.db")
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	fleet, err := actors.NewFleet(ctx, actors.FleetConfig{APIID: 12345, APIHash: "0123456789abcdef", Store: db})
	if err != nil {
		log.Fatal(err)
	}
	defer fleet.Close(ctx) // before db.Close: it writes the caches
	if _, err := fleet.Add(ctx, "news", actors.AccountConfig{BotToken: "111:AAA"}); err != nil {
		log.Fatal(err)
	}
	if _, err := fleet.Login(ctx, "news"); err != nil {
		log.Fatal(err)
	}
	cache, err := entitycache.ForAccount(fleet, "news", entitycache.Config{})
	if err != nil {
		log.Fatal(err)
	}
	peer, err := cache.InputPeer(ctx, "@durov") // the news bot's access hash
	if err != nil {
		log.Fatal(err)
	}
	c, _ := fleet.Client("news")
	_, err = tg.NewClient(c).MessagesSendMessage(ctx, &tg.MessagesSendMessageRequest{Peer: peer, Message: "hi", RandomID: 1})
	log.Print(err)
}
