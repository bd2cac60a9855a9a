package entitycache

import (
	"context"
	"errors"
	"fmt"
	"reflect"

	"github.com/gotd/td/bin"
	"github.com/gotd/td/tg"

	"github.com/tlsched/tlsched/actors"
	"github.com/tlsched/tlsched/tl"
)

// Attach wires the cache to a started client in one step, in any order
// with respect to Start:
//   - the cache learns from every result of the client from now on
//     (actors.Client.OnResult with LearnResult);
//   - it resolves misses through the client, unless Config.Invoker was
//     given;
//   - the client's calls go through Middleware, so a stale access hash is
//     refreshed for plain tg.NewClient(client) calls too.
//
// A cache attaches to one client, once; Close stops learning from it, in
// either order with the client's Close (the middleware stays on the
// client: a refresh after the cache's Close fails, and the call returns
// the server's answer).
func (c *Cache) Attach(client *actors.Client) error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return errClosed
	}
	if c.detach != nil {
		c.mu.Unlock()
		return errors.New("entity cache: attached to a client already")
	}
	c.detach = client.OnResult(c.LearnResult)
	c.mu.Unlock()
	if c.invoker() == nil {
		var inv Invoker = client
		c.inv.Store(&inv)
	}
	client.Use(c.Middleware())
	return nil
}

// invoker is the Invoker that resolves misses: Config.Invoker, or the
// client given to Attach; nil for none.
func (c *Cache) invoker() Invoker {
	if p := c.inv.Load(); p != nil {
		return *p
	}
	return nil
}

// refreshingKey marks a context whose calls Middleware leaves alone: the
// cache's own resolves, a refresh under way, and Invoke (which refreshes
// by the names its build used).
type refreshingKey struct{ c *Cache }

func (c *Cache) quiet(ctx context.Context) context.Context {
	// Only a comparable context is kept, so comparing with it cannot panic
	// (an interface comparison panics only on two values of the same
	// incomparable type).
	if q := c.lastQuiet.Load(); q != nil && (q.parent == ctx || q.quiet == ctx) {
		return q.quiet // (quiet already: Invoke's steps, Build and Retry)
	}
	quiet := context.WithValue(ctx, refreshingKey{c}, true)
	if reflect.TypeOf(ctx).Comparable() {
		c.lastQuiet.Store(&quietCtx{parent: ctx, quiet: quiet})
	}
	return quiet
}

// quietCtx is a context and its quiet child (Cache.lastQuiet).
type quietCtx struct{ parent, quiet context.Context }

// Middleware returns a client middleware that refreshes stale access
// hashes: when the server rejects a call with PEER_ID_INVALID,
// USER_ID_INVALID, CHANNEL_INVALID or CHAT_ID_INVALID, every user and
// channel the request names with a hash (InputPeerUser, InputPeerChannel,
// InputUser, InputChannel, at any depth) is looked up again over the
// network by its id (by its username when the cache knows one, as
// Invoke's refresh does); if a hash changed, the call is sent once more
// with the fresh hashes (Stats.Refreshes counts it). The caller's request
// is not modified. When nothing changed, or the refresh failed, the
// server's first answer is returned. Attach installs it.
// (TestAttachRefreshesStaleHashThroughTgClient)
func (c *Cache) Middleware() actors.Middleware {
	return actors.MiddlewareFunc(func(next tg.Invoker) actors.InvokeFunc {
		return func(ctx context.Context, req bin.Encoder, res bin.Decoder) error {
			err := next.Invoke(ctx, req, res)
			if err == nil || !peerInvalid(err) || ctx.Value(refreshingKey{c}) != nil {
				return err
			}
			fresh, ok := c.refreshed(c.quiet(ctx), req)
			if !ok {
				return err
			}
			c.count(func(s *Stats) { s.Refreshes++ })
			return next.Invoke(ctx, fresh, res)
		}
	})
}

// peerRef is an access hash in a request, and whose it is.
type peerRef struct {
	key  Key
	hash reflect.Value // the AccessHash field, settable
}

// refreshed returns a copy of req with the hashes of its peers looked up
// again, and whether any changed.
func (c *Cache) refreshed(ctx context.Context, req bin.Encoder) (bin.Encoder, bool) {
	typed, ok := req.(interface{ TypeID() uint32 })
	if !ok || c.invoker() == nil {
		return nil, false
	}
	cp, err := tl.New(typed.TypeID())
	if err != nil {
		return nil, false
	}
	var b bin.Buffer
	if req.Encode(&b) != nil || cp.Decode(&b) != nil {
		return nil, false
	}
	var refs []peerRef
	collectPeers(reflect.ValueOf(cp), &refs)
	fresh := map[Key]int64{}
	changed := false
	for _, r := range refs {
		h, seen := fresh[r.key]
		if !seen {
			h = r.hash.Int()
			e, err := c.find(ctx, query{kind: qID, key: r.key}, fmt.Sprint(r.key.ID), true)
			if err == nil && !e.Min && e.Key() == r.key && e.AccessHash != 0 {
				h = e.AccessHash
			}
			fresh[r.key] = h
		}
		if h != r.hash.Int() {
			r.hash.SetInt(h)
			changed = true
		}
	}
	return cp, changed
}

// collectPeers finds the users and channels named with a nonzero access
// hash in a decoded TL object (a tree of pointers, interfaces, structs and
// slices).
func collectPeers(v reflect.Value, refs *[]peerRef) {
	switch v.Kind() {
	case reflect.Interface:
		if !v.IsNil() {
			collectPeers(v.Elem(), refs)
		}
	case reflect.Pointer:
		if v.IsNil() {
			return
		}
		var k Key
		switch p := v.Interface().(type) {
		case *tg.InputPeerUser:
			k = Key{User, p.UserID}
		case *tg.InputUser:
			k = Key{User, p.UserID}
		case *tg.InputPeerChannel:
			k = Key{Channel, p.ChannelID}
		case *tg.InputChannel:
			k = Key{Channel, p.ChannelID}
		}
		if k.Kind != 0 {
			if h := v.Elem().FieldByName("AccessHash"); h.IsValid() && h.CanSet() && h.Int() != 0 {
				*refs = append(*refs, peerRef{key: k, hash: h})
			}
			return
		}
		collectPeers(v.Elem(), refs)
	case reflect.Struct:
		t := v.Type()
		for i := range v.NumField() {
			if t.Field(i).IsExported() {
				collectPeers(v.Field(i), refs)
			}
		}
	case reflect.Slice:
		for i := range v.Len() {
			collectPeers(v.Index(i), refs)
		}
	}
}
