package actors

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/gotd/td/crypto"
	"github.com/gotd/td/telegram/auth"
	"github.com/gotd/td/tg"
)

// Credentials say how Login proves who the account is: a bot's token, or
// a user's phone number with the code Telegram sends to the user's other
// devices (and, if the account has one, its two-step verification
// password).
type Credentials struct {
	// BotToken logs in as the bot with this token (auth.importBotAuthorization).
	BotToken string
	// Phone logs in as the user with this number ("+…"); Code is then
	// required.
	Phone string
	// Code is asked for the login code once auth.sendCode has sent it;
	// sent says where it went (app, SMS, …). It may block (on a human)
	// until ctx ends.
	Code func(ctx context.Context, sent *tg.AuthSentCode) (string, error)
	// Password is asked for the two-step verification password when the
	// account has one (SESSION_PASSWORD_NEEDED); nil fails such a login
	// with ErrPasswordNeeded. The password is checked with SRP (gotd's
	// telegram/auth): it never leaves the process.
	Password func(ctx context.Context) (string, error)
}

// ErrPasswordNeeded fails a Login of an account with a two-step
// verification password when Credentials.Password is nil.
var ErrPasswordNeeded = errors.New("tlsched: the account has a two-step verification password: give Credentials.Password")

// ErrPasswordInvalid fails a Login whose two-step verification password
// the server rejected (PASSWORD_HASH_INVALID). It is gotd's
// auth.ErrPasswordInvalid, so errors.Is matches either.
var ErrPasswordInvalid = auth.ErrPasswordInvalid

// ErrSignUpNeeded fails a Login by phone of a number with no account:
// Login does not sign up; an official app does.
var ErrSignUpNeeded = errors.New("tlsched: the phone number has no account: sign up with an official app first")

// Login authorises the client's auth key (that of the home DC; a
// migration on the way moves the home DC) as a bot or a user, with
// Config.APIID and Config.APIHash, and returns who it is now. It saves the
// home DC in the Store (a HomeDCStore), so that the next Start with the
// same Store (or SessionFile) sends its calls there, and who the key is
// logged in as (a LoginStore: Fleet.LoginAll skips it next time), and, when
// Config.SessionFile is set, writes the account file (SaveAccount).
//
// Errors are the server's (tgerr: PHONE_CODE_INVALID,
// ACCESS_TOKEN_INVALID, …, wrapped), ErrPasswordNeeded,
// ErrPasswordInvalid, ErrSignUpNeeded, or ctx's. Logging in a client that is logged in
// already logs it in again.
func (c *Client) Login(ctx context.Context, cr Credentials) (*Account, error) {
	if (cr.BotToken == "") == (cr.Phone == "") {
		return nil, errors.New("tlsched: login: give Credentials.BotToken or Credentials.Phone")
	}
	if cr.Phone != "" && cr.Code == nil {
		return nil, errors.New("tlsched: login: Credentials.Phone needs Credentials.Code")
	}
	if c.cfg.APIID == 0 || c.cfg.APIHash == "" {
		return nil, errors.New("tlsched: login: Config.APIID and Config.APIHash are required")
	}
	api := tg.NewClient(c)
	ac := auth.NewClient(api, crypto.DefaultRand(), c.cfg.APIID, c.cfg.APIHash)
	var user *tg.User
	if cr.BotToken != "" {
		a, err := ac.Bot(ctx, cr.BotToken)
		if err != nil {
			return nil, fmt.Errorf("tlsched: bot login: %w", err)
		}
		user, _ = a.User.(*tg.User)
	} else {
		flow := auth.NewFlow(userAuth{cr}, auth.SendCodeOptions{})
		if err := flow.Run(ctx, ac); err != nil {
			if errors.Is(err, auth.ErrPasswordNotProvided) {
				return nil, ErrPasswordNeeded
			}
			return nil, fmt.Errorf("tlsched: user login: %w", err)
		}
	}
	if user == nil {
		users, err := api.UsersGetUsers(ctx, []tg.InputUserClass{&tg.InputUserSelf{}})
		if err != nil {
			return nil, fmt.Errorf("tlsched: after login: %w", err)
		}
		if u, ok := tg.UserClassArray(users).FirstAsNotEmpty(); ok {
			user = u
		}
	}
	conf, err := api.HelpGetConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("tlsched: after login: %w", err)
	}
	acc := &Account{HomeDC: conf.ThisDC}
	if user != nil {
		acc.UserID, acc.Bot = user.ID, user.Bot
		acc.Name = strings.TrimSpace(user.FirstName + " " + user.LastName)
		if user.Username != "" {
			acc.Name = strings.TrimSpace(acc.Name + " (@" + user.Username + ")")
		}
	}
	if hs, ok := c.cfg.Store.(HomeDCStore); ok {
		if err := hs.SaveHomeDC(storeName(acc.HomeDC, c.cfg.server)); err != nil {
			return acc, fmt.Errorf("tlsched: logged in, but saving the home DC failed: %w", err)
		}
	}
	if ls, ok := c.cfg.Store.(LoginStore); ok {
		if err := ls.SaveLogin(storeName(acc.HomeDC, c.cfg.server), *acc); err != nil {
			return acc, fmt.Errorf("tlsched: logged in, but saving who the key is failed: %w", err)
		}
	}
	if c.cfg.SessionFile != "" {
		if err := SaveAccount(c.cfg.SessionFile, *acc); err != nil {
			return acc, fmt.Errorf("tlsched: logged in, but writing the account file failed: %w", err)
		}
	}
	return acc, nil
}

// userAuth is gotd's auth.UserAuthenticator over Credentials; it does not
// sign up.
type userAuth struct{ cr Credentials }

func (u userAuth) Phone(context.Context) (string, error) { return u.cr.Phone, nil }

func (u userAuth) Password(ctx context.Context) (string, error) {
	if u.cr.Password == nil {
		return "", auth.ErrPasswordNotProvided
	}
	return u.cr.Password(ctx)
}

func (u userAuth) Code(ctx context.Context, sent *tg.AuthSentCode) (string, error) {
	return u.cr.Code(ctx, sent)
}

func (userAuth) AcceptTermsOfService(context.Context, tg.HelpTermsOfService) error {
	return ErrSignUpNeeded
}

func (userAuth) SignUp(context.Context) (auth.UserInfo, error) {
	return auth.UserInfo{}, ErrSignUpNeeded
}
