package tgsim

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/gotd/td/tg"
	"github.com/gotd/td/tgerr"
)

// user is an account of the world.
type user struct {
	id        int64
	username  string
	phone     string // digits only
	firstName string
	lastName  string
	bot       bool
	dc        int // home DC
}

type chatKind uint8

const (
	basicGroup chatKind = iota
	megagroup
	broadcast
)

// chat is a basic group, a supergroup or a broadcast channel.
type chat struct {
	id       int64
	kind     chatKind
	title    string
	username string
	date     int
	pts      int // channels: per-channel pts
	nextMsg  int // channels: per-channel message ids
}

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

// dialogKey names a message history: private chats and basic groups are per
// account (Telegram numbers their messages per account); channels are
// shared (owner 0).
type dialogKey struct {
	owner int64
	peer  peerRef
}

// account is the per-account state: message ids, pts, sent messages by
// random_id.
type account struct {
	nextMsg int
	pts     int
	sent    map[int64]encoded // result of each messages.sendMessage by random_id
}

type loginCode struct {
	code    string
	hash    string
	expires time.Time
}

type exported struct {
	user  int64
	dc    int
	bytes []byte
}

// world is the simulated Telegram: accounts, chats, histories, logins.
type world struct {
	srv *Server
	bot *user

	mu         sync.Mutex
	users      map[int64]*user
	chats      map[int64]*chat
	usernames  map[string]peerRef // lowercased
	phones     map[string]*user
	accounts   map[int64]*account
	history    map[dialogKey][]*tg.Message
	codes      map[string]loginCode // by phone
	exports    map[int64]exported
	nextExport int64
	created    int
}

// Ids of the world. Channel ids are what the Bot API shows as -100<id>.
const (
	botID         = 7000000001
	firstUserID   = 1000001
	firstChatID   = 5001
	firstChannel  = 1000000001
	maxMessageLen = 4096
	historyCap    = 10000 // messages kept per dialog
)

func newWorld(s *Server) *world {
	cfg := s.cfg.World
	w := &world{
		srv:       s,
		users:     map[int64]*user{},
		chats:     map[int64]*chat{},
		usernames: map[string]peerRef{},
		phones:    map[string]*user{},
		accounts:  map[int64]*account{},
		history:   map[dialogKey][]*tg.Message{},
		codes:     map[string]loginCode{},
		exports:   map[int64]exported{},
		created:   int(s.cfg.Now().Add(-24 * time.Hour).Unix()),
	}
	w.bot = &user{id: botID, username: "tgsim_bot", firstName: "tgsim bot", bot: true, dc: cfg.BotDC}
	w.addUser(w.bot)
	dcs := s.cfg.DCs
	for i := 1; i <= cfg.Users; i++ {
		dc := dcs[i%len(dcs)]
		w.addUser(&user{
			id:        firstUserID + int64(i) - 1,
			username:  fmt.Sprintf("user%d", i),
			phone:     fmt.Sprintf("99966%d%04d", dc, i),
			firstName: "User",
			lastName:  fmt.Sprint(i),
			dc:        dc,
		})
	}
	for i := 1; i <= cfg.Groups; i++ {
		w.addChat(&chat{id: firstChatID + int64(i) - 1, kind: basicGroup, title: fmt.Sprintf("Group %d", i)})
	}
	next := int64(firstChannel)
	for i := 1; i <= cfg.Megagroups; i++ {
		w.addChat(&chat{id: next, kind: megagroup, title: fmt.Sprintf("Supergroup %d", i), username: fmt.Sprintf("supergroup%d", i)})
		next++
	}
	for i := 1; i <= cfg.Channels; i++ {
		w.addChat(&chat{id: next, kind: broadcast, title: fmt.Sprintf("Channel %d", i), username: fmt.Sprintf("channel%d", i)})
		next++
	}
	return w
}

func (w *world) addUser(u *user) {
	w.users[u.id] = u
	if u.username != "" {
		w.usernames[strings.ToLower(u.username)] = peerRef{peerUser, u.id}
	}
	if u.phone != "" {
		w.phones[u.phone] = u
	}
}

func (w *world) addChat(c *chat) {
	c.date = w.created
	c.nextMsg = 1
	w.chats[c.id] = c
	if c.username != "" {
		w.usernames[strings.ToLower(c.username)] = peerRef{peerChannel, c.id}
	}
}

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

// BotToken is the token auth.importBotAuthorization accepts for the bot.
func (s *Server) BotToken() string {
	h := sha256.Sum256(append(s.secret[:], "bot token"...))
	return fmt.Sprintf("%d:AA%s", botID, base64.RawURLEncoding.EncodeToString(h[:24]))
}

// Bot describes the world's bot account.
func (s *Server) Bot() Account { return s.world.account(s.world.bot) }

// Account describes a world account for tests and the CLI.
type Account struct {
	ID       int64
	Username string
	Phone    string // "+" and digits
	DC       int    // home DC
	Bot      bool
}

func (w *world) account(u *user) Account {
	a := Account{ID: u.id, Username: u.username, DC: u.dc, Bot: u.bot}
	if u.phone != "" {
		a.Phone = "+" + u.phone
	}
	return a
}

// Users lists the world's ordinary users in id order.
func (s *Server) Users() []Account {
	w := s.world
	out := make([]Account, 0, s.cfg.World.Users)
	for i := 0; i < s.cfg.World.Users; i++ {
		out = append(out, w.account(w.users[firstUserID+int64(i)]))
	}
	return out
}

// Chat describes a group or channel of the world.
type Chat struct {
	ID       int64 // the MTProto id (Bot API: -ID for basic groups, -100ID for channels)
	Title    string
	Username string
	Kind     string // "group", "supergroup" or "channel"
}

// Chats lists the world's groups, supergroups and channels.
func (s *Server) Chats() []Chat {
	w := s.world
	var out []Chat
	for id := int64(firstChatID); ; id++ {
		c := w.chats[id]
		if c == nil {
			break
		}
		out = append(out, Chat{ID: c.id, Title: c.title, Kind: "group"})
	}
	for id := int64(firstChannel); ; id++ {
		c := w.chats[id]
		if c == nil {
			break
		}
		k := "supergroup"
		if c.kind == broadcast {
			k = "channel"
		}
		out = append(out, Chat{ID: c.id, Title: c.title, Username: c.username, Kind: k})
	}
	return out
}

// LoginCode is the code auth.sendCode last issued for phone ("+999…" or
// digits), or "" if none is pending.
func (s *Server) LoginCode(phone string) string {
	w := s.world
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.codes[normalizePhone(phone)].code
}

func normalizePhone(p string) string {
	var b strings.Builder
	for _, r := range p {
		if r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// acct returns the per-account state. w.mu is held.
func (w *world) acct(id int64) *account {
	a := w.accounts[id]
	if a == nil {
		a = &account{nextMsg: 1, pts: 1, sent: map[int64]encoded{}}
		w.accounts[id] = a
	}
	return a
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

func (w *world) tgChat(viewer int64, c *chat) tg.ChatClass {
	if c.kind == basicGroup {
		return &tg.Chat{ID: c.id, Title: c.title, Photo: &tg.ChatPhotoEmpty{}, ParticipantsCount: 2, Date: c.date, Version: 1}
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
	default:
		return peerRef{}, errPeerInvalid
	}
}

// hashOK checks an access hash viewer gives for id. In users.getUsers and
// channels.getChannels a bot may pass 0 (Telegram lets bots look up
// entities they have met without a hash; Telethon relies on it).
func (w *world) hashOK(viewer, id, hash int64, zeroOK bool) bool {
	if hash == 0 && zeroOK {
		if u := w.users[viewer]; u != nil && u.bot {
			return true
		}
	}
	return hash == w.srv.accessHash(viewer, id)
}

// inputUser resolves an InputUser for viewer. w.mu is held.
func (w *world) inputUser(viewer int64, p tg.InputUserClass, zeroOK bool) (*user, error) {
	switch p := p.(type) {
	case *tg.InputUserSelf:
		return w.users[viewer], nil
	case *tg.InputUser:
		if u := w.users[p.UserID]; u != nil && w.hashOK(viewer, u.id, p.AccessHash, zeroOK) {
			return u, nil
		}
	}
	return nil, errUserInvalid
}

// inputChannel resolves an InputChannel for viewer. w.mu is held.
func (w *world) inputChannel(viewer int64, p tg.InputChannelClass, zeroOK bool) (*chat, error) {
	if p, ok := p.(*tg.InputChannel); ok {
		if c := w.chats[p.ChannelID]; c != nil && c.kind != basicGroup && w.hashOK(viewer, c.id, p.AccessHash, zeroOK) {
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
