package tgsim_test

import (
	"context"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/gotd/td/telegram"
	"github.com/gotd/td/telegram/dcs"
	"github.com/gotd/td/tg"

	"github.com/tlsched/tlsched/tgsim"
)

// gotd's own client, an independent MTProto implementation, connects to
// tgsim, logs in as the bot and calls methods.
func TestGotdClient(t *testing.T) {
	t.Parallel()
	srv := startSim(t, tgsim.Config{RequireLogin: true})
	var opts []tg.DCOption
	for _, d := range srv.DCs() {
		host, port, _ := net.SplitHostPort(d.Addr)
		p, _ := strconv.Atoi(port)
		opts = append(opts, tg.DCOption{ID: d.ID, IPAddress: host, Port: p})
	}
	client := telegram.NewClient(1, "hash", telegram.Options{
		PublicKeys: []telegram.PublicKey{srv.PublicKey()},
		DC:         1, // the bot lives on DC 2: gotd must follow USER_MIGRATE_2
		DCList:     dcs.List{Options: opts},
		Resolver:   dcs.Plain(dcs.PlainOptions{}),
		NoUpdates:  true,
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err := client.Run(ctx, func(ctx context.Context) error {
		if _, err := client.Auth().Bot(ctx, srv.BotToken()); err != nil {
			t.Fatalf("bot login: %v", err)
		}
		api := client.API()
		me, err := client.Self(ctx)
		if err != nil || me.ID != srv.Bot().ID {
			t.Fatalf("self: %v %v", me, err)
		}
		r, err := api.ContactsResolveUsername(ctx, &tg.ContactsResolveUsernameRequest{Username: "user7"})
		if err != nil {
			t.Fatalf("resolve: %v", err)
		}
		u := r.Users[len(r.Users)-1].(*tg.User)
		if _, err := api.MessagesSendMessage(ctx, &tg.MessagesSendMessageRequest{
			Peer: &tg.InputPeerUser{UserID: u.ID, AccessHash: u.AccessHash}, Message: "hi from gotd", RandomID: 77,
		}); err != nil {
			t.Fatalf("send: %v", err)
		}
		h, err := api.MessagesGetHistory(ctx, &tg.MessagesGetHistoryRequest{Peer: &tg.InputPeerUser{UserID: u.ID, AccessHash: u.AccessHash}, Limit: 5})
		if err != nil {
			t.Fatalf("history: %v", err)
		}
		if msgs := h.(*tg.MessagesMessagesSlice).Messages; len(msgs) != 1 || msgs[0].(*tg.Message).Message != "hi from gotd" {
			t.Fatalf("history: %+v", msgs)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	got := srv.Counters()
	// The first login on DC 1 was sent to DC 2 with USER_MIGRATE_2.
	if got.Calls["auth.importBotAuthorization"] != 2 || got.Migrations != 1 || got.Calls["messages.sendMessage"] != 1 {
		t.Fatalf("server counted calls %v", got.Calls)
	}
}
