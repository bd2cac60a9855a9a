package actors

import (
	"context"
	"testing"
	"time"

	"github.com/gotd/td/exchange"
	"github.com/gotd/td/tg"
	"golang.org/x/sync/errgroup"

	"github.com/tlsched/tlsched/scheduler"
	"github.com/tlsched/tlsched/tgsim"
)

// With pacing on, a burst of writes to two private chats stays within
// limits the server enforces: no flood wait at all, where the reactive
// scheduler meets one per chat; the limits are kept in the store at Close.
func TestPacingAvoidsFloodWaits(t *testing.T) {
	for _, pacing := range []bool{false, true} {
		srv, err := tgsim.Start(tgsim.Config{Key: serverKey(), Flood: tgsim.FloodConfig{
			PrivateChat: tgsim.Rate{N: 10, Per: time.Second}, Messages: tgsim.Rate{N: 100, Per: time.Second},
		}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { srv.Close() })
		dcs := srv.DCAddrs()
		store := NewMemoryStore()
		c, err := Start(context.Background(), Config{
			DCs: dcs, PublicKeys: []exchange.PublicKey{srv.PublicKey()}, Store: store,
			Scheduler: scheduler.Config{HomeDC: 2, Pacing: scheduler.PacingConfig{On: pacing,
				Private: scheduler.Rate{N: 10, Per: time.Second, Burst: 3}}},
		})
		if err != nil {
			t.Fatal(err)
		}
		ctx := testCtx(t)
		u1, u2 := resolveUser(t, c, "user1"), resolveUser(t, c, "user2")
		var g errgroup.Group
		for i := range 30 {
			peer := tg.InputPeerClass(u1)
			if i%2 == 1 {
				peer = u2
			}
			g.Go(func() error {
				_, err := c.Call(ctx, &tg.MessagesSendMessageRequest{Peer: peer, Message: "hi", RandomID: int64(i + 1)})
				return err
			})
		}
		if err := g.Wait(); err != nil {
			t.Fatal(err)
		}
		if err := c.Close(ctx); err != nil {
			t.Fatal(err)
		}
		floods := srv.Counters().FloodWaits["messages.sendMessage"]
		limits, _ := store.LoadLimits()
		t.Logf("pacing=%v: %d flood waits, limits %v", pacing, floods, limits)
		switch {
		case pacing && floods != 0:
			t.Fatalf("paced: %d flood waits", floods)
		case !pacing && floods == 0:
			t.Fatal("reactive: no flood wait; the test does not provoke any")
		case pacing && limits["account"] == 0:
			t.Fatalf("limits not kept at Close: %v", limits)
		}
	}
}
