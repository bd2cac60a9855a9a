package tgsim_test

import (
	"testing"

	"github.com/gotd/td/telegram/auth"
	"github.com/gotd/td/tg"

	"github.com/tlsched/tlsched/tgsim"
)

// A user with a password signs in with the code, gets
// SESSION_PASSWORD_NEEDED, and logs in with the SRP answer gotd's client
// computes; a wrong answer and a reused srp_id are refused.
func TestTwoStepPassword(t *testing.T) {
	t.Parallel()
	srv := startSim(t, tgsim.Config{RequireLogin: true, World: tgsim.WorldConfig{Users: 3}})
	if err := srv.SetPassword(1, "x"); err == nil {
		t.Fatal("SetPassword of a user that does not exist")
	}
	var user tgsim.Account
	for _, u := range srv.Users() {
		if u.DC == 1 {
			user = u
		}
	}
	if err := srv.SetPassword(user.ID, "secret"); err != nil {
		t.Fatal(err)
	}
	c := dialRaw(t, srv, 1)
	c.init()
	var sent tg.AuthSentCodeBox
	c.ok(c.call(&tg.AuthSendCodeRequest{PhoneNumber: user.Phone, APIID: 1, APIHash: "h"}), &sent)
	hash := sent.SentCode.(*tg.AuthSentCode).PhoneCodeHash
	c.fails(c.call(&tg.AuthSignInRequest{PhoneNumber: user.Phone, PhoneCodeHash: hash, PhoneCode: srv.LoginCode(user.Phone)}), 401, "SESSION_PASSWORD_NEEDED")
	c.fails(c.call(&tg.UsersGetUsersRequest{ID: []tg.InputUserClass{&tg.InputUserSelf{}}}), 401, "AUTH_KEY_UNREGISTERED")

	answer := func(password string) *tg.InputCheckPasswordSRP {
		var pw tg.AccountPassword
		c.ok(c.call(&tg.AccountGetPasswordRequest{}), &pw)
		algo, ok := pw.GetCurrentAlgo()
		if !pw.HasPassword || !ok {
			t.Fatalf("account.password %+v: no password", pw)
		}
		srp, err := auth.PasswordHash([]byte(password), pw.SRPID, pw.SRPB, pw.SecureRandom, algo)
		if err != nil {
			t.Fatal(err)
		}
		return srp
	}
	c.fails(c.call(&tg.AuthCheckPasswordRequest{Password: answer("wrong")}), 400, "PASSWORD_HASH_INVALID")
	right := answer("secret")
	var a tg.AuthAuthorizationBox
	c.ok(c.call(&tg.AuthCheckPasswordRequest{Password: right}), &a)
	if u := a.Authorization.(*tg.AuthAuthorization).User.(*tg.User); u.ID != user.ID {
		t.Fatalf("logged in as %d, want %d", u.ID, user.ID)
	}
	c.fails(c.call(&tg.AuthCheckPasswordRequest{Password: right}), 400, "SRP_ID_INVALID")
	c.ok(c.call(&tg.UsersGetUsersRequest{ID: []tg.InputUserClass{&tg.InputUserSelf{}}}), nil)
}
