package entitycache

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/gotd/td/bin"
	"github.com/gotd/td/tg"
	"github.com/gotd/td/tgerr"

	"github.com/tlsched/tlsched/tl"
)

var _ tl.Resolver = (*Cache)(nil)

// Resolve implements tl.Resolver: shorthand (see the package doc) as an
// object of class want ("InputPeer", "InputUser" or "InputChannel").
func (c *Cache) Resolve(ctx context.Context, want, shorthand string) (bin.Encoder, error) {
	return c.resolve(ctx, want, shorthand, false)
}

// InputPeer resolves a shorthand to an InputPeer.
func (c *Cache) InputPeer(ctx context.Context, shorthand string) (tg.InputPeerClass, error) {
	v, err := c.resolve(ctx, "InputPeer", shorthand, false)
	if err != nil {
		return nil, err
	}
	return v.(tg.InputPeerClass), nil
}

// InputUser resolves a shorthand to an InputUser.
func (c *Cache) InputUser(ctx context.Context, shorthand string) (tg.InputUserClass, error) {
	v, err := c.resolve(ctx, "InputUser", shorthand, false)
	if err != nil {
		return nil, err
	}
	return v.(tg.InputUserClass), nil
}

// InputChannel resolves a shorthand to an InputChannel.
func (c *Cache) InputChannel(ctx context.Context, shorthand string) (tg.InputChannelClass, error) {
	v, err := c.resolve(ctx, "InputChannel", shorthand, false)
	if err != nil {
		return nil, err
	}
	return v.(tg.InputChannelClass), nil
}

// PeerInput turns a TL Peer (as found in messages and updates) into an
// InputPeer with its access hash.
func (c *Cache) PeerInput(ctx context.Context, p tg.PeerClass) (tg.InputPeerClass, error) {
	switch p := p.(type) {
	case *tg.PeerUser:
		return c.InputPeer(ctx, fmt.Sprint(p.UserID))
	case *tg.PeerChat:
		return c.InputPeer(ctx, fmt.Sprint(-p.ChatID))
	case *tg.PeerChannel:
		return c.InputPeer(ctx, fmt.Sprint(-channelOffset-p.ChannelID))
	}
	return nil, fmt.Errorf("entity cache: peer %T is not a user, chat or channel", p)
}

func (c *Cache) resolve(ctx context.Context, want, shorthand string, fresh bool) (bin.Encoder, error) {
	q, err := parse(shorthand)
	if err != nil {
		return nil, err
	}
	if err := c.accountFailed(); err != nil {
		return nil, err
	}
	if q.kind == qSelf {
		switch want {
		case "InputPeer":
			return &tg.InputPeerSelf{}, nil
		case "InputUser":
			return &tg.InputUserSelf{}, nil
		}
		return nil, &KindError{Input: shorthand, Want: want, Got: User}
	}
	e, err := c.find(ctx, q, shorthand, fresh)
	if err != nil {
		return nil, err
	}
	if e.Min {
		return c.fromMessage(want, shorthand, e)
	}
	if e.Kind == Chat && e.MigratedTo != 0 {
		// Reached by another name than its id (an invite link, say).
		return nil, &MigratedError{Input: shorthand, ChatID: e.ID, ChannelID: e.MigratedTo}
	}
	switch want {
	case "InputPeer":
		return e.InputPeer(), nil
	case "InputUser":
		if e.Kind == User {
			return &tg.InputUser{UserID: e.ID, AccessHash: e.AccessHash}, nil
		}
	case "InputChannel":
		if e.Kind == Channel {
			return &tg.InputChannel{ChannelID: e.ID, AccessHash: e.AccessHash}, nil
		}
	default:
		return nil, fmt.Errorf("entity cache: cannot make a %s", want)
	}
	return nil, &KindError{Input: shorthand, Want: want, Got: e.Kind}
}

// find returns the entity q names: from memory or the store, else from the
// network (fresh skips the cache).
func (c *Cache) find(ctx context.Context, q query, input string, fresh bool) (Entity, error) {
	if q.kind == qID && q.key.Kind == Chat {
		// Basic groups need no access hash; one upgraded to a supergroup
		// is refused with the channel to use instead.
		e, ok, err := c.get(q.key)
		if err != nil {
			return Entity{}, err
		}
		if ok && e.MigratedTo != 0 {
			return Entity{}, &MigratedError{Input: input, ChatID: e.ID, ChannelID: e.MigratedTo}
		}
		return Entity{Kind: Chat, ID: q.key.ID}, nil
	}
	if !fresh {
		var e Entity
		var ok bool
		var err error
		switch q.kind {
		case qUsername:
			e, ok, err = c.byName(q.name, false)
		case qPhone:
			e, ok, err = c.byName(q.name, true)
		case qID:
			e, ok, err = c.get(q.key)
		case qInvite:
			if k, known := c.invites.Get(q.name); known {
				e, ok, err = c.get(k)
			}
		}
		if err != nil {
			return Entity{}, err
		}
		if ok && e.Min {
			// A min hash is never handed out (api/min): usable only
			// through a message that mentioned it, else a miss.
			_, ok = c.viaPeer(e)
		}
		if ok {
			c.count(func(s *Stats) { s.Hits++ })
			return e, nil
		}
	}
	c.count(func(s *Stats) { s.Misses++ })
	if q.kind == qID && c.invoker() != nil {
		// users.getUsers and channels.getChannels take no hash only for
		// bots: an id whose username is known is asked for by name.
		if known, ok, err := c.get(q.key); err == nil && ok && len(known.Usernames) > 0 {
			byName := query{kind: qUsername, name: known.Usernames[0]}
			if e, err := c.find(ctx, byName, input, fresh); err == nil && e.Key() == q.key {
				return e, nil
			}
		}
	}
	negKey := fmt.Sprint(q.kind, ":", q.name, ":", q.key)
	// Fresh lookups (a refresh) respect it too: a refresh the server just
	// refused would only double the RPCs of every later call.
	if at, ok := c.neg.Get(negKey); ok {
		if c.cfg.Now().Before(at.Add(c.cfg.NegativeTTL)) {
			c.count(func(s *Stats) { s.NegativeHits++ })
			return Entity{}, &NotFoundError{Input: input, Err: errors.New("not found a moment ago")}
		}
		c.neg.Remove(negKey)
	}
	if c.invoker() == nil {
		return Entity{}, &NotFoundError{Input: input, Err: errors.New("not in the cache, and the cache has no Invoker to ask the server")}
	}
	// Concurrent lookups of one key share one call. The call runs on its own
	// context so one caller giving up does not fail the others.
	ch := c.group.DoChan(negKey, func() (any, error) {
		e, err := c.fetch(context.WithoutCancel(ctx), q)
		var nf *NotFoundError
		if errors.As(err, &nf) {
			c.neg.Add(negKey, c.cfg.Now())
		}
		return e, err
	})
	select {
	case r := <-ch:
		if r.Err != nil {
			var nf *NotFoundError
			if errors.As(r.Err, &nf) {
				return Entity{}, &NotFoundError{Input: input, Err: nf.Err}
			}
			var ie *InviteError
			if errors.As(r.Err, &ie) {
				return Entity{}, &InviteError{Input: input, Hash: ie.Hash, Title: ie.Title}
			}
			return Entity{}, r.Err
		}
		return r.Val.(Entity), nil
	case <-ctx.Done():
		return Entity{}, ctx.Err()
	}
}

// viaPeer is the InputPeer of the chat holding the message that mentioned
// min entity e, if the cache can name that chat with a full hash.
func (c *Cache) viaPeer(e Entity) (tg.InputPeerClass, bool) {
	v := e.Via
	if v.MsgID == 0 {
		return nil, false
	}
	if v.Peer.Kind == Chat {
		return &tg.InputPeerChat{ChatID: v.Peer.ID}, true
	}
	in, ok, err := c.get(v.Peer)
	if err != nil || !ok || in.Min {
		return nil, false
	}
	return in.InputPeer(), true
}

// fromMessage builds the ...FromMessage object of class want for min
// entity e (api/min: "inputPeerUserFromMessage", "inputPeerChannelFromMessage").
func (c *Cache) fromMessage(want, input string, e Entity) (bin.Encoder, error) {
	peer, ok := c.viaPeer(e)
	if !ok {
		return nil, &NotFoundError{Input: input, Err: errors.New("only a min access hash is known (seen in a group), and no message that mentions it")}
	}
	msg := e.Via.MsgID
	switch {
	case want == "InputPeer" && e.Kind == User:
		return &tg.InputPeerUserFromMessage{Peer: peer, MsgID: msg, UserID: e.ID}, nil
	case want == "InputPeer" && e.Kind == Channel:
		return &tg.InputPeerChannelFromMessage{Peer: peer, MsgID: msg, ChannelID: e.ID}, nil
	case want == "InputUser" && e.Kind == User:
		return &tg.InputUserFromMessage{Peer: peer, MsgID: msg, UserID: e.ID}, nil
	case want == "InputChannel" && e.Kind == Channel:
		return &tg.InputChannelFromMessage{Peer: peer, MsgID: msg, ChannelID: e.ID}, nil
	case want != "InputPeer" && want != "InputUser" && want != "InputChannel":
		return nil, fmt.Errorf("entity cache: cannot make a %s", want)
	}
	return nil, &KindError{Input: input, Want: want, Got: e.Kind}
}

// notFound are the server's answers that mean "no such peer".
func notFound(err error) bool {
	return tgerr.Is(err, "USERNAME_NOT_OCCUPIED", "USERNAME_INVALID", "PHONE_NOT_OCCUPIED",
		"PHONE_NUMBER_INVALID", "USER_ID_INVALID", "PEER_ID_INVALID", "CHANNEL_INVALID", "CHANNEL_PRIVATE")
}

// fetch asks the server and learns the answer.
func (c *Cache) fetch(ctx context.Context, q query) (Entity, error) {
	c.count(func(s *Stats) { s.NetworkCalls++ })
	inv := c.invoker()
	// The cache's own calls are not refreshed by its Middleware.
	ctx = c.quiet(ctx)
	var want Key
	var learned any
	switch q.kind {
	case qUsername, qPhone:
		var r tg.ContactsResolvedPeer
		var req bin.Encoder = &tg.ContactsResolveUsernameRequest{Username: q.name}
		if q.kind == qPhone {
			req = &tg.ContactsResolvePhoneRequest{Phone: q.name}
		}
		if err := inv.Invoke(ctx, req, &r); err != nil {
			if notFound(err) {
				return Entity{}, &NotFoundError{Err: err}
			}
			return Entity{}, err
		}
		switch p := r.Peer.(type) {
		case *tg.PeerUser:
			want = Key{User, p.UserID}
		case *tg.PeerChannel:
			want = Key{Channel, p.ChannelID}
		case *tg.PeerChat:
			want = Key{Chat, p.ChatID}
		}
		learned = &r
	case qInvite:
		var box tg.ChatInviteBox
		if err := inv.Invoke(ctx, &tg.MessagesCheckChatInviteRequest{Hash: q.name}, &box); err != nil {
			if notFound(err) || tgerr.Is(err, "INVITE_HASH_EXPIRED", "INVITE_HASH_INVALID", "INVITE_HASH_EMPTY") {
				return Entity{}, &NotFoundError{Err: err}
			}
			return Entity{}, err
		}
		var chat tg.ChatClass
		switch v := box.ChatInvite.(type) {
		case *tg.ChatInviteAlready:
			chat = v.Chat
		case *tg.ChatInvitePeek:
			chat = v.Chat
		case *tg.ChatInvite:
			return Entity{}, &InviteError{Hash: q.name, Title: v.Title}
		}
		e, ok := fromChat(chat)
		if !ok {
			return Entity{}, &NotFoundError{Err: fmt.Errorf("the invite names a chat the account cannot see (%T)", chat)}
		}
		want = e.Key()
		c.invites.Add(q.name, want)
		learned = chat
	case qID:
		var err error
		if q.key.Kind == User {
			var v tg.UserClassVector
			err = inv.Invoke(ctx, &tg.UsersGetUsersRequest{ID: []tg.InputUserClass{&tg.InputUser{UserID: q.key.ID}}}, &v)
			learned = &v
		} else {
			var box tg.MessagesChatsBox
			err = inv.Invoke(ctx, &tg.ChannelsGetChannelsRequest{ID: []tg.InputChannelClass{&tg.InputChannel{ChannelID: q.key.ID}}}, &box)
			learned = box.Chats
		}
		if err != nil {
			if notFound(err) {
				return Entity{}, &NotFoundError{Err: err}
			}
			return Entity{}, err
		}
		want = q.key
	}
	var h harvest
	h.collect(learned)
	c.Learn(learned)
	for _, e := range h.ents {
		if e.Key() == want {
			if q.kind == qPhone && e.Phone == "" {
				e.Phone = q.name
				c.mu.Lock()
				c.learnLocked(e)
				c.mu.Unlock()
			}
			return e, nil
		}
	}
	return Entity{}, &NotFoundError{Err: fmt.Errorf("the server's answer does not contain %s %d", want.Kind, want.ID)}
}

// count updates the counters; it may be called with c.mu held.
func (c *Cache) count(f func(*Stats)) {
	c.statsMu.Lock()
	f(&c.stats)
	c.statsMu.Unlock()
}

// peerInvalid are the errors that mean "this access hash is not valid (for
// this account)".
func peerInvalid(err error) bool {
	return tgerr.Is(err, "PEER_ID_INVALID", "USER_ID_INVALID", "CHANNEL_INVALID", "CHAT_ID_INVALID")
}

// Invoke builds a request with the cache as its resolver and sends it
// through inv. When the server rejects a peer the cache supplied
// (PEER_ID_INVALID, USER_ID_INVALID, CHANNEL_INVALID), the peers the
// request used are resolved again over the network, and the request is
// built and sent once more. build may be called twice. When the refresh
// cannot help (the server does not know the peer either, or did not a
// moment ago: Config.NegativeTTL), the error returned wraps the server's
// answer to the call (tgerr.As finds it), not a *NotFoundError, and no
// further call is sent. Build and Prepared.Retry are the same steps for a
// caller that sends the request itself.
func (c *Cache) Invoke(ctx context.Context, inv Invoker, build func(ctx context.Context, r tl.Resolver) (bin.Encoder, error), res bin.Decoder) error {
	// Its calls are refreshed here, by name, not by the Middleware too.
	ctx = c.quiet(ctx)
	p, err := c.Build(ctx, build)
	if err != nil {
		return err
	}
	req := p.Req
	for {
		err = inv.Invoke(ctx, req, res)
		if req, err = p.Retry(ctx, err); req == nil {
			return err
		}
	}
}

// Prepared is a request built by Build, with what Retry needs to build it
// again.
type Prepared struct {
	// Req is the request, its peers resolved from the cache (or over the
	// network for those it did not hold).
	Req     bin.Encoder
	c       *Cache
	build   func(ctx context.Context, r tl.Resolver) (bin.Encoder, error)
	rec     recorder
	retried bool
}

// Build builds a request with the cache as its resolver, for a caller that
// sends it itself (Invoke sends it through an Invoker) and then hands the
// call's outcome to Retry.
func (c *Cache) Build(ctx context.Context, build func(ctx context.Context, r tl.Resolver) (bin.Encoder, error)) (*Prepared, error) {
	p := &Prepared{c: c, build: build}
	p.rec.c = c
	p.rec.used = p.rec.usedBuf[:0]
	req, err := build(c.quiet(ctx), &p.rec)
	if err != nil {
		return nil, err
	}
	p.Req = req
	return p, nil
}

// Retry takes the outcome of sending the request: when err says the
// server rejected a peer the cache supplied, it resolves the peers the
// request used again over the network and returns the request built
// anew, to send once more (once: a second Retry returns its err as it
// is). Otherwise req is nil and err is the call's outcome: as it was, or
// wrapping the server's answer when the refresh could not help (see
// Invoke).
func (p *Prepared) Retry(ctx context.Context, err error) (req bin.Encoder, _ error) {
	if err == nil || p.retried || !peerInvalid(err) || len(p.rec.used) == 0 {
		return nil, err
	}
	p.retried = true
	p.c.count(func(s *Stats) { s.Refreshes++ })
	fresh := &recorder{c: p.c, fresh: true}
	req, berr := p.build(p.c.quiet(ctx), fresh)
	if berr != nil {
		var nf *NotFoundError
		if errors.As(berr, &nf) {
			// The refresh could not help (a numeric id the server will not
			// look up without a hash, say): the server's own answer is
			// what the caller needs.
			return nil, fmt.Errorf("%w (refreshing the peer did not help: %v)", err, berr)
		}
		return nil, berr
	}
	return req, nil
}

// recorder is the resolver Invoke hands to build: it notes what was
// resolved, and on the second round resolves over the network.
type recorder struct {
	c     *Cache
	fresh bool
	mu    sync.Mutex
	used  []string
	// usedBuf holds used for a request with one shorthand, the common
	// case, without allocating.
	usedBuf [1]string
}

func (r *recorder) Resolve(ctx context.Context, want, shorthand string) (bin.Encoder, error) {
	r.mu.Lock()
	r.used = append(r.used, shorthand)
	r.mu.Unlock()
	return r.c.resolve(ctx, want, shorthand, r.fresh)
}
