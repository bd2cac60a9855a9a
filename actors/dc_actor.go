package actors

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	protosched "github.com/asynkron/protoactor-go/scheduler"
	"github.com/gotd/td/bin"
	"github.com/gotd/td/proto/codec"

	"github.com/tlsched/tlsched/mtproto"
	"github.com/tlsched/tlsched/scheduler"
)

// dcActor owns one DC's connection and MTProto session. Batches are packed
// into containers and written; a reader goroutine posts frames to the actor's
// own mailbox; results go to the parent scheduler actor. When the
// connection or the actor itself fails, the parent is told which calls were
// lost (lostMsg) and retries them with the same payload, so random_id stays
// the same and the server deduplicates.
type dcActor struct {
	d    dcDeps
	id   int
	addr string
	log  *slog.Logger

	tel *dcTelemetry // spans and metrics; dc_telemetry.go

	gen      int // connection generation (dcDeps.generations); messages of others are stale
	conn     *mtproto.Conn
	session  *mtproto.Session
	queue    []scheduler.Batch // waiting for a connection
	dialing  bool
	failures int // failed dials and lost connections in a row (redial backoff)

	timer     *protosched.TimerScheduler
	tickAt    time.Time
	tickStop  protosched.CancelFunc
	bg        sync.WaitGroup // dial and reader goroutines
	bgCtx     context.Context
	bgCancel  context.CancelFunc
	forgetKey bool // the server does not know the stored key
	revoked   bool // the server revoked the key (406): write nothing more
	closeOnce sync.Once
	// unclaimed is a dialled connection whose connectedMsg the actor has
	// not handled yet; shutdown closes it (handoff guards it).
	handoff   sync.Mutex
	unclaimed *mtproto.Conn

	rc        *reconnect // reconnect pacing (reconnect.go)
	downSince time.Time  // the DC is unreachable since (dc_session.go)
	// resuming is set while a connection that resumed the session has had
	// no answer; resumeFailures counts such connections that died in a row
	// (dc_session.go).
	resuming       bool
	resumeFailures int
	keyLoaded      bool  // the current dial uses a key from the Store (authkey.go)
	keyLost        error // *AuthKeyLostError: no more dials
}

func newDCActor(d dcDeps, id int, addr string) *dcActor {
	return &dcActor{d: d, id: id, addr: addr, log: d.log.With("dc", id), tel: newDCTelemetry(d.telemetry, id)}
}

func (a *dcActor) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		a.timer = protosched.NewTimerScheduler(ctx)
		a.bgCtx, a.bgCancel = context.WithCancel(context.Background())
		a.gen = a.d.nextGeneration()
		a.rc = a.newReconnect()
		if err := a.d.openings.keyEnded(); err != nil {
			// A previous life lost the key or had it revoked: this one
			// neither dials with it nor takes calls for it.
			a.keyLost = err
			a.log.Error("auth key ended in a previous life of this DC actor: not dialling", "err", err)
			ctx.Send(ctx.Parent(), &dcDownMsg{dc: a.id, err: err, fatal: true})
			return
		}
		if wait, ok := a.rc.allowed(time.Now()); !ok {
			// Reopened after an idle stop within the dial rate limit
			// (idle.go).
			a.timer.SendOnce(wait, ctx.Self(), &redialMsg{gen: a.gen})
			return
		}
		a.dial(ctx)
	case *dcCancelMsg:
		a.cancelCall(ctx, m.id)
	case *batchMsg:
		if a.keyLost != nil {
			a.refuse(ctx, m.batch) // sent before the scheduler heard
			return
		}
		a.queue = append(a.queue, m.batch)
		a.send(ctx)
	case *connectedMsg:
		a.claim(m.conn)
		if m.gen != a.gen {
			_ = m.conn.Close()
			return
		}
		a.connected(ctx, m.conn)
		if a.conn != nil {
			a.opened(ctx)
		}
	case *dialFailedMsg:
		if m.gen != a.gen {
			return
		}
		a.tel.dialed(false, m.err, a.queue)
		a.dialing = false
		a.lost(ctx, m.err)
	case *redialMsg:
		if m.gen == a.gen && a.conn == nil && !a.dialing {
			if wait, ok := a.rc.allowed(time.Now()); !ok {
				a.timer.SendOnce(wait, ctx.Self(), m) // the dial rate limit
				return
			}
			a.dial(ctx)
		}
	case *frameMsg:
		if m.gen == a.gen && a.session != nil {
			a.receive(ctx, m.data)
		}
	case *connLostMsg:
		if m.gen == a.gen && a.conn != nil {
			a.lost(ctx, m.err)
		}
	case *keyRevokedMsg:
		if a.keyLost == nil {
			a.lost(ctx, m.err)
		}
	case *outageMsg:
		a.onOutage(ctx, m)
	case *dcTickMsg:
		a.tickStop, a.tickAt = nil, time.Time{}
		a.flush(ctx)
	case *panicMsg:
		panic("dc actor: failure requested")
	case *actor.Restarting:
		// The supervisor restarts us with a fresh state: the calls the old
		// session held are lost and must be retried by the scheduler.
		a.d.openings.keep(nil) // the restarted actor dials at once
		if a.session != nil {
			if f := a.session.TakeFailed(); len(f) > 0 {
				a.report(ctx, f)
			}
		}
		lost := a.held()
		a.shutdown()
		ctx.Send(ctx.Parent(), &lostMsg{dc: a.id, calls: lost, err: errors.New("dc actor restarted")})
	case *actor.Stopping:
		// The connection closes first: saving may wait on a remote store
		// (etcd in cluster mode), and an account whose ownership is ending
		// must not keep its socket meanwhile.
		a.shutdown()
		a.saveSession()
		// Stopped for good (an idle stop, a Close): nothing reads the
		// session or the queue again. Whatever still reaches this actor
		// (a PID kept somewhere) no longer keeps them: the session's
		// msg_id window alone is about 16 KB per idle account.
		a.session, a.conn, a.queue, a.rc = nil, nil, nil, nil
	}
}

// newReconnect makes the actor's reconnection pacing, with the openings of
// its lives before an idle stop (idle.go).
func (a *dcActor) newReconnect() *reconnect {
	rc := newReconnect(a.d.reconnect, time.Now())
	a.d.openings.seed(&rc.limiter)
	return rc
}

func (a *dcActor) shutdown() {
	a.closeOnce.Do(func() {
		if a.bgCancel != nil {
			a.bgCancel()
		}
		if a.conn != nil {
			_ = a.conn.Close()
		}
		if a.tickStop != nil {
			a.tickStop()
		}
		a.bg.Wait()
		// A connection dialled but not yet taken: its message will not
		// be.
		a.handoff.Lock()
		if a.unclaimed != nil {
			_ = a.unclaimed.Close()
			a.unclaimed = nil
		}
		a.handoff.Unlock()
	})
}

func (a *dcActor) dial(ctx actor.Context) {
	if a.keyLost != nil {
		return
	}
	if a.rc == nil {
		a.rc = a.newReconnect()
	}
	a.rc.dialing(time.Now())
	a.d.openings.keep(&a.rc.limiter)
	a.dialing = true
	a.tel.dialing()
	gen := a.gen
	self := ctx.Self()
	root := a.d.root
	cfg := mtproto.DialConfig{Addr: a.addr, DC: a.id, PublicKeys: a.d.publicKeys, Dialer: a.d.dialer, Primes: a.d.primes}
	if key, salt, ok, err := loadKey(a.d.store, a.storeKey(), legacyStoreName(a.id, a.addr), a.log); err != nil {
		a.log.Warn("auth key store", "err", err)
	} else if ok && !a.forgetKey {
		cfg.AuthKey, cfg.Salt = key, salt
	}
	a.keyLoaded = !cfg.AuthKey.Value.Zero()
	bgCtx := a.bgCtx
	a.bg.Add(1)
	go func() {
		defer a.bg.Done()
		if a.d.connPace != nil {
			// The Fleet's pace of new connections: a wait, not a
			// failed dial (which would count as an outage).
			if err := a.d.connPace.Wait(bgCtx); err != nil {
				return // the actor is stopping
			}
		}
		dctx, cancel := context.WithTimeout(bgCtx, a.d.dialTimeout)
		defer cancel()
		conn, err := mtproto.Dial(dctx, cfg)
		if err != nil {
			root.Send(self, &dialFailedMsg{gen: gen, err: err})
			return
		}
		if bgCtx.Err() != nil {
			_ = conn.Close()
			return
		}
		// Held until the actor takes it (connected): a stop that comes
		// first (the message then goes to dead letters) closes it.
		a.handoff.Lock()
		a.unclaimed = conn
		a.handoff.Unlock()
		root.Send(self, &connectedMsg{gen: gen, conn: conn})
	}()
}

// claim takes a dialled connection from the handoff (its connectedMsg is
// being handled).
func (a *dcActor) claim(conn *mtproto.Conn) {
	a.handoff.Lock()
	if a.unclaimed == conn {
		a.unclaimed = nil
	}
	a.handoff.Unlock()
}

func (a *dcActor) connected(ctx actor.Context, conn *mtproto.Conn) {
	a.tel.dialed(conn.Exchanged, nil, a.queue)
	a.dialing = false
	a.failures = 0
	a.conn = conn
	if conn.Exchanged {
		a.forgetKey = false
		if err := a.d.store.Save(a.storeKey(), conn.AuthKey, conn.Salt); err != nil {
			a.log.Warn("save auth key", "err", err)
		}
		savePrimes(a.d.store, a.d.primes, a.log)
	}
	if a.session != nil && a.session.AuthKey().ID == conn.AuthKey.ID && a.resumeFailures >= resumeFailureLimit {
		// The connections that resumed the session all died before any
		// answer: this server does not take our session on a new
		// connection (gotd's tgtest binds a session to its first one), so
		// the session starts afresh; its calls are resent if the server
		// can deduplicate them, else they fail as "may have run".
		a.resumeFailures = 0
		ev, err := a.session.NewSession(mtproto.ResendReconnect)
		if err != nil {
			a.lost(ctx, err)
			return
		}
		a.tel.received(mtproto.Received{Events: []mtproto.Event{ev}})
		a.log.Debug("connected, fresh session (the server did not resume the last one)", "addr", a.addr, "resent", len(ev.Calls))
	} else if a.session != nil && a.session.AuthKey().ID == conn.AuthKey.ID {
		a.resuming = true
		// The same key: the session goes on, and the server may still hold
		// its answers (MTProto: a session outlives connections). Resume
		// asks about the calls in flight and resends only what it lacks.
		ev := a.session.Resume(time.Now())
		a.tel.received(mtproto.Received{Events: []mtproto.Event{ev}})
		a.log.Debug("connected, session resumed", "addr", a.addr, "in_flight", a.session.InFlight(), "resent", len(ev.Calls))
	} else {
		if a.session != nil {
			// A new key: the old session is gone with its key, and the
			// scheduler retries its calls (batches waiting go into the new
			// session).
			a.dropSession(ctx, errors.New("auth key replaced"))
		}
		s, err := mtproto.New(a.d.session, conn.AuthKey, conn.Salt)
		if err != nil {
			a.lost(ctx, err)
			return
		}
		a.session = s
		a.restoreSession()
		a.log.Debug("connected", "addr", a.addr, "new_key", conn.Exchanged)
	}
	gen, self, root := a.gen, ctx.Self(), a.d.root
	a.bg.Add(1)
	go func() {
		defer a.bg.Done()
		var b bin.Buffer
		for {
			b.Reset()
			if err := conn.Recv(context.Background(), &b); err != nil {
				root.Send(self, &connLostMsg{gen: gen, err: err})
				return
			}
			root.Send(self, &frameMsg{gen: gen, data: bytes.Clone(b.Buf)})
		}
	}()
	a.send(ctx)
}

// send packs the queued batches, one Pack per batch so each stays one
// container, and writes the frames.
func (a *dcActor) send(ctx actor.Context) {
	if a.session == nil || a.conn == nil || a.revoked {
		return
	}
	now := time.Now()
	for len(a.queue) > 0 {
		b := a.queue[0]
		a.queue = a.queue[1:]
		calls := make([]mtproto.Call, len(b.Calls))
		for i, s := range b.Calls {
			p := s.Call.Payload.(*pending)
			calls[i] = mtproto.Call{ID: mtproto.CallID(s.Call.ID), Body: p.raw, After: mtproto.CallID(s.After), Resendable: p.resendable}
			a.tel.packed(calls[i].ID, p.tel)
		}
		out, err := a.session.Pack(now, calls)
		if err != nil {
			a.lost(ctx, err)
			return
		}
		if len(out.Failed) > 0 {
			a.report(ctx, out.Failed)
		}
		if !a.write(ctx, out) {
			return
		}
	}
	a.arm(ctx)
}

func (a *dcActor) write(ctx actor.Context, out mtproto.Packed) bool {
	for _, f := range out.Frames {
		a.tel.frame(f)
		wctx, cancel := context.WithTimeout(context.Background(), a.d.writeTimeout)
		err := a.conn.Send(wctx, &bin.Buffer{Buf: f.Data})
		cancel()
		if err != nil {
			a.lost(ctx, err)
			return false
		}
	}
	return true
}

func (a *dcActor) receive(ctx actor.Context, frame []byte) {
	rcv, err := a.session.Receive(time.Now(), frame)
	if err != nil {
		// A frame of an old session, a replay or a damaged part: the calls
		// concerned stay unanswered and are retried if the link dies.
		a.log.Debug("receive", "err", err)
	}
	if accepted(err) {
		// Only a frame the session took shows the DC answers: a replay or
		// a frame that does not decrypt must not end an outage.
		a.answered(ctx)
	}
	a.tel.received(rcv)
	for _, ev := range rcv.Events {
		switch ev := ev.(type) {
		case mtproto.Pong:
			a.tel.pong(ev)
		case mtproto.FutureSalts:
			a.saveSession()
		case mtproto.SessionCreated:
			// The server started a new session: the calls it did not see
			// are resent by the session; updates sent meanwhile are lost
			// (update-gap recovery starts here).
			a.log.Debug("new session created by the server", "first_msg_id", ev.FirstMsgID, "unique_id", ev.UniqueID)
		case mtproto.Resent:
			a.log.Debug("calls resent", "reason", ev.Reason, "calls", len(ev.Calls))
		case mtproto.Update:
			// Config.UpdateHandler: queued for its goroutine, never
			// waited for (updates.go).
			a.d.updates.offer(ev.Body)
		}
	}
	if len(rcv.Results) > 0 {
		a.report(ctx, rcv.Results)
	}
	a.flush(ctx)
}

// flush writes resends, acks and pings the session asks for, and arms the
// timer for the next time it will.
func (a *dcActor) flush(ctx actor.Context) {
	if a.session == nil || a.conn == nil || a.revoked {
		return
	}
	a.session.RefreshSalts(time.Now())
	if at, ok := a.session.NextDeadline(); ok && !at.After(time.Now()) {
		out, err := a.session.Flush(time.Now())
		if len(out.Failed) > 0 {
			a.report(ctx, out.Failed)
		}
		if err != nil {
			a.lost(ctx, err)
			return
		}
		if !a.write(ctx, out) {
			return
		}
	}
	a.arm(ctx)
}

func (a *dcActor) arm(ctx actor.Context) {
	at, ok := a.session.NextDeadline()
	if !ok || (a.tickStop != nil && !at.Before(a.tickAt)) {
		return
	}
	if a.tickStop != nil {
		a.tickStop()
	}
	a.tickAt = at
	a.tickStop = a.timer.SendOnce(max(time.Until(at), 0), ctx.Self(), &dcTickMsg{})
}

// lost drops the connection; the parent learns that the DC is down, and we
// redial after the pacing of reconnect.go, unless the auth key is lost for
// good (authkey.go). The session and the batches waiting for a connection
// stay: the next connection with the same key resumes the session
// (connected), and the server may still hold the answers. They go back to
// the parent only when the key is lost or to be replaced, or when the DC
// stays unreachable past the outage budget (outage).
func (a *dcActor) lost(ctx actor.Context, err error) {
	a.gen = a.d.nextGeneration()
	if a.conn != nil {
		_ = a.conn.Close()
		a.conn = nil
	}
	a.tel.connectionLost()
	a.saveSession()
	if a.resuming {
		a.resuming = false
		a.resumeFailures++
	}
	a.failures++
	if a.rc == nil {
		a.rc = a.newReconnect()
	}
	// The scheduler hears of the outage before any losses, so that they
	// wait for the DC rather than count as attempts.
	if fatal := a.keyPolicy(err); fatal != nil {
		a.keyLost = fatal
		a.d.openings.endKey(fatal)
		a.log.Error("auth key lost: not reconnecting", "err", fatal)
		ctx.Send(ctx.Parent(), &dcDownMsg{dc: a.id, err: fatal, fatal: true})
	} else {
		ctx.Send(ctx.Parent(), &dcDownMsg{dc: a.id, err: err})
	}
	if a.keyLost != nil || a.forgetKey {
		a.handBack(ctx, err)
	}
	if a.keyLost != nil {
		return
	}
	a.startOutage(ctx, err)
	wait, reason := a.rc.lost(time.Now(), err)
	a.tel.redialing(reason, wait)
	a.log.Debug("reconnect", "reason", reason, "err", err, "wait", wait, "failures", a.failures)
	a.timer.SendOnce(wait, ctx.Self(), &redialMsg{gen: a.gen})
}

// handBack gives every call this actor holds back to the parent, split into
// never written and maybe written, and forgets them: the session goes (its
// key is gone or to be replaced) and so do the batches waiting.
func (a *dcActor) handBack(ctx actor.Context, err error) {
	if a.session != nil {
		if f := a.session.TakeFailed(); len(f) > 0 {
			a.report(ctx, f)
		}
	}
	lost := a.held()
	a.session = nil
	a.queue = nil
	a.tel.sessionLost()
	if len(lost.NotSent)+len(lost.MaybeSent) > 0 {
		ctx.Send(ctx.Parent(), &lostMsg{dc: a.id, calls: lost, err: err})
	}
}

// held lists the calls this actor holds unanswered: in its session and in
// batches waiting for a connection. Exactly these are lost with it; batches
// the scheduler sends later go to the next connection. Calls the session
// never wrote (mtproto.Session.WasSent) and queued batches are NotSent.
func (a *dcActor) held() scheduler.Lost {
	var l scheduler.Lost
	if a.session != nil {
		for _, id := range a.session.Unanswered() {
			if a.session.WasSent(id) {
				l.MaybeSent = append(l.MaybeSent, scheduler.CallID(id))
			} else {
				l.NotSent = append(l.NotSent, scheduler.CallID(id))
			}
		}
	}
	for _, b := range a.queue {
		for _, s := range b.Calls {
			l.NotSent = append(l.NotSent, s.Call.ID)
		}
	}
	return l
}

// accepted reports whether Receive took the frame: no error, or only
// damaged parts (*mtproto.MalformedError) in a frame that decrypted.
func accepted(err error) bool {
	return err == nil || !(errors.Is(err, mtproto.ErrDecrypt) || errors.Is(err, mtproto.ErrWrongSession) ||
		errors.Is(err, mtproto.ErrReplay) || errors.Is(err, mtproto.ErrTimeWindow))
}

// storeKey names this DC's key in the Store: the DC id and the server's
// identity, so keys of different servers (production, a test server) never
// mix, and a server keeps its keys when its address changes
// (storenames.go).
func (a *dcActor) storeKey() string { return storeName(a.id, a.d.server) }

func authKeyUnknown(err error) bool { return transportCode(err) == codec.CodeAuthKeyNotFound }
