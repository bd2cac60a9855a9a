package actors

import (
	"context"
	"testing"
	"time"

	"github.com/gotd/td/exchange"
	"github.com/gotd/td/tg"

	"github.com/tlsched/tlsched/tgsim"
)

// An account that lives on DC 3 meets USER_MIGRATE_3 once: the home DC is
// stored with the keys, and the next client on the same store sends its
// first call to DC 3.
func TestHomeDCPersistsAcrossClients(t *testing.T) {
	srv, err := tgsim.Start(tgsim.Config{Key: serverKey(), Flood: tgsim.FloodConfig{Off: true}, World: tgsim.WorldConfig{BotDC: 3}})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	dcs := srv.DCAddrs()
	cfg := Config{
		DCs:        dcs,
		PublicKeys: []exchange.PublicKey{srv.PublicKey()},
		Store:      &FileStore{Path: t.TempDir() + "/keys.json"},
	}
	getUsers := &tg.UsersGetUsersRequest{ID: []tg.InputUserClass{&tg.InputUserSelf{}}}
	for i, wantMigrations := range []int64{1, 1} {
		c, err := Start(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		ctx := shortCtx(t, 20*time.Second)
		if _, err := c.Call(ctx, getUsers); err != nil {
			t.Fatalf("client %d: %v", i+1, err)
		}
		if err := c.Close(ctx); err != nil {
			t.Fatal(err)
		}
		if got := srv.Counters().Migrations; got != wantMigrations {
			t.Fatalf("after client %d: %d migrations, want %d", i+1, got, wantMigrations)
		}
	}
	// A home DC the user sets wins over the stored one.
	cfg.Scheduler.HomeDC = 1
	c, err := Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := shortCtx(t, 20*time.Second)
	if _, err := c.Call(ctx, getUsers); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if got := srv.Counters().Migrations; got != 2 {
		t.Fatalf("explicit HomeDC 1: %d migrations, want 2", got)
	}
}

// A scheduler actor restarted after a panic keeps the home DC a migration
// taught it.
func TestHomeDCSurvivesSchedulerRestart(t *testing.T) {
	srv, err := tgsim.Start(tgsim.Config{Key: serverKey(), Flood: tgsim.FloodConfig{Off: true}, World: tgsim.WorldConfig{BotDC: 3}})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	dcs := srv.DCAddrs()
	c := startClient(t, Config{DCs: dcs, PublicKeys: []exchange.PublicKey{srv.PublicKey()}, Store: NewMemoryStore()})
	ctx := shortCtx(t, 20*time.Second)
	getUsers := &tg.UsersGetUsersRequest{ID: []tg.InputUserClass{&tg.InputUserSelf{}}}
	if _, err := c.Call(ctx, getUsers); err != nil {
		t.Fatal(err)
	}
	c.system.Root.Send(c.sched, &panicMsg{})
	if _, err := c.Call(ctx, getUsers); err != nil {
		t.Fatal(err)
	}
	if got := srv.Counters().Migrations; got != 1 {
		t.Fatalf("%d migrations, want 1", got)
	}
}
