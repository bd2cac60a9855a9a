package cluster

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	pacluster "github.com/asynkron/protoactor-go/cluster"
	"github.com/asynkron/protoactor-go/eventstream"
	"github.com/gotd/td/tgerr"

	"github.com/tlsched/tlsched/actors"
	"github.com/tlsched/tlsched/cluster/clusterpb"
	"github.com/tlsched/tlsched/scheduler"
	"github.com/tlsched/tlsched/tl"
)

// Submitter sends calls to account grains (Host.Kind) from a cluster member
// or client: the calls of one Send go to the account's grain in one
// clusterpb.Invoke, and each call's Answer comes back to the Submitter's
// own actor (its inbox).
//
// Every call crosses the cluster at most once. protoactor's
// Cluster.Request retries a request up to three times, even after a
// timeout when the message was delivered, and its per-call options write
// the cluster context's shared configuration; the Submitter uses neither.
// It looks the grain up once (Cluster.Get), sends the Invoke once (a plain
// send, the inbox as its sender), and watches the grain: when the grain
// terminates (its member died or left the cluster, or the grain stopped),
// its calls without an answer fail with a *RemoteError that says they may
// have run (scheduler.ErrMayHaveRun), never sent again by the Submitter.
// Whether a caller may send such a call again is the caller's to decide:
// a messages.sendMessage with the same random_id is the same message to
// Telegram.
type Submitter struct {
	cluster *pacluster.Cluster
	root    *actor.RootContext
	inbox   *actor.PID
	next    atomic.Uint64

	timeout  time.Duration
	topology *eventstream.Subscription

	mu     sync.Mutex
	closed bool
	calls  map[uint64]*RemoteCall            // in flight, by id
	byPID  map[string]map[uint64]*RemoteCall // in flight, by grain
	pids   map[string]*actor.PID             // account → its grain
}

// DefaultCallTimeout is SubmitterConfig.CallTimeout's default.
const DefaultCallTimeout = 5 * time.Minute

// SubmitterConfig configures a Submitter; the zero value is the defaults.
type SubmitterConfig struct {
	// CallTimeout bounds how long a call may go without an answer: after
	// it the call fails as one that may have run (its answer may have
	// been lost with a connection between members, or its grain may wait
	// for an account another member holds). It covers a grain's wait for
	// its account and the account's flood waits and queue too, so it is
	// long. 0 is DefaultCallTimeout.
	CallTimeout time.Duration
}

// ErrNoGrain is Send's error when no member activated the account's grain:
// no member runs the kind, or the member the lookup picked did not answer
// (it died, and the cluster has not yet seen it leave). Nothing was sent
// (it matches scheduler.ErrNotSent); while members come and go, trying
// again later is the remedy.
var ErrNoGrain error = noGrainError{}

type noGrainError struct{}

func (noGrainError) Error() string {
	return "no member activated its grain (a member died and the cluster has not seen it leave yet, or no member runs " + AccountKind + ")"
}

func (noGrainError) Is(target error) bool { return target == scheduler.ErrNotSent }

// ErrSubmitterClosed is Send's error once the Submitter is closed, and the
// cause of the calls Close fails; it matches actors.ErrClosed, as a closed
// Client's calls do.
var ErrSubmitterClosed = fmt.Errorf("cluster: submitter closed: %w", actors.ErrClosed)

// NewSubmitter starts a Submitter on a started cluster (StartMember or
// StartClient).
func NewSubmitter(c *pacluster.Cluster, cfg ...SubmitterConfig) *Submitter {
	s := &Submitter{
		cluster: c, root: c.ActorSystem.Root, timeout: DefaultCallTimeout,
		calls: map[uint64]*RemoteCall{}, byPID: map[string]map[uint64]*RemoteCall{},
		pids: map[string]*actor.PID{},
	}
	if len(cfg) > 0 && cfg[0].CallTimeout > 0 {
		s.timeout = cfg[0].CallTimeout
	}
	s.inbox = s.root.Spawn(actor.PropsFromProducer(func() actor.Actor { return &inbox{s: s, watched: map[string]*actor.PID{}} }))
	// A member that left the cluster's view (dead, cut off) takes its
	// grains' calls with it now, not once the remote gives up on its
	// address (seconds of reconnecting later).
	s.topology = c.ActorSystem.EventStream.Subscribe(func(evt any) {
		if tp, ok := evt.(*pacluster.ClusterTopology); ok {
			for _, m := range tp.Left {
				s.root.Send(s.inbox, &memberLeft{address: m.Address()})
			}
		}
	})
	return s
}

// RemoteSpec is one call for Send.
type RemoteSpec struct {
	// Req is the call, encoded (tl.EncodeParams): its body is sent as it
	// is, with its Peer and PaidFloodskip.
	Req *tl.Request
	// DC is the DC the call goes to; 0 is the account's home DC.
	DC int
	// After, if set, is an earlier call of this Submitter to the same
	// account that this one runs strictly after.
	After *RemoteCall
	// Notify, if set, is called once with the call when its outcome is
	// set, on the Submitter's actor: it must return at once.
	Notify func(*RemoteCall)
}

// RemoteCall is a call sent to an account's grain.
type RemoteCall struct {
	id      uint64
	account string
	pid     string
	notify  func(*RemoteCall)
	once    sync.Once
	done    chan struct{}
	body    []byte
	err     error
}

// Done is closed when the call has its outcome.
func (c *RemoteCall) Done() <-chan struct{} { return c.done }

// Wait waits for the call's outcome, or for ctx to end (the call goes on).
func (c *RemoteCall) Wait(ctx context.Context) ([]byte, error) {
	select {
	case <-c.done:
		return c.body, c.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (c *RemoteCall) resolve(body []byte, err error) {
	c.once.Do(func() {
		c.body, c.err = body, err
		close(c.done)
		if c.notify != nil {
			c.notify(c)
		}
	})
}

// RemoteError is a call's failure reported by, or about, its account's
// grain. An error Telegram answered unwraps to its *tgerr.Error.
type RemoteError struct {
	Account string
	Member  string // the member's address, if known
	Code    int
	Message string
	Sent    clusterpb.Sent
	// Lost: the cluster lost the call (its grain or member ended, no
	// answer came in time, its account stopped or could not start);
	// neither Telegram nor the account refused it. It may go again as
	// Sent allows: always when never sent, else when its method is
	// resendable (tl.Resendable).
	Lost bool
	// Err, if set, is the cause (ErrSubmitterClosed).
	Err error
}

func (e *RemoteError) Error() string {
	where := ""
	if e.Member != "" {
		where = " on " + e.Member
	}
	if e.Sent == clusterpb.Sent_SENT_ANSWERED {
		return fmt.Sprintf("account %q%s: rpc error code %d: %s", e.Account, where, e.Code, e.Message)
	}
	return fmt.Sprintf("account %q%s: %s", e.Account, where, e.Message)
}

// Is reports scheduler.ErrNotSent for a call never sent and
// scheduler.ErrMayHaveRun for one that may have run.
func (e *RemoteError) Is(target error) bool {
	switch e.Sent {
	case clusterpb.Sent_SENT_NOT:
		return target == scheduler.ErrNotSent
	case clusterpb.Sent_SENT_MAYBE:
		return target == scheduler.ErrMayHaveRun
	}
	return false
}

// Unwrap is the cause (Err), else Telegram's error for an error it
// answered.
func (e *RemoteError) Unwrap() error {
	if e.Err != nil {
		return e.Err
	}
	if e.Sent == clusterpb.Sent_SENT_ANSWERED && e.Code != 0 {
		return tgerr.New(e.Code, e.Message)
	}
	return nil
}

// Send sends calls to account's grain, activating it if needed. A call
// gets its outcome through its RemoteCall; the error is for calls none of
// which was sent (the grain could not be found).
func (s *Submitter) Send(ctx context.Context, account string, specs []RemoteSpec) ([]*RemoteCall, error) {
	pid, err := s.grain(ctx, account)
	if err != nil {
		return nil, err
	}
	calls, inv, err := s.register(account, pid, specs)
	if err != nil {
		return nil, err
	}
	s.root.Send(s.inbox, &outgoing{pid: pid, inv: inv})
	time.AfterFunc(s.timeout, func() { s.expire(calls) })
	return calls, nil
}

// expire fails the calls that still have no answer (CallTimeout).
func (s *Submitter) expire(calls []*RemoteCall) {
	var late []*RemoteCall
	s.mu.Lock()
	for _, c := range calls {
		if s.calls[c.id] == c {
			delete(s.calls, c.id)
			delete(s.byPID[c.pid], c.id)
			late = append(late, c)
		}
	}
	s.mu.Unlock()
	for _, c := range late {
		c.resolve(nil, &RemoteError{Account: c.account, Message: fmt.Sprintf("no answer within %v (its grain may wait for the account, or its answer was lost)", s.timeout), Sent: clusterpb.Sent_SENT_MAYBE, Lost: true})
	}
}

// grain is account's grain: the one cached, or looked up.
func (s *Submitter) grain(ctx context.Context, account string) (*actor.PID, error) {
	s.mu.Lock()
	pid, closed := s.pids[account], s.closed
	s.mu.Unlock()
	if closed {
		return nil, ErrSubmitterClosed
	}
	if pid != nil {
		return pid, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	pid = lookup(s.cluster, account, AccountKind)
	if pid == nil {
		return nil, fmt.Errorf("cluster: account %q: %w", account, ErrNoGrain)
	}
	s.mu.Lock()
	s.pids[account] = pid
	s.mu.Unlock()
	return pid, nil
}

// register records the calls as in flight on pid. A call registered on a
// grain that has terminated meanwhile is not lost: the inbox watches the
// grain again before it sends, and a grain gone terminates again.
func (s *Submitter) register(account string, pid *actor.PID, specs []RemoteSpec) ([]*RemoteCall, *clusterpb.Invoke, error) {
	key := pid.String()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, nil, ErrSubmitterClosed
	}
	inv := &clusterpb.Invoke{ReplyTo: s.inbox, Calls: make([]*clusterpb.Call, len(specs))}
	calls := make([]*RemoteCall, len(specs))
	on := s.byPID[key]
	if on == nil {
		on = map[uint64]*RemoteCall{}
		s.byPID[key] = on
	}
	for i, sp := range specs {
		c := &RemoteCall{id: s.next.Add(1), account: account, pid: key, notify: sp.Notify, done: make(chan struct{})}
		calls[i] = c
		pc := &clusterpb.Call{Id: c.id, Body: sp.Req.Body, Dc: int32(sp.DC), Peer: sp.Req.Peer, Paid: sp.Req.PaidFloodskip}
		if sp.After != nil {
			pc.After = sp.After.id
		}
		inv.Calls[i] = pc
		s.calls[c.id] = c
		on[c.id] = c
	}
	return calls, inv, nil
}

// answered resolves the calls answered.
func (s *Submitter) answered(m *clusterpb.Answers) {
	type outcome struct {
		c    *RemoteCall
		body []byte
		err  error
	}
	outs := make([]outcome, 0, len(m.Answers))
	s.mu.Lock()
	for _, a := range m.Answers {
		c, ok := s.calls[a.Id]
		if !ok {
			continue // answered already (or not ours)
		}
		delete(s.calls, a.Id)
		delete(s.byPID[c.pid], a.Id)
		if a.Failure != nil {
			f := a.Failure
			outs = append(outs, outcome{c: c, err: &RemoteError{Account: c.account, Member: f.Member, Code: int(f.Code), Message: f.Message, Sent: f.Sent, Lost: f.Lost}})
		} else {
			outs = append(outs, outcome{c: c, body: a.Body})
		}
	}
	s.mu.Unlock()
	for _, o := range outs {
		o.c.resolve(o.body, o.err)
	}
}

// terminated fails the calls in flight on a grain that terminated, or
// whose member's connection broke (the grain may live on: the next Send
// looks it up and watches it again).
func (s *Submitter) terminated(t *actor.Terminated) {
	key := t.Who.String()
	s.mu.Lock()
	accounts := map[string]bool{}
	for acct, pid := range s.pids {
		if pid.String() == key {
			delete(s.pids, acct)
			accounts[acct] = true
		}
	}
	on := s.byPID[key]
	delete(s.byPID, key)
	for id, c := range on {
		delete(s.calls, id)
		accounts[c.account] = true
	}
	s.mu.Unlock()
	// protoactor's own cache of grains would hand the dead one out again.
	for acct := range accounts {
		s.cluster.PidCache.RemoveByValue(acct, AccountKind, t.Who)
	}
	why := fmt.Sprintf("its grain %s ended (%s) before answering", t.Who.Id, t.Why)
	for _, c := range on {
		c.resolve(nil, &RemoteError{Account: c.account, Member: t.Who.Address, Message: why, Sent: clusterpb.Sent_SENT_MAYBE, Lost: true})
	}
}

// Close fails the calls in flight (they may have run) and stops the inbox.
func (s *Submitter) Close() {
	s.mu.Lock()
	already := s.closed
	s.closed = true
	s.mu.Unlock()
	if already {
		return
	}
	s.cluster.ActorSystem.EventStream.Unsubscribe(s.topology)
	_ = s.root.StopFuture(s.inbox).Wait()
	s.mu.Lock()
	calls := s.calls
	s.calls, s.byPID = map[uint64]*RemoteCall{}, map[string]map[uint64]*RemoteCall{}
	s.mu.Unlock()
	for _, c := range calls {
		c.resolve(nil, &RemoteError{Account: c.account, Message: "the submitter closed before its answer came", Sent: clusterpb.Sent_SENT_MAYBE, Err: ErrSubmitterClosed})
	}
}

// inbox is the Submitter's actor: it sends Invokes (watching each grain
// first) and takes Answers and grains' terminations.
type inbox struct {
	s       *Submitter
	watched map[string]*actor.PID
}

// memberLeft: the member at address left the cluster's view.
type memberLeft struct{ address string }

type outgoing struct {
	pid *actor.PID
	inv *clusterpb.Invoke
}

func (b *inbox) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *outgoing:
		if k := m.pid.String(); b.watched[k] == nil {
			b.watched[k] = m.pid
			ctx.Watch(m.pid)
		}
		// The inbox is the sender: a grain gone gives a dead letter
		// response here, and the watch a Terminated.
		ctx.Request(m.pid, m.inv)
	case *clusterpb.Answers:
		b.s.answered(m)
	case *actor.Terminated:
		// System messages overtake user messages in a mailbox: the
		// grain's last Answers, sent before it terminated, may still be
		// queued. Taken again behind them.
		delete(b.watched, m.Who.String())
		ctx.Send(ctx.Self(), &grainGone{m})
	case *grainGone:
		b.s.terminated(m.t)
	case *memberLeft:
		for k, pid := range b.watched {
			if pid.Address == m.address {
				delete(b.watched, k)
				ctx.Unwatch(pid)
				// Behind the answers already queued, as a Terminated.
				ctx.Send(ctx.Self(), &grainGone{&actor.Terminated{Who: pid, Why: actor.TerminatedReason_AddressTerminated}})
			}
		}
	}
}

type grainGone struct{ t *actor.Terminated }
