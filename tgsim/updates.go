package tgsim

import (
	"fmt"
	"math/rand/v2"

	"github.com/gotd/td/bin"
	"github.com/gotd/td/tg"
)

// The common update sequence of an account (Telegram's "Working with
// updates": pts counts the account's message events; a client that sees
// pts jump by more than an update's pts_count has missed some and asks
// updates.getDifference for them). tgsim keeps the latest maxPtsEvents
// events per account, pushes the ones other users cause (SendAs) to the
// account's connected sessions, and answers getState and getDifference
// (methods_updates.go) from them. Channels have a pts of their own and no
// getChannelDifference here.

const (
	// maxPtsEvents is how many pts events an account keeps; a client
	// further behind gets updates.differenceTooLong.
	maxPtsEvents = 1000
	// diffSlice is the most messages one getDifference returns (Telegram
	// caps it too, and answers updates.differenceSlice with the rest to
	// fetch); a smaller pts_total_limit wins.
	diffSlice = 100
)

// ptsEvent is one event of an account's common sequence: a new message
// (sent or received) that took pts.
type ptsEvent struct {
	pts int
	msg *tg.Message
}

// logEvent records msg as the event of the account's current pts.
func (a *account) logEvent(msg *tg.Message) {
	a.events = append(a.events, ptsEvent{pts: a.pts, msg: msg})
	if len(a.events) > maxPtsEvents {
		a.events = a.events[len(a.events)-maxPtsEvents:]
	}
}

// SendAs delivers a private message from user from to account to, as if
// from had sent it from another client, and returns its id in to's
// history: to's pts advances by one, and the update (updates with
// updateNewMessage and the sender) is pushed to every session of to on its
// home DC that has a connection, unless Faults.DropUpdates drops it.
func (s *Server) SendAs(from, to int64, text string) (int, error) {
	s.pushMu.Lock()
	defer s.pushMu.Unlock()
	w := s.world
	w.mu.Lock()
	fu, tu := w.users[from], w.users[to]
	if fu == nil || tu == nil || from == to {
		w.mu.Unlock()
		return 0, fmt.Errorf("tgsim: SendAs: no users %d and %d", from, to)
	}
	a := w.acct(to)
	date := int(s.now().Unix())
	peer := &tg.PeerUser{UserID: from}
	msg := &tg.Message{ID: a.nextMsg, FromID: peer, PeerID: peer, Date: date, Message: text}
	a.nextMsg++
	a.pts++
	a.logEvent(msg)
	key := dialogKey{owner: to, peer: peerRef{peerUser, from}}
	w.history[key] = append(w.history[key], msg)
	s.count.messagesStored.Add(1)
	u := &tg.Updates{
		Updates: []tg.UpdateClass{&tg.UpdateNewMessage{Message: msg, Pts: a.pts, PtsCount: 1}},
		Users:   []tg.UserClass{w.tgUser(to, fu)},
		Date:    date,
	}
	var b bin.Buffer
	err := u.Encode(&b)
	w.mu.Unlock()
	if err != nil {
		return 0, err
	}
	s.push(to, tu.dc, b.Buf)
	return msg.ID, nil
}

// push queues body, an Updates object, to every connected session of the
// keys logged in as account on its home DC, where Telegram delivers an
// account's updates (a client's other DCs carry files and exports, and
// would otherwise get each update twice). s.pushMu is held, so pushes
// keep pts order.
func (s *Server) push(account int64, home int, body []byte) {
	if p := s.faults.Load().DropUpdates; p > 0 && rand.Float64() < p {
		s.count.updatesDropped.Add(1)
		return
	}
	var sessions []*session
	for _, d := range s.dcs {
		if d.id != home {
			continue
		}
		d.mu.RLock()
		for _, k := range d.keys {
			if k.account() != account {
				continue
			}
			k.mu.Lock()
			for _, sess := range k.sessions {
				sessions = append(sessions, sess)
			}
			k.mu.Unlock()
		}
		d.mu.RUnlock()
	}
	for _, sess := range sessions {
		sess.mu.Lock()
		if sess.conn != nil {
			// MTProto: an update is a content message the server sends on
			// its own (msg_id ≡ 3 mod 4).
			sess.queueRaw(outMsg{body: body, class: pushMsg})
			s.count.updatesPushed.Add(1)
		}
		sess.mu.Unlock()
	}
}

// getDifference answers updates.getDifference for the account's common
// sequence: differenceEmpty when the client is up to date,
// differenceTooLong when it is further behind than the events kept, else
// the messages since its pts (differenceSlice when more remain).
func (w *world) getDifference(r *request, req *tg.UpdatesGetDifferenceRequest) (bin.Encoder, error) {
	a := w.acct(r.acct)
	date := int(r.now.Unix())
	if req.Pts >= a.pts {
		return &tg.UpdatesDifferenceEmpty{Date: date}, nil
	}
	if len(a.events) == 0 || a.events[0].pts > req.Pts+1 {
		return &tg.UpdatesDifferenceTooLong{Pts: a.pts}, nil
	}
	limit := diffSlice
	if l, ok := req.GetPtsTotalLimit(); ok && l > 0 && l < limit {
		limit = l
	}
	var msgs []tg.MessageClass
	users := []tg.UserClass{w.tgUser(r.acct, w.users[r.acct])}
	seen := map[int64]bool{r.acct: true}
	last := req.Pts
	for _, e := range a.events {
		if e.pts <= req.Pts {
			continue
		}
		if len(msgs) == limit {
			break
		}
		msgs = append(msgs, e.msg)
		last = e.pts
		for _, p := range []tg.PeerClass{e.msg.FromID, e.msg.PeerID} {
			if pu, ok := p.(*tg.PeerUser); ok && !seen[pu.UserID] && w.users[pu.UserID] != nil {
				seen[pu.UserID] = true
				users = append(users, w.tgUser(r.acct, w.users[pu.UserID]))
			}
		}
	}
	state := tg.UpdatesState{Pts: last, Date: date}
	if last < a.pts {
		return &tg.UpdatesDifferenceSlice{NewMessages: msgs, Users: users, IntermediateState: state}, nil
	}
	return &tg.UpdatesDifference{NewMessages: msgs, Users: users, State: state}, nil
}
