package actors_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	"sync"

	"github.com/gotd/td/bin"
	"github.com/gotd/td/exchange"
	"github.com/gotd/td/tg"
	"github.com/gotd/td/tgerr"

	"github.com/tlsched/tlsched/actors"
	"github.com/tlsched/tlsched/tgsim"
)

var simKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

// simConfig starts tgsim, the local Telegram-like server the examples run
// against, and returns a Config for it. Against Telegram, actors.Config{}
// is all it takes.
func simConfig() (actors.Config, func()) {
	srv, err := tgsim.Start(tgsim.Config{Key: simKey(), Latency: tgsim.NoLatency, Flood: tgsim.FloodConfig{Off: true}})
	if err != nil {
		panic(err)
	}
	dcs := srv.DCAddrs()
	cfg := actors.Config{DCs: dcs, PublicKeys: []exchange.PublicKey{srv.PublicKey()}, Store: actors.NewMemoryStore()}
	return cfg, func() { srv.Close() }
}

// A Client is a tg.Invoker: gotd's typed API works on top of it, and its
// calls share containers, wait out flood limits and survive reconnects.
func ExampleClient() {
	cfg, stop := simConfig()
	defer stop()
	ctx := context.Background()
	client, err := actors.Start(ctx, cfg)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer client.Close(ctx)

	api := tg.NewClient(client)
	r, err := api.ContactsResolveUsername(ctx, &tg.ContactsResolveUsernameRequest{Username: "user5"})
	if err != nil {
		fmt.Println(err)
		return
	}
	var u *tg.User // the user the name belongs to, among those the result shows
	for _, x := range r.Users {
		if x.GetID() == r.Peer.(*tg.PeerUser).UserID {
			u = x.(*tg.User)
		}
	}
	upd, err := api.MessagesSendMessage(ctx, &tg.MessagesSendMessageRequest{
		Peer:    &tg.InputPeerUser{UserID: u.ID, AccessHash: u.AccessHash},
		Message: "hi", // RandomID left zero: filled with a random one (FillRandomID)
	})
	fmt.Printf("@%s: %T %v\n", u.Username, upd, err)
	// Output: @user5: *tg.UpdateShortSentMessage <nil>
}

// Middlewares have the shape of gotd's telegram.Middleware and see every
// call made through Invoke, Call, Do and tg.NewClient(client).
func ExampleClient_Use() {
	cfg, stop := simConfig()
	defer stop()
	ctx := context.Background()
	client, err := actors.Start(ctx, cfg)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer client.Close(ctx)

	client.Use(actors.MiddlewareFunc(func(next tg.Invoker) actors.InvokeFunc {
		return func(ctx context.Context, in bin.Encoder, out bin.Decoder) error {
			err := next.Invoke(ctx, in, out)
			fmt.Printf("%T: %v\n", in, err)
			return err
		}
	}))
	_, _ = tg.NewClient(client).HelpGetConfig(ctx)
	// Output: *tg.HelpGetConfigRequest: <nil>
}

// A typed batch: requests of one type in, results of one type out, in
// order. Any failure, in a batch of any size, is a *actors.MultiError.
func ExampleInvokeAllAs() {
	cfg, stop := simConfig()
	defer stop()
	ctx := context.Background()
	client, err := actors.Start(ctx, cfg)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer client.Close(ctx)

	self := &tg.InputPeerSelf{}
	reqs := []*tg.MessagesSendMessageRequest{{Peer: self, Message: "one"}, {Peer: self, Message: "two"}}
	upds, err := actors.InvokeAllAs[tg.UpdatesBox](ctx, client, reqs, actors.Ordered())
	fmt.Println(len(upds), err)
	for _, u := range upds {
		fmt.Printf("%T\n", u.Updates)
	}

	bad := []*tg.MessagesSendMessageRequest{{Peer: &tg.InputPeerUser{UserID: 1, AccessHash: 1}, Message: "?"}}
	_, err = actors.InvokeAllAs[tg.UpdatesBox](ctx, client, bad)
	var batch *actors.MultiError
	fmt.Println(errors.As(err, &batch), len(batch.Errors), tgerr.Is(err, "PEER_ID_INVALID"))
	// Output:
	// 2 <nil>
	// *tg.UpdateShortSentMessage
	// *tg.UpdateShortSentMessage
	// true 1 true
}
