package tgsim

import (
	"fmt"
	"time"

	"github.com/gotd/td/bin"
	"github.com/gotd/td/tgerr"
)

// request is one call as the world sees it.
type request struct {
	srv    *Server
	dc     *dcServer
	key    *authKey
	typeID uint32
	method string
	query  []byte
	now    time.Time
	acct   int64 // the key's account; set for methods that need one
}

func (r *request) decode(v bin.Decoder) error {
	if err := v.Decode(&bin.Buffer{Buf: r.query}); err != nil {
		r.srv.logf("tgsim: DC %d: %s: %v", r.dc.id, r.method, err)
		return tgerr.New(400, "INPUT_REQUEST_INVALID")
	}
	return nil
}

// encoded is a result already in TL form.
type encoded []byte

func (e encoded) Encode(b *bin.Buffer) error { b.Put(e); return nil }

// invoke routes one call through the registry and answers it with its
// encoded result; the error is a *tgerr.Error. It takes the world's lock
// once, for the method's gates, its handler and the encoding of its result:
// results share objects with the world (histories, repeated sends), and
// gotd's Encode writes flag fields.
func (w *world) invoke(r *request) (bin.Encoder, error) {
	s := w.srv
	if r.key.isDuplicated() {
		return nil, errAuthKeyDuplicated
	}
	if r.method == "" {
		return nil, tgerr.New(400, fmt.Sprintf("INPUT_METHOD_INVALID_%d", r.typeID))
	}
	acct := r.key.account()
	s.count.call(acct, r.method)
	m := registry[r.typeID]
	if m == nil {
		return nil, &tgerr.Error{Code: 400, Message: "METHOD_NOT_SIMULATED_" + r.method, Type: "METHOD_NOT_SIMULATED"}
	}
	if m.access != anyone {
		if r.acct = acct; r.acct == 0 {
			return nil, tgerr.New(401, "AUTH_KEY_UNREGISTERED")
		}
		if msg, ok := s.deactivated.Load(acct); ok {
			return nil, tgerr.New(401, msg.(string))
		}
	}

	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.admit(r, m); err != nil {
		return nil, err
	}
	res, err := m.serve(w, r)
	if err != nil {
		return nil, err
	}
	if e, ok := res.(encoded); ok {
		return e, nil
	}
	var b bin.Buffer
	if err := res.Encode(&b); err != nil {
		return nil, err
	}
	return encoded(b.Buf), nil
}

// admit applies a method's gates before its request is read: the home DC
// (303 USER_MIGRATE_X) and the per-method flood budget. w.mu is held.
func (w *world) admit(r *request, m *method) error {
	if m.access == atHome {
		if home := w.users[r.acct].dc; home != r.dc.id {
			w.srv.count.migrations.Add(1)
			return tgerr.New(303, fmt.Sprintf("USER_MIGRATE_%d", home))
		}
	}
	if m.flood == perMethod {
		return w.spend(r, w.srv.flood.methodChecks(r.acct, r.method))
	}
	return nil
}

// takeSend spends the message-send budgets of a send to p (methods of
// flood class perSend): nil, or 420 FLOOD_WAIT_X.
func (w *world) takeSend(r *request, p peerRef) error {
	return w.spend(r, w.srv.flood.sendChecks(r.acct, p))
}

// spend takes one token from each budget of checks: nil, or 420
// FLOOD_WAIT_X, counted by method (and as ignored when the caller had
// already been told to wait).
func (w *world) spend(r *request, checks []floodCheck) error {
	wait, ignored := w.srv.flood.take(r.now, checks)
	if wait <= 0 {
		return nil
	}
	acct := r.acct
	if acct == 0 {
		acct = r.key.account() // methods any key may call (logins)
	}
	w.srv.count.flood(acct, r.method, wait)
	if ignored {
		w.srv.count.ignoredWaits.Add(1)
	}
	return tgerr.New(420, fmt.Sprintf("FLOOD_WAIT_%d", wait))
}
