package tgsim

import (
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/gotd/td/tg"
)

// user is an account of the world.
type user struct {
	id        int64
	username  string
	phone     string // digits only
	firstName string
	lastName  string
	bot       bool
	dc        int    // home DC
	token     string // bots: the token auth.importBotAuthorization accepts
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
	// migratedTo is, for a basic group upgraded to a supergroup
	// (Server.UpgradeGroup), the supergroup's id.
	migratedTo int64
}

// dialogKey names a message history: private chats and basic groups are per
// account (Telegram numbers their messages per account); channels are
// shared (owner 0).
type dialogKey struct {
	owner int64
	peer  peerRef
}

// account is the per-account state: message ids, pts, sent messages by
// peer and random_id.
type account struct {
	nextMsg int
	pts     int
	events  []ptsEvent           // the latest pts events, for updates.getDifference (updates.go)
	sent    map[sendKey]encoded  // result of each messages.sendMessage
	running map[sendKey]struct{} // sends read and not run yet (claimRandomID)
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
	srv    *Server
	bot    *user            // the first bot, bots[0]
	bots   []*user          // WorldConfig.Bots, in id order
	tokens map[string]*user // bot token → bot

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
	pw         twoStep // methods_password.go
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
	dcs := s.cfg.DCs
	w.addBots(cfg.Bots, cfg.BotDC, dcs)
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

// addBots creates n bots: ids botID, botID+1, …; the first is @tgsim_bot
// on home, the others @tgsim_bot2 … with home DCs taken in turn from dcs,
// starting after home (bot i on the i-th DC after home), so a fleet is
// spread evenly and each bot's DC is fixed by its index.
func (w *world) addBots(n, home int, dcs []int) {
	start := 0
	for i, dc := range dcs {
		if dc == home {
			start = i
		}
	}
	w.bots = make([]*user, 0, n)
	w.tokens = make(map[string]*user, n)
	for i := 0; i < n; i++ {
		u := &user{id: botID + int64(i), username: "tgsim_bot", firstName: "tgsim bot", bot: true, dc: dcs[(start+i)%len(dcs)]}
		if i > 0 {
			u.username = fmt.Sprintf("tgsim_bot%d", i+1)
			u.firstName = fmt.Sprintf("tgsim bot %d", i+1)
		}
		u.token = w.srv.botToken(i, u.id)
		w.bots = append(w.bots, u)
		w.tokens[u.token] = u
		w.addUser(u)
	}
	w.bot = w.bots[0]
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

// acct returns the per-account state. w.mu is held.
func (w *world) acct(id int64) *account {
	a := w.accounts[id]
	if a == nil {
		a = &account{nextMsg: 1, pts: 1, sent: map[sendKey]encoded{}, running: map[sendKey]struct{}{}}
		w.accounts[id] = a
	}
	return a
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
