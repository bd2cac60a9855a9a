package actors_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/gotd/td/exchange"
	"github.com/gotd/td/tg"

	"github.com/tlsched/tlsched/actors"
	"github.com/tlsched/tlsched/tgsim"
)

// A service logs in once with a bot token and keeps the session in a
// file; the next start with the same SessionFile is logged in, on the
// account's home DC. (Against Telegram: leave DCs and PublicKeys out, and
// give the APIID and APIHash from my.telegram.org.)
func ExampleClient_Login() {
	srv, err := tgsim.Start(tgsim.Config{RequireLogin: true})
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	dcs := srv.DCAddrs()
	dir, _ := os.MkdirTemp("", "session")
	defer os.RemoveAll(dir)

	ctx := context.Background()
	cfg := actors.Config{
		APIID: 1, APIHash: "test", // tgsim takes any
		SessionFile: filepath.Join(dir, "bot.session"),
		DCs:         dcs, PublicKeys: []exchange.PublicKey{srv.PublicKey()},
	}
	client, err := actors.Start(ctx, cfg)
	if err != nil {
		log.Fatal(err)
	}
	acc, err := client.Login(ctx, actors.Credentials{BotToken: srv.BotToken()})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("logged in: bot %v, home DC %d\n", acc.Bot, acc.HomeDC)
	_ = client.Close(ctx)

	// Later, another process: the same SessionFile, no login.
	again, err := actors.Start(ctx, cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer again.Close(ctx)
	var me tg.UserClassVector
	err = again.Invoke(ctx, &tg.UsersGetUsersRequest{ID: []tg.InputUserClass{&tg.InputUserSelf{}}}, &me)
	fmt.Println("after a restart:", err == nil && me.Elems[0].(*tg.User).ID == acc.UserID)
	// Output:
	// logged in: bot true, home DC 2
	// after a restart: true
}
