package main

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/signal"
	"syscall"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"

	"github.com/tlsched/tlsched/cmd/tlworker/internal/cli"
)

// etcd runs a single-member etcd server in this process (go.etcd.io/etcd's
// embed), for trying cluster mode on one machine without installing etcd.
// A production cluster runs etcd itself, three or five members.
func etcd(args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := cli.NewFlags("etcd", stderr)
	dir := fs.String("dir", "tlsched.etcd", "the server's data directory")
	listen := fs.String("listen", "127.0.0.1:2379", "the address clients reach it on")
	peer := fs.String("peer", "127.0.0.1:2380", "the address for etcd peers (one member: never dialled)")
	if err := cli.ParseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return cli.Usagef("etcd takes no arguments, got %q", fs.Args())
	}
	cfg := embed.NewConfig()
	cfg.Name = "tlsched"
	cfg.Dir = *dir
	client := url.URL{Scheme: "http", Host: *listen}
	peerURL := url.URL{Scheme: "http", Host: *peer}
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{client}, []url.URL{client}
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{peerURL}, []url.URL{peerURL}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	cfg.LogLevel = "error"
	cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(zap.NewNop())
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return fmt.Errorf("etcd: %w", err)
	}
	defer e.Close()
	select {
	case <-e.Server.ReadyNotify():
	case err := <-e.Err():
		return fmt.Errorf("etcd: %w", err)
	case <-time.After(time.Minute):
		return fmt.Errorf("etcd: not ready after a minute")
	}
	fmt.Fprintf(stdout, "etcd is serving on %s (data in %s); Ctrl-C stops it\n", *listen, *dir)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	select {
	case <-ctx.Done():
	case err := <-e.Err():
		return fmt.Errorf("etcd: %w", err)
	}
	return nil
}
