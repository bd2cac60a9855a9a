package tgsim

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"

	"github.com/gotd/td/tg"
)

// BotToken is the token auth.importBotAuthorization accepts for the first
// bot (Bot).
func (s *Server) BotToken() string { return s.world.bot.token }

// Bot describes the world's first bot account, the one a new auth key acts
// as unless Config.RequireLogin is set.
func (s *Server) Bot() Account { return s.world.account(s.world.bot) }

// Bots lists the world's bots (WorldConfig.Bots) in id order, the first
// being Bot; each has its own token, home DC and flood budgets. The slice is
// the caller's.
func (s *Server) Bots() []Account {
	w := s.world
	out := make([]Account, len(w.bots))
	for i, u := range w.bots {
		out[i] = w.account(u)
	}
	return out
}

// botToken derives the token of the i-th bot (id id) from the server's
// secret, in the Bot API's form "<id>:<secret part>". The first bot's
// derivation is the one tgsim has always used.
func (s *Server) botToken(i int, id int64) string {
	in := append(s.secret[:], "bot token"...)
	if i > 0 {
		in = append(in, itoa(i)...)
	}
	h := sha256.Sum256(in)
	return fmt.Sprintf("%d:AA%s", id, base64.RawURLEncoding.EncodeToString(h[:24]))
}

// Account describes a world account for tests and the CLI.
type Account struct {
	ID       int64
	Username string
	Phone    string // "+" and digits
	DC       int    // home DC
	Bot      bool
	Token    string // bots: the token auth.importBotAuthorization accepts
}

func (w *world) account(u *user) Account {
	a := Account{ID: u.id, Username: u.username, DC: u.dc, Bot: u.bot, Token: u.token}
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
	Invite   string // its invite link's hash (t.me/+Invite); every account is a member
}

// Chats lists the world's groups, supergroups and channels (those made by
// UpgradeGroup after the channels).
func (s *Server) Chats() []Chat {
	w := s.world
	w.mu.Lock() // UpgradeGroup adds chats at run time
	defer w.mu.Unlock()
	var out []Chat
	for id := int64(firstChatID); ; id++ {
		c := w.chats[id]
		if c == nil {
			break
		}
		out = append(out, Chat{ID: c.id, Title: c.title, Kind: "group", Invite: s.inviteHash(c.id)})
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
		out = append(out, Chat{ID: c.id, Title: c.title, Username: c.username, Kind: k, Invite: s.inviteHash(c.id)})
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

// HistoryLen is the number of messages stored in account's dialog with
// peer (a channel's history is shared by all accounts), so tests can check
// that a repeated send stored nothing.
func (s *Server) HistoryLen(account int64, peer tg.PeerClass) int {
	key, ok := historyKey(account, peer)
	if !ok {
		return 0
	}
	w := s.world
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.history[key])
}

// HistoryTexts returns the texts of the messages stored in account's dialog
// with peer in the order the server executed the sends, oldest first (at
// most the last 10,000), so tests can check which calls ran and in what
// order. The slice is the caller's.
func (s *Server) HistoryTexts(account int64, peer tg.PeerClass) []string {
	key, ok := historyKey(account, peer)
	if !ok {
		return nil
	}
	w := s.world
	w.mu.Lock()
	defer w.mu.Unlock()
	h := w.history[key]
	out := make([]string, len(h))
	for i, m := range h {
		out[i] = m.Message
	}
	return out
}

// historyKey names account's dialog with peer; a channel's history is
// shared by all accounts.
func historyKey(account int64, peer tg.PeerClass) (dialogKey, bool) {
	key := dialogKey{owner: account}
	switch p := peer.(type) {
	case *tg.PeerUser:
		key.peer = peerRef{peerUser, p.UserID}
	case *tg.PeerChat:
		key.peer = peerRef{peerChat, p.ChatID}
	case *tg.PeerChannel:
		key = dialogKey{peer: peerRef{peerChannel, p.ChannelID}}
	default:
		return dialogKey{}, false
	}
	return key, true
}

// PostAs stores a message from user in supergroup chat's history, as if
// that user had sent it, and returns its id; tests use it to put other
// people's messages (and so min users, api/min) in a history.
func (s *Server) PostAs(chat, user int64, text string) (int, error) {
	w := s.world
	w.mu.Lock()
	defer w.mu.Unlock()
	c, u := w.chats[chat], w.users[user]
	if c == nil || c.kind != megagroup || u == nil {
		return 0, fmt.Errorf("tgsim: PostAs: no supergroup %d or user %d", chat, user)
	}
	msg := &tg.Message{ID: c.nextMsg, FromID: &tg.PeerUser{UserID: user}, PeerID: &tg.PeerChannel{ChannelID: chat}, Date: int(s.now().Unix()), Message: text}
	c.nextMsg++
	c.pts++
	key := dialogKey{peer: peerRef{peerChannel, chat}}
	w.history[key] = append(w.history[key], msg)
	return msg.ID, nil
}

// UpgradeGroup upgrades basic group group to a new supergroup, as Telegram's
// messages.migrateChat does, and returns the supergroup's id: the group is
// then shown deactivated with migrated_to naming it.
func (s *Server) UpgradeGroup(group int64) (int64, error) {
	w := s.world
	w.mu.Lock()
	defer w.mu.Unlock()
	c := w.chats[group]
	if c == nil || c.kind != basicGroup || c.migratedTo != 0 {
		return 0, fmt.Errorf("tgsim: UpgradeGroup: %d is not a basic group that can be upgraded", group)
	}
	id := int64(firstChannel)
	for w.chats[id] != nil {
		id++
	}
	w.addChat(&chat{id: id, kind: megagroup, title: c.title})
	c.migratedTo = id
	return id, nil
}

// RevokeAuthorizations logs account id out of every auth key on every DC,
// as terminating its sessions from another device does: the keys stay
// valid, and their calls that need an account answer 401
// AUTH_KEY_UNREGISTERED until a new login. It returns how many keys were
// logged out.
func (s *Server) RevokeAuthorizations(id int64) int {
	n := 0
	for _, d := range s.dcs {
		d.mu.RLock()
		for _, k := range d.keys {
			k.mu.Lock()
			if k.user == id && id != 0 {
				k.user = 0
				n++
			}
			k.mu.Unlock()
		}
		d.mu.RUnlock()
	}
	return n
}

// Deactivate makes every call of account id that needs an account answer
// 401 USER_DEACTIVATED_BAN when ban is set (Telegram banned it), else 401
// USER_DEACTIVATED (deleted), from every key logged in as it; other
// accounts are untouched.
func (s *Server) Deactivate(id int64, ban bool) {
	msg := "USER_DEACTIVATED"
	if ban {
		msg = "USER_DEACTIVATED_BAN"
	}
	s.deactivated.Store(id, msg)
}

// Reactivate undoes Deactivate.
func (s *Server) Reactivate(id int64) { s.deactivated.Delete(id) }
