package entitycache

import (
	"encoding/binary"
	"slices"

	"github.com/gotd/td/bin"
	"github.com/gotd/td/tg"

	"github.com/tlsched/tlsched/tl"
)

// LearnResult queues one RPC result (the TL body of a call of method) to be
// learned from; body is kept until then and must not be modified. It is the
// hook for actors.Config.OnResult and never blocks: results are decoded on
// the cache's own goroutine, and when the queue is full
// (Config.LearnQueueBytes) the result is dropped and counted
// (Stats.LearnQueueDrops, LearnDroppedBytes) rather than learned inline.
func (c *Cache) LearnResult(method *tl.Definition, body []byte) {
	if method == nil || len(body) < 4 || !mayHoldEntities(binary.LittleEndian.Uint32(body)) || c.stopped.Load() {
		return
	}
	if !c.results.push(learnItem{method: method, body: body}) {
		c.queueDrops.Add(1)
		c.queueDroppedBytes.Add(int64(len(body)))
	}
}

// mayHoldEntities skips the results that never carry users or chats, so the
// hot path of sending messages does not decode them.
func mayHoldEntities(id uint32) bool {
	switch id {
	case tg.UpdateShortSentMessageTypeID, tg.BoolTrueTypeID, tg.BoolFalseTypeID,
		tg.UpdatesTooLongTypeID, tg.UpdateShortMessageTypeID, tg.UpdateShortChatMessageTypeID,
		tg.UpdatesStateTypeID:
		return false
	}
	return true
}

func (c *Cache) learnResult(it learnItem) {
	if it.marker != nil {
		close(it.marker)
		return
	}
	v, err := tl.DecodeResult(it.method, it.body)
	if err != nil {
		return // not ours to judge; the caller gets the same bytes
	}
	c.Learn(v)
}

// Learn records every user and chat in v: a result object (anything with
// users and chats lists, an auth.authorization, a vector of users or chats),
// a tg.User or tg.Chat, or a slice of them. The messages in v tell where a
// min user or channel was seen (Entity.Via).
func (c *Cache) Learn(v any) {
	var h harvest
	h.collect(v)
	if len(h.ents) == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if h.self != 0 && !c.noteSelf(h.self) {
		return // another account's hashes (Config.Account)
	}
	if c.accountErr != nil {
		return
	}
	for _, e := range h.ents {
		if e.Min {
			e.Via = h.via[e.Key()]
		}
		c.learnLocked(e)
	}
}

// harvest is what one result holds: its entities and, for senders, a
// message each was seen in.
type harvest struct {
	ents []Entity
	via  map[Key]MessageRef
	self int64 // the user marked self, if any
}

func (h *harvest) collect(v any) {
	switch v := v.(type) {
	case nil:
		return
	case tg.UserClass:
		if e, ok := fromUser(v); ok {
			h.ents = append(h.ents, e)
			if u, _ := v.(*tg.User); u.Self {
				h.self = u.ID
			}
		}
		return
	case tg.ChatClass:
		if e, ok := fromChat(v); ok {
			h.ents = append(h.ents, e)
		}
		if ch, ok := v.(*tg.Chat); ok {
			if to, ok := ch.MigratedTo.(*tg.InputChannel); ok {
				// The supergroup the group became: learned if new.
				h.ents = append(h.ents, Entity{Kind: Channel, ID: to.ChannelID, AccessHash: to.AccessHash, partial: true})
			}
		}
		return
	case []bin.Object:
		for _, o := range v {
			h.collect(o)
		}
		return
	case []tg.UserClass:
		for _, u := range v {
			h.collect(u)
		}
		return
	case []tg.ChatClass:
		for _, ch := range v {
			h.collect(ch)
		}
		return
	case *tg.UserClassVector:
		h.collect(v.Elems)
		return
	}
	if x, ok := v.(interface{ GetUsers() []tg.UserClass }); ok {
		h.collect(x.GetUsers())
	}
	if x, ok := v.(interface{ GetChats() []tg.ChatClass }); ok {
		h.collect(x.GetChats())
	}
	if x, ok := v.(interface{ GetUser() tg.UserClass }); ok {
		h.collect(x.GetUser())
	}
	if x, ok := v.(interface{ GetChat() tg.ChatClass }); ok {
		h.collect(x.GetChat())
	}
	if x, ok := v.(interface{ GetMessages() []tg.MessageClass }); ok {
		for _, m := range x.GetMessages() {
			h.message(m)
		}
	}
	if x, ok := v.(interface{ GetUpdates() []tg.UpdateClass }); ok {
		for _, u := range x.GetUpdates() {
			if m, ok := u.(interface{ GetMessage() tg.MessageClass }); ok {
				h.message(m.GetMessage())
			}
		}
	}
}

// message notes where m's sender was seen: api/min says a min sender is
// reached through inputPeerUserFromMessage / inputPeerChannelFromMessage
// naming the chat and this message.
func (h *harvest) message(m tg.MessageClass) {
	msg, ok := m.(*tg.Message)
	if !ok || msg.FromID == nil {
		return
	}
	from, ok1 := peerKey(msg.FromID)
	in, ok2 := peerKey(msg.PeerID)
	if !ok1 || !ok2 || from == in {
		return
	}
	if h.via == nil {
		h.via = map[Key]MessageRef{}
	}
	h.via[from] = MessageRef{Peer: in, MsgID: msg.ID}
}

func peerKey(p tg.PeerClass) (Key, bool) {
	switch p := p.(type) {
	case *tg.PeerUser:
		return Key{User, p.UserID}, true
	case *tg.PeerChat:
		return Key{Chat, p.ChatID}, true
	case *tg.PeerChannel:
		return Key{Channel, p.ChannelID}, true
	}
	return Key{}, false
}

// learnLocked merges e into the cache. Rules (as Telethon's session does):
// a "min" hash never replaces a full one; a username or phone number moving
// to a new owner leaves the old owner without it (so learning the old owner
// again does not take it back); a username dropped by its owner is
// forgotten. c.mu is held.
func (c *Cache) learnLocked(e Entity) {
	old, had := c.lookupLocked(e.Key())
	if had {
		if e.partial || (e.Min && !old.Min) {
			return
		}
		if e.Min && e.Via == (MessageRef{}) {
			e.Via = old.Via // still the last message known to mention it
		}
		if e.Phone == "" {
			e.Phone = old.Phone
		}
		if e.Kind == Chat || (e.AccessHash == 0 && old.AccessHash != 0) {
			e.AccessHash = old.AccessHash
		}
		if e.Kind == Chat && e.MigratedTo == 0 {
			e.MigratedTo = old.MigratedTo // an upgrade is not undone
		}
		if old.equal(e) {
			c.ents.Add(e.Key(), e)
			return
		}
		for _, n := range old.Usernames {
			if !e.hasName(n) {
				c.dropU[n] = true
				c.names.Remove(n)
			}
		}
	}
	e.partial = false
	for _, n := range e.Usernames {
		delete(c.dropU, n)
		if k, ok := c.nameOwner(n); ok && k != e.Key() {
			// The name moved: its previous owner no longer has it.
			if prev, ok := c.lookupLocked(k); ok && prev.hasName(n) {
				prev.Usernames = slices.DeleteFunc(slices.Clone(prev.Usernames), func(s string) bool { return s == n })
				c.putLocked(prev)
			}
		}
		c.names.Add(n, e.Key())
	}
	if e.Phone != "" {
		delete(c.dropP, e.Phone)
		if k, ok := c.phoneOwner(e.Phone); ok && k != e.Key() {
			// The number moved: its previous owner no longer has it.
			if prev, ok := c.lookupLocked(k); ok && prev.Phone == e.Phone {
				prev.Phone = ""
				c.putLocked(prev)
			}
		}
		c.phone.Add(e.Phone, e.Key())
	}
	c.putLocked(e)
	c.count(func(s *Stats) { s.Learned++ })
}

func (c *Cache) putLocked(e Entity) {
	c.ents.Add(e.Key(), e)
	if _, ok := c.dirty[e.Key()]; !ok && c.writeErr != nil && len(c.dirty) >= c.cfg.MaxUnwritten {
		// The store is failing and the unwritten set is full: serve it from
		// memory, do not grow without bound.
		c.count(func(s *Stats) { s.UnwrittenDrops++ })
		return
	}
	c.dirty[e.Key()] = e
	if len(c.dirty) >= min(10_000, c.cfg.MemoryEntries/2) {
		select {
		case c.kick <- struct{}{}:
		default:
		}
	}
}

// nameOwner is the key a username maps to now. c.mu is held.
func (c *Cache) nameOwner(name string) (Key, bool) {
	// Every name learned since the last flush is in the memory layer (a
	// flush is forced before it could be evicted).
	if k, ok := c.names.Get(name); ok {
		return k, true
	}
	if c.dropU[name] {
		return Key{}, false
	}
	k, ok, err := c.store.Username(name)
	return k, ok && err == nil
}

// phoneOwner is the key a phone number maps to now. c.mu is held.
func (c *Cache) phoneOwner(phone string) (Key, bool) {
	if k, ok := c.phone.Get(phone); ok {
		return k, true
	}
	if c.dropP[phone] {
		return Key{}, false
	}
	k, ok, err := c.store.Phone(phone)
	return k, ok && err == nil
}

// lookupLocked finds an entity without taking c.mu. c.mu is held.
func (c *Cache) lookupLocked(k Key) (Entity, bool) {
	if e, ok := c.dirty[k]; ok {
		return e, true
	}
	if e, ok := c.writing[k]; ok {
		return e, true
	}
	if e, ok := c.ents.Get(k); ok {
		return e, true
	}
	e, ok, err := c.store.Get(k)
	return e, ok && err == nil
}
