package cluster

import (
	"context"
	"fmt"

	"github.com/gotd/td/bin"

	"github.com/tlsched/tlsched/tl"
)

// RequestOf is req as a Submitter sends it: req itself when it is a
// *tl.Request (tl.EncodeParams), else its encoding with the chat it is
// about and its paid flood skip (tl.RequestPeer, tl.PaidFloodskip).
func RequestOf(req bin.Encoder) (*tl.Request, error) {
	if r, ok := req.(*tl.Request); ok {
		return r, nil
	}
	typed, ok := req.(interface{ TypeID() uint32 })
	if !ok {
		return nil, fmt.Errorf("cluster: %T has no TL type id", req)
	}
	def, ok := tl.ByID(typed.TypeID())
	if !ok || !def.Method {
		return nil, fmt.Errorf("cluster: %T (%#08x) is not a method of the schema", req, typed.TypeID())
	}
	var b bin.Buffer
	if err := req.Encode(&b); err != nil {
		return nil, fmt.Errorf("cluster: encoding %s: %w", def.Name, err)
	}
	return &tl.Request{Def: def, Body: b.Buf, Peer: tl.RequestPeer(req), PaidFloodskip: tl.PaidFloodskip(req)}, nil
}

// Invoker is a tg.Invoker (and an entitycache.Invoker) whose calls go to
// one account's grain through a Submitter: one call per Invoke, waiting
// for its answer. When ctx ends first Invoke returns ctx's error and the
// call goes on on its member (a call sent cannot be withdrawn).
type Invoker struct {
	s       *Submitter
	account string
	// OnResult, if set, is called with each call's method and result
	// body (entitycache.Cache.LearnResult).
	OnResult func(method *tl.Definition, body []byte)
}

// Invoker returns the Invoker of account's calls.
func (s *Submitter) Invoker(account string) *Invoker {
	return &Invoker{s: s, account: account}
}

// Invoke sends req to the account's grain and decodes its answer into res
// (nil: the answer is dropped).
func (v *Invoker) Invoke(ctx context.Context, req bin.Encoder, res bin.Decoder) error {
	r, err := RequestOf(req)
	if err != nil {
		return err
	}
	calls, err := v.s.Send(ctx, v.account, []RemoteSpec{{Req: r}})
	if err != nil {
		return err
	}
	body, err := calls[0].Wait(ctx)
	if err != nil {
		return err
	}
	if v.OnResult != nil {
		v.OnResult(r.Def, body)
	}
	if res == nil {
		return nil
	}
	if err := res.Decode(&bin.Buffer{Buf: body}); err != nil {
		return fmt.Errorf("cluster: decode %s result: %w", r.Def.Name, err)
	}
	return nil
}
