package actors

import (
	"errors"
	"fmt"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/tlsched/tlsched/mtproto"
	"github.com/tlsched/tlsched/scheduler"
)

// A DC actor's MTProto session outlives its connections (MTProto: the
// server keeps a session's answers for it and delivers them on its next
// connection). This file holds what keeps it: its state saved with the key
// (SessionStore), handing its calls back when it must go, and the outage
// budget after which calls stop waiting for the DC.

// resumeFailureLimit is how many connections that resumed the session may
// die in a row, before any answer, until the session starts afresh. One
// is not enough: a server that is down behind a proxy or a balancer
// accepts connections and closes them at once, and a fresh session would
// then lose the answers the server still holds for the old one.
const resumeFailureLimit = 4

// outageMsg is the outage budget of the outage that began at since running
// out.
type outageMsg struct{ since time.Time }

// dropSession gives up the session (its key is gone): the parent retries
// the calls it held unanswered, split into never written and maybe written.
// Batches waiting for a connection stay for the next session.
func (a *dcActor) dropSession(ctx actor.Context, err error) {
	if f := a.session.TakeFailed(); len(f) > 0 {
		a.report(ctx, f)
	}
	var l scheduler.Lost
	for _, id := range a.session.Unanswered() {
		if a.session.WasSent(id) {
			l.MaybeSent = append(l.MaybeSent, scheduler.CallID(id))
		} else {
			l.NotSent = append(l.NotSent, scheduler.CallID(id))
		}
	}
	a.session = nil
	a.tel.sessionLost()
	if len(l.NotSent)+len(l.MaybeSent) > 0 {
		ctx.Send(ctx.Parent(), &lostMsg{dc: a.id, calls: l, err: err})
	}
}

// report hands results to the parent. A call the session gave up because
// the server may have run it (*mtproto.MaybeRanError: not resendable, and
// its server-side session is gone) fails with scheduler.ErrMayHaveRun, as a
// call lost past the outage budget does; it is never sent again.
//
// A call the session did not send because it could not name its
// predecessor (mtproto.ErrPredecessorUnknown) goes back unsent
// (scheduler.Lost.NotSent): the scheduler holds it until that
// predecessor's answer. Any other call the session could not pack (too
// large, failed to encode) never left: its error matches
// scheduler.ErrNotSent.
func (a *dcActor) report(ctx actor.Context, rs []mtproto.Result) {
	var held scheduler.Lost
	keep := rs[:0]
	for _, r := range rs {
		var mr *mtproto.MaybeRanError
		var ce *mtproto.CallError
		switch {
		case errors.Is(r.Err, mtproto.ErrPredecessorUnknown):
			held.NotSent = append(held.NotSent, scheduler.CallID(r.Call))
			continue
		case errors.As(r.Err, &mr):
			r.Err = &scheduler.LostError{DC: a.id, Cause: mr, MaybeRan: true}
		case errors.As(r.Err, &ce):
			r.Err = fmt.Errorf("%w (%w)", ce, scheduler.ErrNotSent)
		}
		keep = append(keep, r)
	}
	// The 406 policy (authkey.go): the key's end is kept before anyone
	// hears of the 406, so that no later life of this DC actor, nor of
	// the scheduler, dials with it again; nothing more is written under
	// the key, and the actor ends it once this message is done.
	var revokedBy error
	for _, r := range keep {
		if keyRevoked(r.Err) {
			revokedBy = r.Err
			a.d.openings.endKey(&AuthKeyDuplicatedError{DC: a.id, File: a.d.sessionFile})
			break
		}
	}
	if len(keep) > 0 {
		ctx.Send(ctx.Parent(), &resultsMsg{dc: a.id, results: keep})
	}
	if len(held.NotSent) > 0 {
		ctx.Send(ctx.Parent(), &lostMsg{dc: a.id, calls: held, err: mtproto.ErrPredecessorUnknown})
	}
	if revokedBy != nil && a.keyLost == nil && !a.revoked {
		a.revoked = true
		ctx.Send(ctx.Self(), &keyRevokedMsg{err: revokedBy})
	}
}

// cancelCall forgets a call cancelled by its owner, wherever this actor
// holds it (a batch waiting for a connection, or the session, which would
// otherwise send it again after a reconnect, a bad salt or a new session;
// a late answer for it is ignored), and hands it back to the parent, which
// drops it: its owner already has its outcome.
func (a *dcActor) cancelCall(ctx actor.Context, id scheduler.CallID) {
	var l scheduler.Lost
	for i := range a.queue {
		b := &a.queue[i]
		for j, s := range b.Calls {
			if s.Call.ID == id {
				b.Calls = append(b.Calls[:j:j], b.Calls[j+1:]...)
				l.NotSent = append(l.NotSent, id)
				break
			}
		}
	}
	if a.session != nil {
		sent := a.session.WasSent(mtproto.CallID(id))
		if a.session.Cancel(mtproto.CallID(id)) {
			if sent {
				l.MaybeSent = append(l.MaybeSent, id)
			} else {
				l.NotSent = append(l.NotSent, id)
			}
		}
	}
	if len(l.NotSent)+len(l.MaybeSent) > 0 {
		ctx.Send(ctx.Parent(), &lostMsg{dc: a.id, calls: l, err: errCancelled})
	}
}

// errCancelled is the cause of a cancelled call handed back.
var errCancelled = errors.New("call cancelled by its owner")

// restoreSession gives a new session the salts and time offset saved with
// its key, so its first frames need no bad_server_salt or time-sync round
// trip.
func (a *dcActor) restoreSession() {
	ss, ok := a.d.store.(SessionStore)
	if !ok {
		return
	}
	st, found, err := ss.LoadSession(a.storeKey(), a.session.AuthKey().ID)
	if err != nil {
		a.log.Warn("load session state", "err", err)
		return
	}
	if !found {
		return
	}
	a.session.SetTimeOffset(st.TimeOffset)
	a.session.SetFutureSalts(st.FutureSalts)
}

// saveSession records the session's salts and time offset with its key.
func (a *dcActor) saveSession() {
	ss, ok := a.d.store.(SessionStore)
	if !ok || a.session == nil {
		return
	}
	st := SessionState{Salt: a.session.Salt(), FutureSalts: a.session.FutureSalts(), TimeOffset: a.session.TimeOffset()}
	if err := ss.SaveSession(a.storeKey(), a.session.AuthKey().ID, st); err != nil {
		a.log.Warn("save session state", "err", err)
	}
}

// startOutage notes that the DC became unreachable and arms the outage
// budget; if the outage that is under way already spent it, the calls go
// back to the parent at once.
func (a *dcActor) startOutage(ctx actor.Context, err error) {
	now := time.Now()
	if a.downSince.IsZero() {
		a.downSince = now
		a.timer.SendOnce(a.d.outageTimeout, ctx.Self(), &outageMsg{since: now})
		return
	}
	if now.Sub(a.downSince) >= a.d.outageTimeout {
		a.outageOver(ctx, err)
	}
}

// endOutage notes that the DC answers again (on a connection that may have
// resumed the session, which therefore works).
func (a *dcActor) endOutage() {
	a.downSince = time.Time{}
	a.resuming, a.resumeFailures = false, 0
}

// onOutage runs when an outage budget ran out: if that outage still lasts
// and no connection is open (an open one keeps the budget from running
// out, as the scheduler's does), the calls stop waiting.
func (a *dcActor) onOutage(ctx actor.Context, m *outageMsg) {
	if !m.since.Equal(a.downSince) || a.conn != nil {
		return
	}
	a.outageOver(ctx, fmt.Errorf("dc %d unreachable for %v", a.id, time.Since(a.downSince).Round(time.Second)))
}

// outageOver hands every call this actor holds back to the parent, which
// fails them (the DC is past its outage budget): the session forgets them,
// so a later connection does not send them again, but it keeps its state.
func (a *dcActor) outageOver(ctx actor.Context, err error) {
	if a.session != nil {
		if f := a.session.TakeFailed(); len(f) > 0 {
			a.report(ctx, f)
		}
	}
	lost := a.held()
	if a.session != nil {
		for _, id := range a.session.Unanswered() {
			a.session.Cancel(id)
		}
	}
	a.queue = nil
	if len(lost.NotSent)+len(lost.MaybeSent) > 0 {
		a.log.Debug("outage budget spent: calls handed back", "calls", len(lost.NotSent)+len(lost.MaybeSent))
		ctx.Send(ctx.Parent(), &lostMsg{dc: a.id, calls: lost, err: err})
	}
}
