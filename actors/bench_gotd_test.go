//go:build gotdbench

package actors

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"testing"

	"github.com/gotd/td/telegram"
	"github.com/gotd/td/telegram/dcs"
	"github.com/gotd/td/tg"
	"github.com/gotd/td/tgtest"
)

// BenchmarkGotdSendMessage is BenchmarkClientSendMessage's workload through
// gotd's telegram.Client (one goroutine per caller, one message per call):
//
//	go test -tags gotdbench -run XXX -bench SendMessage -benchtime 20000x ./actors
//
// It lives behind a build tag so the -race test run does not compile gotd's
// client package.
func BenchmarkGotdSendMessage(b *testing.B) {
	for _, callers := range []int{1, 100, 1000} {
		b.Run(fmt.Sprintf("callers=%d", callers), func(b *testing.B) {
			w := newWorld()
			srv, cfg := startWorld(b, w)
			api, stop := gotdClient(b, srv, cfg.DCs[2])
			defer stop()
			ctx := context.Background()
			lat := run(b, callers, func(id int64) error {
				_, err := api.MessagesSendMessage(ctx, send(id))
				return err
			})
			report(b, lat)
		})
	}
}

// gotdClient runs gotd's own client against the tgtest server; world
// answers the help.getConfig it starts with.
func gotdClient(b *testing.B, srv *tgtest.Server, addr string) (*tg.Client, func()) {
	host, portStr, _ := net.SplitHostPort(addr)
	port, _ := strconv.Atoi(portStr)
	client := telegram.NewClient(1, "hash", telegram.Options{
		PublicKeys: []telegram.PublicKey{srv.Key()},
		DC:         2,
		DCList:     dcs.List{Options: []tg.DCOption{{ID: 2, IPAddress: host, Port: port}}},
		Resolver:   dcs.Plain(dcs.PlainOptions{}),
		NoUpdates:  true,
	})
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- client.Run(ctx, func(ctx context.Context) error {
			close(ready)
			<-ctx.Done()
			return ctx.Err()
		})
	}()
	select {
	case <-ready:
	case err := <-done:
		b.Fatalf("gotd client: %v", err)
	}
	return client.API(), func() {
		cancel()
		<-done
	}
}
