package tgsim

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"math/big"
	"strings"
	"time"

	"github.com/gotd/td/bin"
	"github.com/gotd/td/tg"
	"github.com/gotd/td/tgerr"
)

// request is one call as the world sees it.
type request struct {
	srv    *Server
	dc     *dcServer
	key    *authKey
	typeID uint32
	method string
	query  []byte
	now    time.Time
}

func (r *request) decode(v bin.Decoder) error {
	if err := v.Decode(&bin.Buffer{Buf: r.query}); err != nil {
		r.srv.logf("tgsim: DC %d: %s: %v", r.dc.id, r.method, err)
		return tgerr.New(400, "INPUT_REQUEST_INVALID")
	}
	return nil
}

// simulated lists the methods the world answers; anything else in the
// schema gets METHOD_NOT_SIMULATED_<name>.
var simulated = map[uint32]bool{
	tg.HelpGetConfigRequestTypeID:              true,
	tg.HelpGetNearestDCRequestTypeID:           true,
	tg.AuthImportBotAuthorizationRequestTypeID: true,
	tg.AuthSendCodeRequestTypeID:               true,
	tg.AuthSignInRequestTypeID:                 true,
	tg.AuthExportAuthorizationRequestTypeID:    true,
	tg.AuthImportAuthorizationRequestTypeID:    true,
	tg.UsersGetUsersRequestTypeID:              true,
	tg.UsersGetFullUserRequestTypeID:           true,
	tg.ContactsResolveUsernameRequestTypeID:    true,
	tg.ContactsResolvePhoneRequestTypeID:       true,
	tg.ChannelsGetChannelsRequestTypeID:        true,
	tg.MessagesSendMessageRequestTypeID:        true,
	tg.MessagesGetHistoryRequestTypeID:         true,
	tg.UpdatesGetStateRequestTypeID:            true,
}

// Methods lists the names of the methods tgsim answers.
func Methods() []string {
	return []string{
		"auth.exportAuthorization", "auth.importAuthorization", "auth.importBotAuthorization",
		"auth.sendCode", "auth.signIn", "channels.getChannels", "contacts.resolvePhone", "contacts.resolveUsername",
		"help.getConfig", "help.getNearestDc", "messages.getHistory", "messages.sendMessage",
		"updates.getState", "users.getFullUser", "users.getUsers",
	}
}

// encoded is a result already in TL form.
type encoded []byte

func (e encoded) Encode(b *bin.Buffer) error { b.Put(e); return nil }

// invoke answers one call with its encoded result; the error is a
// *tgerr.Error. Results share objects with the world (histories, repeated
// sends), and gotd's Encode writes flag fields, so results are encoded
// under the world's lock.
func (w *world) invoke(r *request) (bin.Encoder, error) {
	res, err := w.answer(r)
	if err != nil {
		return nil, err
	}
	if e, ok := res.(encoded); ok {
		return e, nil
	}
	var b bin.Buffer
	w.mu.Lock()
	err = res.Encode(&b)
	w.mu.Unlock()
	if err != nil {
		return nil, err
	}
	return encoded(b.Buf), nil
}

func (w *world) answer(r *request) (bin.Encoder, error) {
	s := w.srv
	switch {
	case r.method == "":
		return nil, tgerr.New(400, fmt.Sprintf("INPUT_METHOD_INVALID_%d", r.typeID))
	case !simulated[r.typeID]:
		s.count.call(r.method)
		return nil, &tgerr.Error{Code: 400, Message: "METHOD_NOT_SIMULATED_" + r.method, Type: "METHOD_NOT_SIMULATED"}
	}
	s.count.call(r.method)

	// help.* and auth.* work without an account, on any DC.
	switch r.typeID {
	case tg.HelpGetConfigRequestTypeID:
		return w.config(r), nil
	case tg.HelpGetNearestDCRequestTypeID:
		return &tg.NearestDC{Country: "ZZ", ThisDC: r.dc.id, NearestDC: r.dc.id}, nil
	case tg.AuthImportBotAuthorizationRequestTypeID:
		return w.importBot(r)
	case tg.AuthSendCodeRequestTypeID:
		return w.sendCode(r)
	case tg.AuthSignInRequestTypeID:
		return w.signIn(r)
	case tg.AuthImportAuthorizationRequestTypeID:
		return w.importAuth(r)
	}

	// Everything else acts for the logged-in account on its home DC.
	acct := r.key.account()
	if acct == 0 {
		return nil, tgerr.New(401, "AUTH_KEY_UNREGISTERED")
	}
	w.mu.Lock()
	home := w.users[acct].dc
	w.mu.Unlock()
	if r.typeID == tg.AuthExportAuthorizationRequestTypeID {
		return w.exportAuth(r, acct)
	}
	if home != r.dc.id {
		s.count.migrations.Add(1)
		return nil, tgerr.New(303, fmt.Sprintf("USER_MIGRATE_%d", home))
	}
	switch r.typeID {
	case tg.MessagesSendMessageRequestTypeID:
		return w.sendMessage(r, acct)
	}
	if wait, ignored := s.flood.take(r.now, s.flood.methodChecks(acct, r.method)); wait > 0 {
		return nil, w.floodWait(r.method, wait, ignored)
	}
	switch r.typeID {
	case tg.UsersGetUsersRequestTypeID:
		return w.getUsers(r, acct)
	case tg.UsersGetFullUserRequestTypeID:
		return w.getFullUser(r, acct)
	case tg.ContactsResolveUsernameRequestTypeID:
		return w.resolveUsername(r, acct)
	case tg.ContactsResolvePhoneRequestTypeID:
		return w.resolvePhone(r, acct)
	case tg.ChannelsGetChannelsRequestTypeID:
		return w.getChannels(r, acct)
	case tg.MessagesGetHistoryRequestTypeID:
		return w.getHistory(r, acct)
	case tg.UpdatesGetStateRequestTypeID:
		w.mu.Lock()
		defer w.mu.Unlock()
		return &tg.UpdatesState{Pts: w.acct(acct).pts, Date: int(r.now.Unix()), Seq: 0}, nil
	}
	return nil, tgerr.New(500, "INTERNAL")
}

func (w *world) floodWait(method string, wait int, ignored bool) error {
	w.srv.count.flood(method, wait)
	if ignored {
		w.srv.count.ignoredWaits.Add(1)
	}
	return tgerr.New(420, fmt.Sprintf("FLOOD_WAIT_%d", wait))
}

func (w *world) config(r *request) *tg.Config {
	s := w.srv
	cfg := &tg.Config{
		Date:                    int(r.now.Unix()),
		Expires:                 int(r.now.Add(time.Hour).Unix()),
		ThisDC:                  r.dc.id,
		DCTxtDomainName:         "tgsim.invalid",
		ChatSizeMax:             200,
		MegagroupSizeMax:        200000,
		ForwardedCountMax:       100,
		OnlineUpdatePeriodMs:    210000,
		OfflineBlurTimeoutMs:    5000,
		OfflineIdleTimeoutMs:    30000,
		OnlineCloudTimeoutMs:    300000,
		NotifyCloudDelayMs:      30000,
		NotifyDefaultDelayMs:    1500,
		PushChatPeriodMs:        60000,
		PushChatLimit:           2,
		EditTimeLimit:           172800,
		RevokeTimeLimit:         2147483647,
		RevokePmTimeLimit:       2147483647,
		RatingEDecay:            2419200,
		StickersRecentLimit:     200,
		ChannelsReadMediaPeriod: 604800,
		CallReceiveTimeoutMs:    20000,
		CallRingTimeoutMs:       90000,
		CallConnectTimeoutMs:    30000,
		CallPacketTimeoutMs:     10000,
		MeURLPrefix:             "https://t.me/",
		CaptionLengthMax:        1024,
		MessageLengthMax:        maxMessageLen,
		WebfileDCID:             r.dc.id,
	}
	for _, d := range s.DCs() {
		host, port := splitHostPort(d.Addr)
		cfg.DCOptions = append(cfg.DCOptions, tg.DCOption{ID: d.ID, IPAddress: host, Port: port})
	}
	return cfg
}

func splitHostPort(addr string) (string, int) {
	i := strings.LastIndexByte(addr, ':')
	var port int
	fmt.Sscan(addr[i+1:], &port)
	return addr[:i], port
}

func (w *world) login(r *request, u *user) *tg.AuthAuthorization {
	r.key.setAccount(u.id)
	w.mu.Lock()
	defer w.mu.Unlock()
	return &tg.AuthAuthorization{User: w.tgUser(u.id, u)}
}

func (w *world) importBot(r *request) (bin.Encoder, error) {
	var req tg.AuthImportBotAuthorizationRequest
	if err := r.decode(&req); err != nil {
		return nil, err
	}
	if req.APIID == 0 || req.APIHash == "" {
		return nil, tgerr.New(400, "API_ID_INVALID")
	}
	if req.BotAuthToken != w.srv.BotToken() {
		return nil, tgerr.New(400, "ACCESS_TOKEN_INVALID")
	}
	if w.bot.dc != r.dc.id {
		w.srv.count.migrations.Add(1)
		return nil, tgerr.New(303, fmt.Sprintf("USER_MIGRATE_%d", w.bot.dc))
	}
	return w.login(r, w.bot), nil
}

func (w *world) sendCode(r *request) (bin.Encoder, error) {
	var req tg.AuthSendCodeRequest
	if err := r.decode(&req); err != nil {
		return nil, err
	}
	if req.APIID == 0 || req.APIHash == "" {
		return nil, tgerr.New(400, "API_ID_INVALID")
	}
	phone := normalizePhone(req.PhoneNumber)
	w.mu.Lock()
	defer w.mu.Unlock()
	u := w.phones[phone]
	if u == nil {
		return nil, tgerr.New(400, "PHONE_NUMBER_INVALID")
	}
	if u.dc != r.dc.id {
		w.srv.count.migrations.Add(1)
		return nil, tgerr.New(303, fmt.Sprintf("PHONE_MIGRATE_%d", u.dc))
	}
	n, _ := rand.Int(rand.Reader, big.NewInt(100000))
	var hb [8]byte
	_, _ = rand.Read(hb[:])
	c := loginCode{code: fmt.Sprintf("%05d", n.Int64()), hash: hex.EncodeToString(hb[:]), expires: r.now.Add(5 * time.Minute)}
	w.codes[phone] = c
	w.srv.logf("tgsim: login code for +%s is %s", phone, c.code)
	return &tg.AuthSentCode{Type: &tg.AuthSentCodeTypeApp{Length: 5}, PhoneCodeHash: c.hash}, nil
}

func (w *world) signIn(r *request) (bin.Encoder, error) {
	var req tg.AuthSignInRequest
	if err := r.decode(&req); err != nil {
		return nil, err
	}
	phone := normalizePhone(req.PhoneNumber)
	w.mu.Lock()
	c, ok := w.codes[phone]
	u := w.phones[phone]
	switch {
	case u == nil:
		w.mu.Unlock()
		return nil, tgerr.New(400, "PHONE_NUMBER_UNOCCUPIED")
	case req.PhoneCodeHash == "":
		w.mu.Unlock()
		return nil, tgerr.New(400, "PHONE_CODE_HASH_EMPTY")
	case !ok || c.hash != req.PhoneCodeHash:
		w.mu.Unlock()
		return nil, tgerr.New(400, "PHONE_CODE_HASH_INVALID")
	case r.now.After(c.expires):
		w.mu.Unlock()
		return nil, tgerr.New(400, "PHONE_CODE_EXPIRED")
	case req.PhoneCode != c.code:
		w.mu.Unlock()
		return nil, tgerr.New(400, "PHONE_CODE_INVALID")
	}
	delete(w.codes, phone)
	w.mu.Unlock()
	return w.login(r, u), nil
}

func (w *world) exportAuth(r *request, acct int64) (bin.Encoder, error) {
	var req tg.AuthExportAuthorizationRequest
	if err := r.decode(&req); err != nil {
		return nil, err
	}
	if req.DCID == r.dc.id || w.srv.dc(req.DCID) == nil {
		return nil, tgerr.New(400, "DC_ID_INVALID")
	}
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	w.mu.Lock()
	defer w.mu.Unlock()
	w.nextExport++
	id := w.nextExport
	w.exports[id] = exported{user: acct, dc: req.DCID, bytes: b}
	return &tg.AuthExportedAuthorization{ID: id, Bytes: b}, nil
}

func (w *world) importAuth(r *request) (bin.Encoder, error) {
	var req tg.AuthImportAuthorizationRequest
	if err := r.decode(&req); err != nil {
		return nil, err
	}
	w.mu.Lock()
	e, ok := w.exports[req.ID]
	if !ok || e.dc != r.dc.id || string(e.bytes) != string(req.Bytes) {
		w.mu.Unlock()
		return nil, tgerr.New(400, "AUTH_BYTES_INVALID")
	}
	delete(w.exports, req.ID)
	u := w.users[e.user]
	w.mu.Unlock()
	return w.login(r, u), nil
}

func (w *world) getUsers(r *request, acct int64) (bin.Encoder, error) {
	var req tg.UsersGetUsersRequest
	if err := r.decode(&req); err != nil {
		return nil, err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	out := &tg.UserClassVector{}
	for _, in := range req.ID {
		u, err := w.inputUser(acct, in, true)
		if err != nil {
			return nil, err
		}
		out.Elems = append(out.Elems, w.tgUser(acct, u))
	}
	return out, nil
}

func (w *world) getFullUser(r *request, acct int64) (bin.Encoder, error) {
	var req tg.UsersGetFullUserRequest
	if err := r.decode(&req); err != nil {
		return nil, err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	u, err := w.inputUser(acct, req.ID, false)
	if err != nil {
		return nil, err
	}
	full := tg.UserFull{ID: u.id, Settings: tg.PeerSettings{}, NotifySettings: tg.PeerNotifySettings{}, About: "A tgsim account"}
	return &tg.UsersUserFull{FullUser: full, Users: []tg.UserClass{w.tgUser(acct, u)}}, nil
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

func (w *world) resolveUsername(r *request, acct int64) (bin.Encoder, error) {
	var req tg.ContactsResolveUsernameRequest
	if err := r.decode(&req); err != nil {
		return nil, err
	}
	if !validUsername(req.Username) {
		return nil, tgerr.New(400, "USERNAME_INVALID")
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	p, ok := w.usernames[strings.ToLower(req.Username)]
	if !ok {
		return nil, tgerr.New(400, "USERNAME_NOT_OCCUPIED")
	}
	users, chats := w.peerEntities(acct, p)
	return &tg.ContactsResolvedPeer{Peer: p.tg(), Users: users, Chats: chats}, nil
}

func (w *world) resolvePhone(r *request, acct int64) (bin.Encoder, error) {
	var req tg.ContactsResolvePhoneRequest
	if err := r.decode(&req); err != nil {
		return nil, err
	}
	phone := normalizePhone(req.Phone)
	if phone == "" {
		return nil, tgerr.New(400, "PHONE_NOT_OCCUPIED")
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	u := w.phones[phone]
	if u == nil {
		return nil, tgerr.New(400, "PHONE_NOT_OCCUPIED")
	}
	p := peerRef{peerUser, u.id}
	users, chats := w.peerEntities(acct, p)
	users[len(users)-1].(*tg.User).Phone = phone // the caller knows it
	return &tg.ContactsResolvedPeer{Peer: p.tg(), Users: users, Chats: chats}, nil
}

func (w *world) getChannels(r *request, acct int64) (bin.Encoder, error) {
	var req tg.ChannelsGetChannelsRequest
	if err := r.decode(&req); err != nil {
		return nil, err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	out := &tg.MessagesChats{}
	for _, in := range req.ID {
		c, err := w.inputChannel(acct, in, true)
		if err != nil {
			return nil, err
		}
		out.Chats = append(out.Chats, w.tgChat(acct, c))
	}
	return out, nil
}

func (w *world) sendMessage(r *request, acct int64) (bin.Encoder, error) {
	s := w.srv
	var req tg.MessagesSendMessageRequest
	if err := r.decode(&req); err != nil {
		return nil, err
	}
	w.mu.Lock()
	a := w.acct(acct)
	if prev, ok := a.sent[req.RandomID]; ok && req.RandomID != 0 {
		// Telegram: a repeat of a random_id is the same message.
		w.mu.Unlock()
		s.count.duplicates.Add(1)
		return prev, nil
	}
	p, err := w.inputPeer(acct, req.Peer)
	w.mu.Unlock()
	switch {
	case err != nil:
		return nil, err
	case strings.TrimSpace(req.Message) == "":
		return nil, tgerr.New(400, "MESSAGE_EMPTY")
	case len([]rune(req.Message)) > maxMessageLen:
		return nil, tgerr.New(400, "MESSAGE_TOO_LONG")
	}
	checks := s.flood.sendChecks(acct, p)
	if wait, ignored := s.flood.take(r.now, checks); wait > 0 {
		return nil, w.floodWait(r.method, wait, ignored)
	}

	w.mu.Lock()
	defer w.mu.Unlock()
	if prev, ok := a.sent[req.RandomID]; ok && req.RandomID != 0 {
		s.count.duplicates.Add(1)
		return prev, nil
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
	h := append(w.history[key], msg)
	if len(h) > historyCap {
		h = h[len(h)-historyCap:]
	} else {
		s.count.messagesStored.Add(1)
	}
	w.history[key] = h
	if req.RandomID != 0 {
		a.sent[req.RandomID] = encoded(enc.Buf)
	}
	return encoded(enc.Buf), nil
}

func (w *world) getHistory(r *request, acct int64) (bin.Encoder, error) {
	var req tg.MessagesGetHistoryRequest
	if err := r.decode(&req); err != nil {
		return nil, err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
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
		return &tg.MessagesChannelMessages{Pts: w.chats[p.id].pts, Count: len(h), Messages: msgs, Users: users, Chats: chats}, nil
	}
	return &tg.MessagesMessagesSlice{Count: len(h), Messages: msgs, Users: users, Chats: chats}, nil
}
