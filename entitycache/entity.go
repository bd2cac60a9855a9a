package entitycache

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/gotd/td/tg"
)

// Kind is what an entity is.
type Kind uint8

// Kinds of entities.
const (
	User    Kind = 1 // a user or bot
	Chat    Kind = 2 // a basic group (no access hash)
	Channel Kind = 3 // a channel or supergroup
)

func (k Kind) String() string {
	switch k {
	case User:
		return "user"
	case Chat:
		return "chat"
	case Channel:
		return "channel"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Entity is what the cache knows of one user, chat or channel.
type Entity struct {
	Kind       Kind
	ID         int64
	AccessHash int64
	// Min reports that AccessHash came from a "min" constructor (seen in a
	// group, not given to us). Telegram (api/min): a min hash is not valid
	// in an InputPeerUser or InputPeerChannel; the cache never hands it out,
	// and replaces it as soon as a full one is seen.
	Min bool
	// Via is a message that mentioned this min entity (its sender, in a
	// chat whose own peer the cache knows), kept so the cache can build
	// inputPeerUserFromMessage / inputPeerChannelFromMessage. Zero if none.
	Via MessageRef
	// Usernames are the active usernames, lowercased, without "@": the
	// editable one first, then collectible ones (user.usernames,
	// channel.usernames). Each maps to this entity.
	Usernames []string
	Phone     string // digits only
	Bot       bool
	// MigratedTo is, for a basic group upgraded to a supergroup
	// (chat.migrated_to), the channel's id; 0 otherwise.
	MigratedTo int64

	// partial: only the id and hash are known (the channel named by a
	// chat's migrated_to); it never overwrites what the cache knows.
	partial bool
}

// equal reports whether e and o hold the same facts.
func (e Entity) equal(o Entity) bool {
	return e.Kind == o.Kind && e.ID == o.ID && e.AccessHash == o.AccessHash && e.Min == o.Min &&
		e.Via == o.Via && slices.Equal(e.Usernames, o.Usernames) && e.Phone == o.Phone &&
		e.Bot == o.Bot && e.MigratedTo == o.MigratedTo
}

// hasName reports whether name is one of e's usernames.
func (e Entity) hasName(name string) bool { return slices.Contains(e.Usernames, name) }

// activeNames lists the active usernames of a user or channel, lowercased:
// the main one, then those of the usernames list (Fragment's collectible
// names among them).
func activeNames(main string, all []tg.Username) []string {
	var out []string
	add := func(n string) {
		n = strings.ToLower(n)
		if n != "" && !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	add(main)
	for _, u := range all {
		if u.Active {
			add(u.Username)
		}
	}
	return out
}

// MessageRef names one message: the chat it is in and its id there.
type MessageRef struct {
	Peer  Key
	MsgID int
}

// Key identifies an entity: its kind and id.
type Key struct {
	Kind Kind
	ID   int64
}

// Key returns e's key.
func (e Entity) Key() Key { return Key{e.Kind, e.ID} }

// InputPeer is e as an InputPeer with its access hash. For a Min entity
// that hash is not accepted by Telegram (api/min); the Cache's resolvers
// never return it, they build the ...FromMessage form or ask the server.
func (e Entity) InputPeer() tg.InputPeerClass {
	switch e.Kind {
	case User:
		return &tg.InputPeerUser{UserID: e.ID, AccessHash: e.AccessHash}
	case Chat:
		return &tg.InputPeerChat{ChatID: e.ID}
	default:
		return &tg.InputPeerChannel{ChannelID: e.ID, AccessHash: e.AccessHash}
	}
}

// fromUser makes an entity of a tg.User; ok is false for userEmpty.
func fromUser(u tg.UserClass) (Entity, bool) {
	full, ok := u.(*tg.User)
	if !ok {
		return Entity{}, false
	}
	e := Entity{Kind: User, ID: full.ID, AccessHash: full.AccessHash, Min: full.Min, Bot: full.Bot}
	e.Usernames = activeNames(full.Username, full.Usernames)
	e.Phone = digits(full.Phone)
	return e, true
}

// fromChat makes an entity of a chat or channel; forbidden and empty ones
// give ok false.
func fromChat(c tg.ChatClass) (Entity, bool) {
	switch c := c.(type) {
	case *tg.Chat:
		e := Entity{Kind: Chat, ID: c.ID}
		if to, ok := c.MigratedTo.(*tg.InputChannel); ok {
			e.MigratedTo = to.ChannelID
		}
		return e, true
	case *tg.Channel:
		e := Entity{Kind: Channel, ID: c.ID, AccessHash: c.AccessHash, Min: c.Min}
		e.Usernames = activeNames(c.Username, c.Usernames)
		return e, true
	case *tg.ChannelForbidden:
		return Entity{Kind: Channel, ID: c.ID, AccessHash: c.AccessHash}, true
	}
	return Entity{}, false
}

// Binary form in stores: version, kind, flags, id, hash, then (version 1)
// length-prefixed username and phone, or (version 2) length-prefixed phone,
// the Via message (peer kind, peer id, message id), MigratedTo, a count of
// usernames and each length-prefixed. Version 1 records are still read.
const (
	recordV1      = 1
	recordVersion = 2
)

func (e Entity) marshal() []byte {
	b := make([]byte, 0, 3+16+1+len(e.Phone)+13+8+1+len(e.Usernames)*16)
	var flags byte
	if e.Min {
		flags |= 1
	}
	if e.Bot {
		flags |= 2
	}
	b = append(b, recordVersion, byte(e.Kind), flags)
	b = binary.LittleEndian.AppendUint64(b, uint64(e.ID))
	b = binary.LittleEndian.AppendUint64(b, uint64(e.AccessHash))
	b = append(b, byte(len(e.Phone)))
	b = append(b, e.Phone...)
	b = append(b, byte(e.Via.Peer.Kind))
	b = binary.LittleEndian.AppendUint64(b, uint64(e.Via.Peer.ID))
	b = binary.LittleEndian.AppendUint32(b, uint32(e.Via.MsgID))
	b = binary.LittleEndian.AppendUint64(b, uint64(e.MigratedTo))
	b = append(b, byte(len(e.Usernames)))
	for _, n := range e.Usernames {
		b = append(b, byte(len(n)))
		b = append(b, n...)
	}
	return b
}

var errRecord = errors.New("malformed entity record")

func unmarshal(b []byte) (Entity, error) {
	if len(b) < 3+16+1 || (b[0] != recordVersion && b[0] != recordV1) {
		return Entity{}, errRecord
	}
	e := Entity{Kind: Kind(b[1]), Min: b[2]&1 != 0, Bot: b[2]&2 != 0}
	e.ID = int64(binary.LittleEndian.Uint64(b[3:]))
	e.AccessHash = int64(binary.LittleEndian.Uint64(b[11:]))
	rest := b[19:]
	str := func() (string, bool) {
		if len(rest) < 1 || len(rest) < 1+int(rest[0]) {
			return "", false
		}
		s := string(rest[1 : 1+int(rest[0])])
		rest = rest[1+int(rest[0]):]
		return s, true
	}
	if b[0] == recordV1 {
		name, ok1 := str()
		phone, ok2 := str()
		if !ok1 || !ok2 {
			return Entity{}, errRecord
		}
		if name != "" {
			e.Usernames = []string{name}
		}
		e.Phone = phone
	} else {
		var ok bool
		if e.Phone, ok = str(); !ok || len(rest) < 13+8+1 {
			return Entity{}, errRecord
		}
		e.Via.Peer = Key{Kind(rest[0]), int64(binary.LittleEndian.Uint64(rest[1:]))}
		e.Via.MsgID = int(binary.LittleEndian.Uint32(rest[9:]))
		e.MigratedTo = int64(binary.LittleEndian.Uint64(rest[13:]))
		n := int(rest[21])
		rest = rest[22:]
		for range n {
			name, ok := str()
			if !ok {
				return Entity{}, errRecord
			}
			e.Usernames = append(e.Usernames, name)
		}
	}
	if len(rest) != 0 || e.Kind < User || e.Kind > Channel {
		return Entity{}, errRecord
	}
	return e, nil
}

func digits(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String()
}
