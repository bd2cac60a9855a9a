package tgsim

import (
	"strings"

	"github.com/gotd/td/bin"
	"github.com/gotd/td/tg"
	"github.com/gotd/td/tgerr"
)

var contactsMethods = []method{
	handle(atHome, perMethod, (*world).resolveUsername),
	handle(atHome, perMethod, (*world).resolvePhone),
}

// validUsername applies Telegram's username rules: 5–32 characters of
// a–z, 0–9 and underscores, starting with a letter, not ending with an
// underscore.
func validUsername(s string) bool {
	if len(s) < 5 || len(s) > 32 || s[len(s)-1] == '_' {
		return false
	}
	for i, c := range []byte(s) {
		letter := (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
		if i == 0 && !letter {
			return false
		}
		if !letter && !(c >= '0' && c <= '9') && c != '_' {
			return false
		}
	}
	return true
}

func (w *world) resolveUsername(r *request, req *tg.ContactsResolveUsernameRequest) (bin.Encoder, error) {
	if !validUsername(req.Username) {
		return nil, tgerr.New(400, "USERNAME_INVALID")
	}
	p, ok := w.usernames[strings.ToLower(req.Username)]
	if !ok {
		return nil, tgerr.New(400, "USERNAME_NOT_OCCUPIED")
	}
	users, chats := w.peerEntities(r.acct, p)
	return &tg.ContactsResolvedPeer{Peer: p.tg(), Users: users, Chats: chats}, nil
}

func (w *world) resolvePhone(r *request, req *tg.ContactsResolvePhoneRequest) (bin.Encoder, error) {
	phone := normalizePhone(req.Phone)
	if phone == "" {
		return nil, tgerr.New(400, "PHONE_NOT_OCCUPIED")
	}
	u := w.phones[phone]
	if u == nil {
		return nil, tgerr.New(400, "PHONE_NOT_OCCUPIED")
	}
	p := peerRef{peerUser, u.id}
	users, chats := w.peerEntities(r.acct, p)
	users[len(users)-1].(*tg.User).Phone = phone // the caller knows it
	return &tg.ContactsResolvedPeer{Peer: p.tg(), Users: users, Chats: chats}, nil
}
