package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	pacluster "github.com/asynkron/protoactor-go/cluster"
	"github.com/asynkron/protoactor-go/cluster/identitylookup/disthash"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// DefaultMemberTTL is MembershipConfig.TTL's default.
const DefaultMemberTTL = 10 * time.Second

// MembershipConfig is how a member registers in etcd.
type MembershipConfig struct {
	// Etcd is the cluster's etcd. Required.
	Etcd *clientv3.Client
	// Prefix is the cluster's key prefix ("/tlsched/NAME/"); members are
	// under Prefix+"members/". Required.
	Prefix string
	// TTL is the member key's lease: a member that stops renewing it (a
	// dead process, a partition) leaves the cluster's view after at most
	// TTL. 0 is DefaultMemberTTL; at least 2 s.
	TTL time.Duration
	// Logger, if set, hears of membership changes and failures.
	Logger *slog.Logger
}

// Membership is protoactor-go's cluster membership on etcd (a
// cluster.ClusterProvider): each member puts one key, Prefix+"members/"+
// its actor system's id, holding its address and kinds, attached to a lease
// it keeps alive; every member and client watches the prefix and hands the
// members it lists to the cluster (MemberList.UpdateClusterTopology).
//
// It replaces protoactor's own etcd provider, whose lease TTL is fixed at
// 3 s and which leaks its client. A member whose lease is lost (it could not
// renew within TTL) is out of the cluster for good: the others block its id
// (protoactor blocks a member that left), so Lost is closed and the process
// must start a new member (a new actor system) to come back. Its accounts
// are safe meanwhile: their ownership (Owners) is a separate lease, whose
// loss closes their connections (Host).
type Membership struct {
	cfg  MembershipConfig
	ttl  time.Duration
	key  string
	self memberRecord

	// topology guards rdv, the members as last listed, for lookups
	// (Submitter). protoactor's own lookup (disthash's Manager.Get) reads
	// its member table without a lock while a topology update replaces it
	// (a data race the race detector reports), and holds the caller for
	// 5 s when the member it picks is dead.
	topology sync.RWMutex
	rdv      *pacluster.Rendezvous

	mu       sync.Mutex
	cluster  *pacluster.Cluster
	lease    clientv3.LeaseID
	cancel   context.CancelFunc
	done     chan struct{} // closed when the watch loop has ended
	lost     chan struct{}
	lostOnce sync.Once
	lostErr  error
}

// memberRecord is a member key's value.
type memberRecord struct {
	ID    string   `json:"id"`
	Host  string   `json:"host"`
	Port  int32    `json:"port"`
	Kinds []string `json:"kinds"`
}

// NewMembership returns a Membership for cluster.Configure.
func NewMembership(cfg MembershipConfig) (*Membership, error) {
	if cfg.Etcd == nil || cfg.Prefix == "" {
		return nil, errors.New("cluster: NewMembership: Etcd and Prefix are required")
	}
	ttl := cfg.TTL
	if ttl == 0 {
		ttl = DefaultMemberTTL
	}
	if ttl < 2*time.Second {
		return nil, fmt.Errorf("cluster: NewMembership: TTL %v is under 2 s (etcd leases count in seconds)", ttl)
	}
	return &Membership{cfg: cfg, ttl: ttl, lost: make(chan struct{})}, nil
}

func (m *Membership) prefix() string { return m.cfg.Prefix + "members/" }

// StartMember registers this member and starts following the others.
func (m *Membership) StartMember(c *pacluster.Cluster) error {
	host, port, err := c.ActorSystem.GetHostPort()
	if err != nil {
		return fmt.Errorf("cluster: membership: %w", err)
	}
	m.self = memberRecord{ID: c.ActorSystem.ID, Host: host, Port: int32(port), Kinds: c.GetClusterKinds()}
	sort.Strings(m.self.Kinds)
	val, err := json.Marshal(m.self)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	gctx, gcancel := context.WithTimeout(ctx, m.ttl)
	defer gcancel()
	lease, err := m.cfg.Etcd.Grant(gctx, int64((m.ttl+time.Second-1)/time.Second))
	if err != nil {
		cancel()
		return fmt.Errorf("cluster: membership: granting a lease: %w", err)
	}
	m.key = m.prefix() + m.self.ID
	if _, err := m.cfg.Etcd.Put(gctx, m.key, string(val), clientv3.WithLease(lease.ID)); err != nil {
		cancel()
		return fmt.Errorf("cluster: membership: registering %s: %w", m.key, err)
	}
	alive, err := m.cfg.Etcd.KeepAlive(ctx, lease.ID)
	if err != nil {
		cancel()
		return fmt.Errorf("cluster: membership: keeping the lease alive: %w", err)
	}
	m.mu.Lock()
	m.cluster, m.lease, m.cancel = c, lease.ID, cancel
	m.mu.Unlock()
	go func() {
		for range alive {
		}
		// The channel closes when ctx ends (Shutdown) or the lease is
		// gone: the client could not renew it in time.
		if ctx.Err() == nil {
			m.setLost(fmt.Errorf("cluster: membership: member %s lost its lease (etcd unreachable for %v?)", m.self.ID, m.ttl))
		}
	}()
	return m.follow(ctx, c)
}

// StartClient follows the members without registering (a cluster client).
func (m *Membership) StartClient(c *pacluster.Cluster) error {
	ctx, cancel := context.WithCancel(context.Background())
	m.mu.Lock()
	m.cluster, m.cancel = c, cancel
	m.mu.Unlock()
	return m.follow(ctx, c)
}

// follow lists the members once, hands them to the cluster, then watches
// for changes until ctx ends.
func (m *Membership) follow(ctx context.Context, c *pacluster.Cluster) error {
	lctx, cancel := context.WithTimeout(ctx, m.ttl)
	rev, err := m.update(lctx, c)
	cancel()
	if err != nil {
		return err
	}
	done := make(chan struct{})
	m.mu.Lock()
	m.done = done
	m.mu.Unlock()
	go func() {
		defer close(done)
		pause := 200 * time.Millisecond
		for ctx.Err() == nil {
			w := m.cfg.Etcd.Watch(clientv3.WithRequireLeader(ctx), m.prefix(), clientv3.WithPrefix(), clientv3.WithRev(rev+1))
			var werr error
			for resp := range w {
				if werr = resp.Err(); werr != nil {
					break
				}
				pause = 200 * time.Millisecond
				if len(resp.Events) == 0 {
					continue
				}
				rev = resp.Header.Revision
				lctx, cancel := context.WithTimeout(ctx, m.ttl)
				if r, err := m.update(lctx, c); err == nil {
					rev = r
				} else {
					m.log("listing members failed", err)
				}
				cancel()
			}
			if ctx.Err() != nil {
				return
			}
			// The watch broke (no leader, compaction, a cut connection, a
			// closed client): list again and watch from there, pausing
			// longer each time it breaks at once.
			m.log(fmt.Sprintf("watching members broke; again in %v", pause), werr)
			select {
			case <-ctx.Done():
				return
			case <-time.After(pause):
			}
			pause = min(2*pause, 5*time.Second)
			lctx, cancel := context.WithTimeout(ctx, m.ttl)
			if r, err := m.update(lctx, c); err == nil {
				rev = r
			}
			cancel()
		}
	}()
	return nil
}

// update lists the members and hands them to the cluster; it returns the
// revision listed.
func (m *Membership) update(ctx context.Context, c *pacluster.Cluster) (int64, error) {
	resp, err := m.cfg.Etcd.Get(ctx, m.prefix(), clientv3.WithPrefix())
	if err != nil {
		return 0, fmt.Errorf("cluster: membership: listing members: %w", err)
	}
	members := make(pacluster.Members, 0, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		var r memberRecord
		if err := json.Unmarshal(kv.Value, &r); err != nil || r.ID == "" || !strings.HasSuffix(string(kv.Key), r.ID) {
			m.log(fmt.Sprintf("ignoring member key %s: not a member record", kv.Key), err)
			continue
		}
		members = append(members, &pacluster.Member{Id: r.ID, Host: r.Host, Port: r.Port, Kinds: r.Kinds})
	}
	rdv := pacluster.NewRendezvous()
	rdv.UpdateMembers(members)
	m.topology.Lock()
	m.rdv = rdv
	m.topology.Unlock()
	c.MemberList.UpdateClusterTopology(members)
	return resp.Header.Revision, nil
}

func (m *Membership) log(msg string, err error) {
	if m.cfg.Logger != nil {
		m.cfg.Logger.Warn("tlsched cluster: "+msg, slog.Any("error", err))
	}
}

func (m *Membership) setLost(err error) {
	m.lostOnce.Do(func() {
		m.lostErr = err
		m.log("membership lost", err)
		close(m.lost)
	})
}

// Lost is closed when this member's lease is gone: the cluster no longer
// counts it (Err says why).
func (m *Membership) Lost() <-chan struct{} { return m.lost }

// Err is nil until Lost is closed, then why.
func (m *Membership) Err() error {
	select {
	case <-m.lost:
		return m.lostErr
	default:
		return nil
	}
}

// Shutdown stops following the members and, for a member, deletes its key
// at once (revoking its lease), so the others see it leave now rather than
// after TTL.
func (m *Membership) Shutdown(graceful bool) error {
	m.mu.Lock()
	cancel, lease, done := m.cancel, m.lease, m.done
	m.cancel = nil
	m.mu.Unlock()
	if cancel == nil {
		return nil
	}
	cancel()
	if done != nil {
		<-done
	}
	if lease == 0 {
		return nil
	}
	ctx, cancelRevoke := context.WithTimeout(context.Background(), cleanupTimeout)
	defer cancelRevoke()
	if _, err := m.cfg.Etcd.Revoke(ctx, lease); err != nil {
		return fmt.Errorf("cluster: membership: revoking member %s's lease: %w", m.self.ID, err)
	}
	return nil
}

var _ pacluster.ClusterProvider = (*Membership)(nil)

// activationTimeout bounds a lookup's activation request: a live member
// answers at once (a grain starts its account in the background).
const activationTimeout = 2 * time.Second

// lookup is the PID of the grain identity of kind, activating it if needed,
// or nil when no member answers. With a Membership it asks the member that
// protoactor's rendezvous hashing picks over the members the Membership
// last listed, as protoactor's disthash lookup does, without its data race
// and in activationTimeout rather than 5 s; else it is c.Get.
func lookup(c *pacluster.Cluster, identity, kind string) *actor.PID {
	m, ok := c.Config.ClusterProvider.(*Membership)
	if !ok {
		return c.Get(identity, kind)
	}
	ci := pacluster.NewClusterIdentity(identity, kind)
	m.topology.RLock()
	var addr string
	if m.rdv != nil {
		addr = m.rdv.GetByClusterIdentity(ci)
	}
	m.topology.RUnlock()
	if addr == "" {
		return nil
	}
	res, err := c.ActorSystem.Root.RequestFuture(actor.NewPID(addr, disthash.PartitionActivatorActorName), &pacluster.ActivationRequest{ClusterIdentity: ci}, activationTimeout).Result()
	if err != nil {
		return nil
	}
	if r, ok := res.(*pacluster.ActivationResponse); ok && !r.Failed {
		return r.Pid
	}
	return nil
}
