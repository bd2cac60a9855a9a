package actors_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"golang.org/x/net/proxy"

	"github.com/gotd/td/tg"

	"github.com/tlsched/tlsched/actors"
)

// Two bots in one Fleet, one store file: each logs in with its own token,
// one dials through a SOCKS5 proxy, and idle bots close their connections
// after a minute.
func ExampleFleet() {
	ctx := context.Background()
	db, err := actors.OpenBoltStore("bots.db")
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	fleet, err := actors.NewFleet(ctx, actors.FleetConfig{
		APIID: 12345, APIHash: "0123456789abcdef", // my.telegram.org
		Store:       db,
		IdleTimeout: time.Minute,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer fleet.Close(ctx)

	socks, err := proxy.SOCKS5("tcp", "127.0.0.1:1080", nil, proxy.Direct)
	if err != nil {
		log.Fatal(err)
	}
	accounts := map[string]actors.AccountConfig{
		"news":   {BotToken: "111:AAA"},
		"alerts": {BotToken: "222:BBB", Config: actors.Config{Dialer: socks.(proxy.ContextDialer)}},
	}
	for name, ac := range accounts {
		if _, err := fleet.Add(ctx, name, ac); err != nil {
			log.Fatal(err)
		}
	}
	// Paced logins; accounts logged in on an earlier run are skipped.
	for _, r := range fleet.LoginAll(ctx) {
		if r.Err != nil {
			log.Printf("%s: %v", r.Name, r.Err) // one account's failure is its own
		}
	}
	c, err := fleet.Client("news")
	if err != nil {
		log.Fatal(err)
	}
	_, err = tg.NewClient(c).MessagesSendMessage(ctx, &tg.MessagesSendMessageRequest{
		Peer: &tg.InputPeerSelf{}, Message: "hello from the fleet",
	})
	fmt.Println(err)
}
