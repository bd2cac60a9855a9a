package tgsim

import (
	"strings"

	"github.com/gotd/td/bin"
	"github.com/gotd/td/tg"
	"github.com/gotd/td/tgerr"
)

var messagesMethods = []method{
	handle(atHome, perSend, (*world).sendMessage),
	handle(atHome, perMethod, (*world).getHistory),
	handle(atHome, perMethod, (*world).checkChatInvite),
}

func (w *world) sendMessage(r *request, req *tg.MessagesSendMessageRequest) (bin.Encoder, error) {
	s, acct := w.srv, r.acct
	a := w.acct(acct)
	p, err := w.inputPeer(acct, req.Peer)
	if err != nil {
		return nil, err
	}
	if prev, ok := a.sent[sendKey{p, req.RandomID}]; ok && req.RandomID != 0 {
		// Telegram: a repeat of a random_id to the same peer is the same
		// message (see randomid.go).
		s.count.duplicates.Add(1)
		return prev, nil
	}
	switch {
	case strings.TrimSpace(req.Message) == "":
		return nil, tgerr.New(400, "MESSAGE_EMPTY")
	case len([]rune(req.Message)) > maxMessageLen:
		return nil, tgerr.New(400, "MESSAGE_TOO_LONG")
	}
	if p.kind == peerUser && !w.srv.flood.newChat(r.now, acct, w.users[acct].bot, p.id) {
		s.count.peerFloods.Add(1)
		return nil, tgerr.New(400, "PEER_FLOOD")
	}
	if req.AllowPaidFloodskip {
		// Paid broadcast: the paid budget only.
		if err := w.spend(r, w.srv.flood.paidChecks(acct)); err != nil {
			return nil, err
		}
		s.count.paidSends.Add(1)
	} else if err := w.takeSend(r, p); err != nil {
		return nil, err
	}

	date := int(r.now.Unix())
	msg := &tg.Message{Out: true, PeerID: p.tg(), Date: date, Message: req.Message}
	key := dialogKey{owner: acct, peer: p}
	var res bin.Encoder
	switch p.kind {
	case peerChannel:
		c := w.chats[p.id]
		key.owner = 0
		msg.ID = c.nextMsg
		c.nextMsg++
		c.pts++
		if c.kind == megagroup {
			msg.FromID = &tg.PeerUser{UserID: acct}
		}
		users, chats := w.peerEntities(acct, p)
		res = &tg.Updates{
			Updates: []tg.UpdateClass{
				&tg.UpdateMessageID{ID: msg.ID, RandomID: req.RandomID},
				&tg.UpdateNewChannelMessage{Message: msg, Pts: c.pts, PtsCount: 1},
			},
			Users: users, Chats: chats, Date: date,
		}
	default:
		msg.ID = a.nextMsg
		a.nextMsg++
		a.pts++
		msg.FromID = &tg.PeerUser{UserID: acct}
		a.logEvent(msg)
		if p.kind == peerUser {
			res = &tg.UpdateShortSentMessage{Out: true, ID: msg.ID, Pts: a.pts, PtsCount: 1, Date: date}
			break
		}
		users, chats := w.peerEntities(acct, p)
		res = &tg.Updates{
			Updates: []tg.UpdateClass{
				&tg.UpdateMessageID{ID: msg.ID, RandomID: req.RandomID},
				&tg.UpdateNewMessage{Message: msg, Pts: a.pts, PtsCount: 1},
			},
			Users: users, Chats: chats, Date: date,
		}
	}
	var enc bin.Buffer
	if err := res.Encode(&enc); err != nil {
		return nil, err
	}
	s.count.stored(acct)
	h := append(w.history[key], msg)
	if len(h) > historyCap {
		h = h[len(h)-historyCap:]
	} else {
		s.count.messagesStored.Add(1)
	}
	w.history[key] = h
	if req.RandomID != 0 {
		a.sent[sendKey{p, req.RandomID}] = encoded(enc.Buf)
	}
	return encoded(enc.Buf), nil
}

func (w *world) getHistory(r *request, req *tg.MessagesGetHistoryRequest) (bin.Encoder, error) {
	acct := r.acct
	p, err := w.inputPeer(acct, req.Peer)
	if err != nil {
		return nil, err
	}
	key := dialogKey{owner: acct, peer: p}
	if p.kind == peerChannel {
		key.owner = 0
	}
	h := w.history[key]
	limit := req.Limit
	if limit <= 0 || limit > 100 {
		limit = 100
	}
	var msgs []tg.MessageClass
	skip := max(req.AddOffset, 0)
	for i := len(h) - 1; i >= 0 && len(msgs) < limit; i-- {
		m := h[i]
		if (req.OffsetID > 0 && m.ID >= req.OffsetID) || (req.MaxID > 0 && m.ID >= req.MaxID) || m.ID <= req.MinID {
			continue
		}
		if req.OffsetDate > 0 && m.Date >= req.OffsetDate {
			continue
		}
		if skip > 0 {
			skip--
			continue
		}
		msgs = append(msgs, m)
	}
	users, chats := w.peerEntities(acct, p)
	if p.kind == peerChannel {
		// Senders in a supergroup are shown as min users (api/min).
		seen := map[int64]bool{acct: true}
		for _, m := range msgs {
			if from, ok := m.(*tg.Message).FromID.(*tg.PeerUser); ok && !seen[from.UserID] && w.users[from.UserID] != nil {
				seen[from.UserID] = true
				users = append(users, w.tgMinUser(acct, w.users[from.UserID]))
			}
		}
		return &tg.MessagesChannelMessages{Pts: w.chats[p.id].pts, Count: len(h), Messages: msgs, Users: users, Chats: chats}, nil
	}
	return &tg.MessagesMessagesSlice{Count: len(h), Messages: msgs, Users: users, Chats: chats}, nil
}

// checkChatInvite answers an invite link's hash (Server.Chats lists each
// chat's): every account is a member of every chat in this world, so it is
// always chatInviteAlready with the chat.
func (w *world) checkChatInvite(r *request, req *tg.MessagesCheckChatInviteRequest) (bin.Encoder, error) {
	for _, c := range w.chats {
		if w.srv.inviteHash(c.id) == req.Hash {
			return &tg.ChatInviteAlready{Chat: w.tgChat(r.acct, c)}, nil
		}
	}
	return nil, tgerr.New(400, "INVITE_HASH_INVALID")
}
