// Package membertest tests cluster mode through protoactor-go's cluster:
// members with account grains (cluster.Host.Kind) found through etcd
// (cluster.Membership), and calls sent to them (cluster.Submitter).
package membertest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	pacluster "github.com/asynkron/protoactor-go/cluster"
	"github.com/asynkron/protoactor-go/cluster/identitylookup/disthash"
	"github.com/asynkron/protoactor-go/remote"
	"github.com/gotd/td/bin"
	"github.com/gotd/td/exchange"
	"github.com/gotd/td/tg"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/tlsched/tlsched/actors"
	"github.com/tlsched/tlsched/cluster"
	"github.com/tlsched/tlsched/scheduler"
	"github.com/tlsched/tlsched/tgsim"
	"github.com/tlsched/tlsched/tl"
)

const (
	prefix   = "/tlsched/membertest/"
	ttl      = 3 * time.Second
	patience = 20 * time.Second
)

// member is one cluster member in this process.
type member struct {
	c   *pacluster.Cluster
	mem *cluster.Membership
}

// startMember starts a member whose account grains dial tgsim from ip.
func startMember(t *testing.T, cli *clientv3.Client, name, ip string, srv *tgsim.Server) *member {
	t.Helper()
	owners, err := cluster.NewOwners(cli, cluster.OwnersConfig{Prefix: prefix + "owners/", Member: name, TTL: ttl})
	if err != nil {
		t.Fatal(err)
	}
	sealer, err := cluster.NewSealer(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	host, err := cluster.NewHost(cluster.HostConfig{
		Owners: owners, Etcd: cli, Prefix: prefix, Sealer: sealer,
		Client: func(string) actors.Config {
			return actors.Config{
				DCs: srv.DCAddrs(), PublicKeys: []exchange.PublicKey{srv.PublicKey()},
				Dialer: &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}},
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	mem, err := cluster.NewMembership(cluster.MembershipConfig{Etcd: cli, Prefix: prefix, TTL: ttl})
	if err != nil {
		t.Fatal(err)
	}
	system := newSystem(testing.Verbose())
	cfg := pacluster.Configure("membertest", mem, disthash.New(), remote.Configure(ip, 0), pacluster.WithKinds(host.Kind()))
	c := pacluster.New(system, cfg)
	c.StartMember()
	m := &member{c: c, mem: mem}
	t.Cleanup(func() {
		c.Shutdown(true)
		_ = owners.Close()
	})
	return m
}

// encode is obj as a call for a Submitter.
func encode(t *testing.T, obj bin.Object, peer string) *tl.Request {
	t.Helper()
	var b bin.Buffer
	if err := obj.Encode(&b); err != nil {
		t.Fatal(err)
	}
	def, ok := tl.ByID(obj.(interface{ TypeID() uint32 }).TypeID())
	if !ok {
		t.Fatalf("%T is not in the schema", obj)
	}
	return &tl.Request{Def: def, Body: b.Buf, Peer: peer}
}

func wait(t *testing.T, ctx context.Context, c *cluster.RemoteCall) ([]byte, error) {
	t.Helper()
	body, err := c.Wait(ctx)
	if ctx.Err() != nil {
		t.Fatalf("no answer within %v", patience)
	}
	return body, err
}

// A call sent from a member reaches the account's grain (activated on
// first use), which logs in, and an ordered chain of messages sent as two
// Invokes arrives whole and in order; an RPC error comes back as
// Telegram's error, and a body that is no call fails without being sent.
func TestGrainSendsCallsInOrder(t *testing.T) {
	if !isolate(t) {
		return
	}
	e := startEtcd(t)
	cli := e.Client(t)
	srv, err := tgsim.Start(tgsim.Config{Flood: tgsim.FloodConfig{Off: true}})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	m := startMember(t, cli, "m1", "127.0.0.2", srv)
	sub := cluster.NewSubmitter(m.c)
	defer sub.Close()
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()

	calls, err := sub.Send(ctx, "bot", []cluster.RemoteSpec{{Req: encode(t, &tg.AuthImportBotAuthorizationRequest{APIID: 1, APIHash: "h", BotAuthToken: srv.BotToken()}, "")}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := wait(t, ctx, calls[0]); err != nil {
		t.Fatalf("login: %v", err)
	}

	// Each message is its own Invoke, sent at once after the one before:
	// the grain chains it after its predecessor still in flight.
	const n = 20
	var all []*cluster.RemoteCall
	for i := 0; i < n; i++ {
		spec := cluster.RemoteSpec{Req: encode(t, &tg.MessagesSendMessageRequest{Peer: &tg.InputPeerSelf{}, Message: fmt.Sprint(i), RandomID: int64(i + 1)}, "me")}
		if i > 0 {
			spec.After = all[i-1]
		}
		cs, err := sub.Send(ctx, "bot", []cluster.RemoteSpec{spec})
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, cs[0])
	}
	for i, c := range all {
		body, err := wait(t, ctx, c)
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if _, err := tl.DecodeResult(mustMethod(t, "messages.sendMessage"), body); err != nil {
			t.Fatalf("message %d's answer: %v", i, err)
		}
	}
	bot := srv.Bot()
	texts := srv.HistoryTexts(bot.ID, &tg.PeerUser{UserID: bot.ID})
	if len(texts) != n {
		t.Fatalf("tgsim stored %d messages, want %d: %q", len(texts), n, texts)
	}
	for i, text := range texts {
		if text != fmt.Sprint(i) {
			t.Fatalf("tgsim stored %q, want 0 to %d in order", texts, n-1)
		}
	}

	// Telegram's error comes back as it.
	calls, err = sub.Send(ctx, "bot", []cluster.RemoteSpec{{Req: encode(t, &tg.ContactsResolveUsernameRequest{Username: "nobody_here_at_all"}, "")}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = wait(t, ctx, calls[0])
	var re *cluster.RemoteError
	if !errors.As(err, &re) || re.Code != 400 {
		t.Fatalf("resolving an unknown username: %v, want a 400 RemoteError", err)
	}

	// A body that is no call of the schema is not sent.
	bad := &tl.Request{Def: mustMethod(t, "help.getConfig"), Body: []byte{1, 2, 3, 4, 5, 6, 7, 8}}
	calls, err = sub.Send(ctx, "bot", []cluster.RemoteSpec{{Req: bad}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err = wait(t, ctx, calls[0]); !errors.Is(err, scheduler.ErrNotSent) {
		t.Fatalf("a malformed call: %v, want ErrNotSent", err)
	}
}

func mustMethod(t *testing.T, name string) *tl.Definition {
	t.Helper()
	d, err := tl.Method(name)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

type tlRequest = tl.Request

func clientv3New(endpoint string) (*clientv3.Client, error) {
	return clientv3.New(clientv3.Config{Endpoints: []string{endpoint}, DialTimeout: 5 * time.Second})
}

// newSystem is an actor system that logs protoactor's warnings and errors
// to stderr when loud (a member process, whose stderr a failed test
// shows; this process under -v), else nothing.
func newSystem(loud bool) *actor.ActorSystem {
	level := slog.LevelWarn
	if !loud {
		level = slog.LevelError + 100
	}
	return actor.NewActorSystem(actor.WithLoggerFactory(func(system *actor.ActorSystem) *slog.Logger {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})).With("system", system.ID)
	}))
}
