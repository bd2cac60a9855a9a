package tgsim

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"math/big"
	"time"

	"github.com/gotd/td/bin"
	"github.com/gotd/td/tg"
	"github.com/gotd/td/tgerr"
)

// The auth.* methods that log in work without an account and check the DC
// themselves (PHONE_MIGRATE_X, USER_MIGRATE_X); exporting acts for the
// account from any DC.
var authMethods = []method{
	handle(anyone, noFlood, (*world).importBot),
	handle(anyone, noFlood, (*world).sendCode),
	handle(anyone, noFlood, (*world).signIn),
	handle(loggedIn, noFlood, (*world).exportAuth),
	handle(anyone, noFlood, (*world).importAuth),
}

// login makes the request's auth key act as u.
func (w *world) login(r *request, u *user) *tg.AuthAuthorization {
	r.key.setAccount(u.id)
	w.srv.count.login(u.id)
	return &tg.AuthAuthorization{User: w.tgUser(u.id, u)}
}

func (w *world) importBot(r *request, req *tg.AuthImportBotAuthorizationRequest) (bin.Encoder, error) {
	if req.APIID == 0 || req.APIHash == "" {
		return nil, tgerr.New(400, "API_ID_INVALID")
	}
	// Every attempt spends the login budget, so guessing tokens is as
	// limited as logging in (FloodConfig.Logins).
	if err := w.spend(r, w.srv.flood.loginChecks()); err != nil {
		return nil, err
	}
	bot := w.tokens[req.BotAuthToken]
	if bot == nil {
		return nil, tgerr.New(400, "ACCESS_TOKEN_INVALID")
	}
	if bot.dc != r.dc.id {
		w.srv.count.migrations.Add(1)
		return nil, tgerr.New(303, fmt.Sprintf("USER_MIGRATE_%d", bot.dc))
	}
	if err := w.spend(r, w.srv.flood.tokenLoginChecks(bot.id)); err != nil {
		return nil, err
	}
	return w.login(r, bot), nil
}

func (w *world) sendCode(r *request, req *tg.AuthSendCodeRequest) (bin.Encoder, error) {
	if req.APIID == 0 || req.APIHash == "" {
		return nil, tgerr.New(400, "API_ID_INVALID")
	}
	phone := normalizePhone(req.PhoneNumber)
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

func (w *world) signIn(r *request, req *tg.AuthSignInRequest) (bin.Encoder, error) {
	phone := normalizePhone(req.PhoneNumber)
	c, ok := w.codes[phone]
	u := w.phones[phone]
	switch {
	case u == nil:
		return nil, tgerr.New(400, "PHONE_NUMBER_UNOCCUPIED")
	case req.PhoneCodeHash == "":
		return nil, tgerr.New(400, "PHONE_CODE_HASH_EMPTY")
	case !ok || c.hash != req.PhoneCodeHash:
		return nil, tgerr.New(400, "PHONE_CODE_HASH_INVALID")
	case r.now.After(c.expires):
		return nil, tgerr.New(400, "PHONE_CODE_EXPIRED")
	case req.PhoneCode != c.code:
		return nil, tgerr.New(400, "PHONE_CODE_INVALID")
	}
	delete(w.codes, phone)
	if w.needsPassword(r, u) {
		return nil, tgerr.New(401, "SESSION_PASSWORD_NEEDED")
	}
	return w.login(r, u), nil
}

func (w *world) exportAuth(r *request, req *tg.AuthExportAuthorizationRequest) (bin.Encoder, error) {
	if req.DCID == r.dc.id || w.srv.dc(req.DCID) == nil {
		return nil, tgerr.New(400, "DC_ID_INVALID")
	}
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	w.nextExport++
	id := w.nextExport
	w.exports[id] = exported{user: r.acct, dc: req.DCID, bytes: b}
	return &tg.AuthExportedAuthorization{ID: id, Bytes: b}, nil
}

func (w *world) importAuth(r *request, req *tg.AuthImportAuthorizationRequest) (bin.Encoder, error) {
	e, ok := w.exports[req.ID]
	if !ok || e.dc != r.dc.id || string(e.bytes) != string(req.Bytes) {
		return nil, tgerr.New(400, "AUTH_BYTES_INVALID")
	}
	delete(w.exports, req.ID)
	return w.login(r, w.users[e.user]), nil
}
