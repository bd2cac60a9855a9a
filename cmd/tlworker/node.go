package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	pacluster "github.com/asynkron/protoactor-go/cluster"
	"github.com/asynkron/protoactor-go/cluster/identitylookup/disthash"
	"github.com/asynkron/protoactor-go/remote"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"golang.org/x/time/rate"

	"github.com/tlsched/tlsched/actors"
	"github.com/tlsched/tlsched/cluster"
	"github.com/tlsched/tlsched/cmd/tlworker/internal/cli"
)

// clusterFlags say which cluster: its name (its keys in etcd) and its etcd.
type clusterFlags struct {
	name      string
	etcd      string
	bind      string
	memberTTL time.Duration
}

// register adds the flags; member: those of a member (tlworker node).
func (c *clusterFlags) register(fs *flag.FlagSet, member bool) {
	fs.StringVar(&c.name, "cluster", "", "the cluster's name: its members and accounts live under /tlsched/NAME/ in etcd")
	fs.StringVar(&c.etcd, "etcd", "127.0.0.1:2379", "etcd endpoints, comma-separated")
	if member {
		fs.StringVar(&c.bind, "bind", "127.0.0.1", "this member's IP: other members reach it there, and it dials Telegram from it")
		fs.DurationVar(&c.memberTTL, "member-ttl", cluster.DefaultMemberTTL, "a member that stops renewing its membership leaves the cluster after this")
	} else {
		fs.StringVar(&c.bind, "cluster-bind", "127.0.0.1", "with --cluster: this process's IP, where the members send the answers")
	}
}

func (c *clusterFlags) check() error {
	if c.name == "" {
		return cli.Usagef("--cluster NAME is required")
	}
	if strings.ContainsAny(c.name, "/ ") {
		return cli.Usagef("--cluster %q: a name without '/' or spaces", c.name)
	}
	return nil
}

// prefix is the cluster's key prefix in etcd.
func (c *clusterFlags) prefix() string { return "/tlsched/" + c.name + "/" }

// client is an etcd client of --etcd. It dials lazily: protoactor's remote
// must start before any gRPC runs in the process (it sets gRPC's global
// logger as it starts).
func (c *clusterFlags) client() (*clientv3.Client, error) {
	var eps []string
	for _, e := range strings.Split(c.etcd, ",") {
		if e = strings.TrimSpace(e); e != "" {
			eps = append(eps, e)
		}
	}
	if len(eps) == 0 {
		return nil, cli.Usagef("--etcd: no endpoint given")
	}
	cli, err := clientv3.New(clientv3.Config{Endpoints: eps, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		return nil, fmt.Errorf("--etcd %s: %w", c.etcd, err)
	}
	return cli, nil
}

// membership is the cluster's membership on etcd.
func (c *clusterFlags) membership(etcd *clientv3.Client, logger *slog.Logger) (*cluster.Membership, error) {
	return cluster.NewMembership(cluster.MembershipConfig{Etcd: etcd, Prefix: c.prefix(), TTL: c.memberTTL, Logger: logger})
}

// clusterLogger logs protoactor's and the cluster's warnings to stderr
// (everything with -v).
// Its level can be raised (quiet) once the process is stopping: members
// and endpoints closing then log errors that say nothing.
func clusterLogger(stderr io.Writer, verbose bool) (*slog.Logger, *slog.LevelVar) {
	level := new(slog.LevelVar)
	level.Set(slog.LevelWarn)
	if verbose {
		level.Set(slog.LevelDebug)
	}
	return slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level})), level
}

// quiet is a level no record reaches.
const quiet = slog.LevelError + 100

func newClusterSystem(logger *slog.Logger) *actor.ActorSystem {
	return actor.NewActorSystem(actor.WithLoggerFactory(func(system *actor.ActorSystem) *slog.Logger {
		return logger.With("system", system.ID)
	}))
}

// node runs a cluster member: it hosts account grains, each sending its
// account's calls while this member owns the account, until SIGINT or
// SIGTERM (it then hands its accounts over at once) or until it loses its
// membership (it then exits 1: a new process must join again).
func node(args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := cli.NewFlags("node", stderr)
	var cf clusterFlags
	cf.register(fs, true)
	var conn connFlags
	conn.fleet = true
	conn.register(fs)
	port := fs.Int("port", 0, "the port other members reach it on (0: a free one)")
	sealFile := fs.String("seal-key-file", "", "file holding the 32-byte key that seals auth keys in etcd (hex or base64; default: $"+cluster.SealKeyEnv+")")
	ownerTTL := fs.Duration("owner-ttl", cluster.DefaultTTL, "an account's ownership lease: a member cut off from etcd stops its accounts within this, and another takes them after it")
	if err := cli.ParseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return cli.Usagef("node takes no arguments, got %q", fs.Args())
	}
	if err := cf.check(); err != nil {
		return err
	}
	ip := net.ParseIP(cf.bind)
	if ip == nil {
		return cli.Usagef("--bind %q: an IP address", cf.bind)
	}
	var sealer *cluster.Sealer
	var err error
	if *sealFile != "" {
		sealer, err = cluster.SealerFromFile(*sealFile)
	} else {
		sealer, err = cluster.SealerFromEnv()
	}
	if err != nil {
		return err
	}
	base, err := conn.clientConfig(false)
	if err != nil {
		return err
	}
	// The grains' Clients: a full queue makes the grain wait (its Invokes
	// wait in its mailbox), and writes are paced against Telegram, not
	// against a test server given with --dc (its limits are its own).
	// Each account's home DC is the one its store in etcd keeps (a
	// login's migration), else the default: never --dc's first for all.
	base.Scheduler.HomeDC = 0
	// Telegram limits new connections per IP: the accounts of this member
	// dial from one address, so they share one pace, as a Fleet's do.
	base.ConnLimiter = rate.NewLimiter(rate.Limit(actors.DefaultConnsPerSecond), 1)
	base.BlockWhenFull = true
	base.Scheduler.MaxQueued = 100_000
	base.Scheduler.Pacing.On = len(conn.dcs.order) == 0
	if len(conn.dcs.order) > 0 && base.APIID == 0 {
		// Bot tokens log in, which needs an api id: a test server takes any.
		base.APIID, base.APIHash = 1, "test"
	}
	logger, level := clusterLogger(stderr, conn.verbose)
	etcd, err := cf.client()
	if err != nil {
		return err
	}
	defer etcd.Close()
	member := fmt.Sprintf("%s-%d", cf.bind, os.Getpid())
	owners, err := cluster.NewOwners(etcd, cluster.OwnersConfig{Prefix: cf.prefix() + "owners/", Member: member, TTL: *ownerTTL})
	if err != nil {
		return err
	}
	defer owners.Close()
	host, err := cluster.NewHost(cluster.HostConfig{
		Owners: owners, Etcd: etcd, Prefix: cf.prefix(), Sealer: sealer,
		Notify: func(account string, err error) {
			if err == nil {
				fmt.Fprintln(stdout, cli.NodeActiveLine(account))
			} else {
				fmt.Fprintf(stdout, "tlworker node: account %s stopped here: %v\n", account, err)
			}
		},
		Client: func(string) actors.Config {
			cfg := base
			// Every account of this member dials Telegram from --bind.
			cfg.Dialer = &net.Dialer{LocalAddr: &net.TCPAddr{IP: ip}, Timeout: base.DialTimeout}
			return cfg
		},
	})
	if err != nil {
		return err
	}
	mem, err := cf.membership(etcd, logger)
	if err != nil {
		return err
	}
	c := pacluster.New(newClusterSystem(logger), pacluster.Configure(cf.name, mem, disthash.New(), remote.Configure(cf.bind, *port), pacluster.WithKinds(host.Kind())))
	if err := startMember(c); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "tlworker node: member %s of cluster %q at %s is ready\n", c.ActorSystem.ID, cf.name, c.ActorSystem.Address())
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var lost error
	select {
	case <-ctx.Done():
		fmt.Fprintln(stdout, "tlworker node: leaving; handing the accounts over")
	case <-mem.Lost():
		lost = mem.Err()
	}
	sctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	serr := host.StopAll(sctx)
	if !conn.verbose {
		level.Set(quiet)
	}
	c.Shutdown(true)
	if lost != nil {
		return fmt.Errorf("tlworker node: %w; start the node again to rejoin", lost)
	}
	if serr != nil {
		return fmt.Errorf("tlworker node: handing accounts over: %w", serr)
	}
	return nil
}

// startMember is Cluster.StartMember with its panics (a port taken, etcd
// unreachable) as errors.
func startMember(c *pacluster.Cluster) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("tlworker: joining the cluster: %v", r)
		}
	}()
	c.StartMember()
	return nil
}

// startClient is Cluster.StartClient with its panics as errors.
func startClient(c *pacluster.Cluster) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("tlworker: reaching the cluster: %v", r)
		}
	}()
	c.StartClient()
	return nil
}

// stopClient stops what StartClient started (Cluster.Shutdown assumes a
// member: it sets gossip state a client never started).
func stopClient(c *pacluster.Cluster, mem *cluster.Membership, level *slog.LevelVar) {
	level.Set(quiet)
	_ = mem.Shutdown(true)
	c.ActorSystem.Shutdown()
	c.Remote.Shutdown(true)
}

var errNoMembers = errors.New("the cluster has no member: start members with tlworker node")
