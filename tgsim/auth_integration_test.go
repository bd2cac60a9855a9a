package tgsim_test

import (
	"testing"

	"github.com/gotd/td/tg"

	"github.com/tlsched/tlsched/tgsim"
)

func TestLoginAndMigration(t *testing.T) {
	t.Parallel()
	srv := startSim(t, tgsim.Config{RequireLogin: true, World: tgsim.WorldConfig{Users: 6}})
	bot := srv.Bot()
	if bot.DC != 2 {
		t.Fatalf("bot home DC %d, want 2 by default", bot.DC)
	}

	// DC 1: not logged in, then the bot's token says "go to DC 2".
	c1 := dialRaw(t, srv, 1)
	c1.init()
	c1.fails(c1.call(&tg.UsersGetUsersRequest{ID: []tg.InputUserClass{&tg.InputUserSelf{}}}), 401, "AUTH_KEY_UNREGISTERED")
	c1.fails(c1.call(&tg.AuthImportBotAuthorizationRequest{APIID: 1, APIHash: "h", BotAuthToken: srv.BotToken()}), 303, "USER_MIGRATE_2")

	// DC 2: a wrong token, then the right one.
	c2 := dialRaw(t, srv, 2)
	c2.init()
	c2.fails(c2.call(&tg.AuthImportBotAuthorizationRequest{APIID: 1, APIHash: "h", BotAuthToken: "1:wrong"}), 400, "ACCESS_TOKEN_INVALID")
	var auth tg.AuthAuthorizationBox
	c2.ok(c2.call(&tg.AuthImportBotAuthorizationRequest{APIID: 1, APIHash: "h", BotAuthToken: srv.BotToken()}), &auth)
	if u := auth.Authorization.(*tg.AuthAuthorization).User.(*tg.User); u.ID != bot.ID || !u.Bot || !u.Self {
		t.Fatalf("logged in as %+v", u)
	}
	c2.ok(c2.call(&tg.UsersGetUsersRequest{ID: []tg.InputUserClass{&tg.InputUserSelf{}}}), nil)

	// Export to DC 3, import there: the key on DC 3 is the bot too, but
	// user methods still belong to the home DC.
	var exp tg.AuthExportedAuthorization
	c2.ok(c2.call(&tg.AuthExportAuthorizationRequest{DCID: 3}), &exp)
	c2.fails(c2.call(&tg.AuthExportAuthorizationRequest{DCID: 2}), 400, "DC_ID_INVALID")
	c3 := dialRaw(t, srv, 3)
	c3.init()
	c3.fails(c3.call(&tg.AuthImportAuthorizationRequest{ID: exp.ID, Bytes: []byte("forged")}), 400, "AUTH_BYTES_INVALID")
	c3.ok(c3.call(&tg.AuthImportAuthorizationRequest{ID: exp.ID, Bytes: exp.Bytes}), &auth)
	c3.fails(c3.call(&tg.UsersGetUsersRequest{ID: []tg.InputUserClass{&tg.InputUserSelf{}}}), 303, "USER_MIGRATE_2")

	// A user signs in with a phone and the code the server hands out.
	var user tgsim.Account
	for _, u := range srv.Users() {
		if u.DC == 1 {
			user = u
			break
		}
	}
	c2.fails(c2.call(&tg.AuthSendCodeRequest{PhoneNumber: user.Phone, APIID: 1, APIHash: "h"}), 303, "PHONE_MIGRATE_1")
	var sent tg.AuthSentCodeBox
	c1.ok(c1.call(&tg.AuthSendCodeRequest{PhoneNumber: user.Phone, APIID: 1, APIHash: "h"}), &sent)
	hash := sent.SentCode.(*tg.AuthSentCode).PhoneCodeHash
	code := srv.LoginCode(user.Phone)
	if len(code) != 5 {
		t.Fatalf("login code %q", code)
	}
	wrong := "00000"
	if code == wrong {
		wrong = "11111"
	}
	c1.fails(c1.call(&tg.AuthSignInRequest{PhoneNumber: user.Phone, PhoneCodeHash: hash, PhoneCode: wrong}), 400, "PHONE_CODE_INVALID")
	c1.fails(c1.call(&tg.AuthSignInRequest{PhoneNumber: user.Phone, PhoneCodeHash: "nope", PhoneCode: code}), 400, "PHONE_CODE_HASH_INVALID")
	c1.ok(c1.call(&tg.AuthSignInRequest{PhoneNumber: user.Phone, PhoneCodeHash: hash, PhoneCode: code}), &auth)
	var users tg.UserClassVector
	c1.ok(c1.call(&tg.UsersGetUsersRequest{ID: []tg.InputUserClass{&tg.InputUserSelf{}}}), &users)
	me := users.Elems[0].(*tg.User)
	if me.ID != user.ID || me.Bot || "+"+me.Phone != user.Phone {
		t.Fatalf("signed in as %+v, want %+v", me, user)
	}

	// Access hashes are per account: the bot's hash for a user is not the
	// user's.
	r := resolve(t, c2, "user2")
	u2 := r.Users[1].(*tg.User)
	c1.fails(c1.call(&tg.UsersGetUsersRequest{ID: []tg.InputUserClass{&tg.InputUser{UserID: u2.ID, AccessHash: u2.AccessHash}}}), 400, "USER_ID_INVALID")
	if got := srv.Counters().Migrations; got != 3 {
		t.Fatalf("Migrations = %d, want 3", got)
	}
}
