package entitycache

import (
	"encoding/binary"
	"errors"
	"fmt"
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
	Via      MessageRef
	Username string // lowercased, without "@"
	Phone    string // digits only
	Bot      bool
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
	e.Username = strings.ToLower(full.Username)
	e.Phone = digits(full.Phone)
	return e, true
}

// fromChat makes an entity of a chat or channel; forbidden and empty ones
// give ok false.
func fromChat(c tg.ChatClass) (Entity, bool) {
	switch c := c.(type) {
	case *tg.Chat:
		return Entity{Kind: Chat, ID: c.ID}, true
	case *tg.Channel:
		e := Entity{Kind: Channel, ID: c.ID, AccessHash: c.AccessHash, Min: c.Min}
		e.Username = strings.ToLower(c.Username)
		return e, true
	case *tg.ChannelForbidden:
		return Entity{Kind: Channel, ID: c.ID, AccessHash: c.AccessHash}, true
	}
	return Entity{}, false
}

// Binary form in stores: version, kind, flags, id, hash, then
// length-prefixed username and phone; version 2 adds the Via message (peer
// kind, peer id, message id). Version 1 records are still read.
const (
	recordV1      = 1
	recordVersion = 2
)

func (e Entity) marshal() []byte {
	b := make([]byte, 0, 3+16+2+len(e.Username)+len(e.Phone)+13)
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
	b = append(b, byte(len(e.Username)))
	b = append(b, e.Username...)
	b = append(b, byte(len(e.Phone)))
	b = append(b, e.Phone...)
	b = append(b, byte(e.Via.Peer.Kind))
	b = binary.LittleEndian.AppendUint64(b, uint64(e.Via.Peer.ID))
	b = binary.LittleEndian.AppendUint32(b, uint32(e.Via.MsgID))
	return b
}

var errRecord = errors.New("malformed entity record")

func unmarshal(b []byte) (Entity, error) {
	if len(b) < 3+16+2 || (b[0] != recordVersion && b[0] != recordV1) {
		return Entity{}, errRecord
	}
	e := Entity{Kind: Kind(b[1]), Min: b[2]&1 != 0, Bot: b[2]&2 != 0}
	e.ID = int64(binary.LittleEndian.Uint64(b[3:]))
	e.AccessHash = int64(binary.LittleEndian.Uint64(b[11:]))
	rest := b[19:]
	for _, dst := range []*string{&e.Username, &e.Phone} {
		if len(rest) < 1 || len(rest) < 1+int(rest[0]) {
			return Entity{}, errRecord
		}
		*dst = string(rest[1 : 1+int(rest[0])])
		rest = rest[1+int(rest[0]):]
	}
	if b[0] >= 2 {
		if len(rest) < 13 {
			return Entity{}, errRecord
		}
		e.Via.Peer = Key{Kind(rest[0]), int64(binary.LittleEndian.Uint64(rest[1:]))}
		e.Via.MsgID = int(binary.LittleEndian.Uint32(rest[9:]))
		rest = rest[13:]
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
