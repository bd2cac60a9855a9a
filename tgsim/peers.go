package tgsim

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"

	"github.com/gotd/td/tg"
	"github.com/gotd/td/tgerr"
)

// peerRef names one peer: a user, a basic group or a channel.
type peerRef struct {
	kind peerKind
	id   int64
}

type peerKind uint8

const (
	peerUser peerKind = iota + 1
	peerChat
	peerChannel
)

// accessHash is the access hash viewer sees for peer id. Telegram's access
// hashes are per account: a hash learned by one account is invalid for
// another.
func (s *Server) accessHash(viewer, id int64) int64 {
	var b [16]byte
	binary.LittleEndian.PutUint64(b[:8], uint64(viewer))
	binary.LittleEndian.PutUint64(b[8:], uint64(id))
	h := sha256.New()
	h.Write(s.secret[:])
	h.Write([]byte("access"))
	h.Write(b[:])
	return int64(binary.LittleEndian.Uint64(h.Sum(nil)))
}

// inviteHash is the hash of chat id's invite link (t.me/+HASH).
func (s *Server) inviteHash(id int64) string {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], uint64(id))
	h := sha256.New()
	h.Write(s.secret[:])
	h.Write([]byte("invite"))
	h.Write(b[:])
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil)[:12])
}

func (w *world) tgUser(viewer int64, u *user) *tg.User {
	tu := &tg.User{
		ID:         u.id,
		AccessHash: w.srv.accessHash(viewer, u.id),
		FirstName:  u.firstName,
		LastName:   u.lastName,
		Username:   u.username,
		Self:       viewer == u.id,
		Bot:        u.bot,
	}
	if u.bot {
		tu.BotInfoVersion = 1
	}
	if viewer == u.id && u.phone != "" {
		tu.Phone = u.phone
	}
	return tu
}

// tgMinUser is u as a "min" constructor (api/min): what a supergroup's
// history shows of senders. Its access hash is not valid for viewer in an
// inputPeerUser; inputPeerUserFromMessage reaches it.
func (w *world) tgMinUser(viewer int64, u *user) *tg.User {
	return &tg.User{
		ID:         u.id,
		Min:        true,
		AccessHash: w.srv.accessHash(-viewer, u.id), // not the viewer's hash
		FirstName:  u.firstName,
		LastName:   u.lastName,
		Username:   u.username,
		Bot:        u.bot,
	}
}

func (w *world) tgChat(viewer int64, c *chat) tg.ChatClass {
	if c.kind == basicGroup {
		ch := &tg.Chat{ID: c.id, Title: c.title, Photo: &tg.ChatPhotoEmpty{}, ParticipantsCount: 2, Date: c.date, Version: 1}
		if c.migratedTo != 0 {
			// Telegram: an upgraded group is deactivated and names its
			// supergroup (chat.migrated_to).
			ch.Deactivated = true
			ch.MigratedTo = &tg.InputChannel{ChannelID: c.migratedTo, AccessHash: w.srv.accessHash(viewer, c.migratedTo)}
		}
		return ch
	}
	return &tg.Channel{
		ID:         c.id,
		AccessHash: w.srv.accessHash(viewer, c.id),
		Title:      c.title,
		Username:   c.username,
		Photo:      &tg.ChatPhotoEmpty{},
		Date:       c.date,
		Broadcast:  c.kind == broadcast,
		Megagroup:  c.kind == megagroup,
	}
}

func (p peerRef) tg() tg.PeerClass {
	switch p.kind {
	case peerUser:
		return &tg.PeerUser{UserID: p.id}
	case peerChat:
		return &tg.PeerChat{ChatID: p.id}
	default:
		return &tg.PeerChannel{ChannelID: p.id}
	}
}

// Errors Telegram answers for a peer it cannot use.
var (
	errPeerInvalid    = tgerr.New(400, "PEER_ID_INVALID")
	errUserInvalid    = tgerr.New(400, "USER_ID_INVALID")
	errChannelInvalid = tgerr.New(400, "CHANNEL_INVALID")
	errChatInvalid    = tgerr.New(400, "CHAT_ID_INVALID")
)

// inputPeer resolves an InputPeer for viewer, checking its access hash.
// w.mu is held.
func (w *world) inputPeer(viewer int64, p tg.InputPeerClass) (peerRef, error) {
	switch p := p.(type) {
	case *tg.InputPeerSelf:
		return peerRef{peerUser, viewer}, nil
	case *tg.InputPeerUser:
		if u := w.users[p.UserID]; u != nil && p.AccessHash == w.srv.accessHash(viewer, u.id) {
			return peerRef{peerUser, u.id}, nil
		}
		return peerRef{}, errPeerInvalid
	case *tg.InputPeerChat:
		if c := w.chats[p.ChatID]; c != nil && c.kind == basicGroup {
			return peerRef{peerChat, c.id}, nil
		}
		return peerRef{}, errPeerInvalid
	case *tg.InputPeerChannel:
		if c := w.chats[p.ChannelID]; c != nil && c.kind != basicGroup && p.AccessHash == w.srv.accessHash(viewer, c.id) {
			return peerRef{peerChannel, c.id}, nil
		}
		return peerRef{}, errChannelInvalid
	case *tg.InputPeerUserFromMessage:
		if w.sentIn(viewer, p.Peer, p.MsgID, p.UserID) {
			return peerRef{peerUser, p.UserID}, nil
		}
		return peerRef{}, errPeerInvalid
	default:
		return peerRef{}, errPeerInvalid
	}
}

// hashRule says which access hashes a method accepts for an input user or
// channel.
type hashRule uint8

const (
	// exactHash: only the hash the viewer was given.
	exactHash hashRule = iota
	// botMayOmitHash: that, or 0 from a bot. In users.getUsers and
	// channels.getChannels Telegram lets bots look up entities they have
	// met without a hash; Telethon relies on it.
	botMayOmitHash
)

// hashOK checks an access hash viewer gives for id.
func (w *world) hashOK(viewer, id, hash int64, rule hashRule) bool {
	if hash == 0 && rule == botMayOmitHash {
		if u := w.users[viewer]; u != nil && u.bot {
			return true
		}
	}
	return hash == w.srv.accessHash(viewer, id)
}

// inputUser resolves an InputUser for viewer. w.mu is held.
func (w *world) inputUser(viewer int64, p tg.InputUserClass, rule hashRule) (*user, error) {
	switch p := p.(type) {
	case *tg.InputUserSelf:
		return w.users[viewer], nil
	case *tg.InputUser:
		if u := w.users[p.UserID]; u != nil && w.hashOK(viewer, u.id, p.AccessHash, rule) {
			return u, nil
		}
	case *tg.InputUserFromMessage:
		if w.sentIn(viewer, p.Peer, p.MsgID, p.UserID) {
			return w.users[p.UserID], nil
		}
	}
	return nil, errUserInvalid
}

// inputChannel resolves an InputChannel for viewer. w.mu is held.
func (w *world) inputChannel(viewer int64, p tg.InputChannelClass, rule hashRule) (*chat, error) {
	if p, ok := p.(*tg.InputChannel); ok {
		if c := w.chats[p.ChannelID]; c != nil && c.kind != basicGroup && w.hashOK(viewer, c.id, p.AccessHash, rule) {
			return c, nil
		}
	}
	return nil, errChannelInvalid
}

// peerEntities lists the users and chats a result about p mentions.
func (w *world) peerEntities(viewer int64, p peerRef) ([]tg.UserClass, []tg.ChatClass) {
	users := []tg.UserClass{w.tgUser(viewer, w.users[viewer])}
	switch p.kind {
	case peerUser:
		if p.id != viewer {
			users = append(users, w.tgUser(viewer, w.users[p.id]))
		}
		return users, nil
	default:
		return users, []tg.ChatClass{w.tgChat(viewer, w.chats[p.id])}
	}
}

// sentIn reports whether message msgID of the chat in (as viewer names it)
// was sent by user: api/min's inputPeerUserFromMessage / inputUserFromMessage
// are valid only then. w.mu is held.
func (w *world) sentIn(viewer int64, in tg.InputPeerClass, msgID int, user int64) bool {
	if _, nested := in.(*tg.InputPeerUserFromMessage); nested || w.users[user] == nil {
		return false
	}
	p, err := w.inputPeer(viewer, in)
	if err != nil {
		return false
	}
	key := dialogKey{owner: viewer, peer: p}
	if p.kind == peerChannel {
		key.owner = 0
	}
	for _, m := range w.history[key] {
		if m.ID == msgID {
			from, ok := m.FromID.(*tg.PeerUser)
			return ok && from.UserID == user
		}
	}
	return false
}
