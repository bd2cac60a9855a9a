package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/gotd/td/telegram/auth"
	"github.com/gotd/td/tg"
	"github.com/gotd/td/tgerr"

	"github.com/tlsched/tlsched/actors"
	"github.com/tlsched/tlsched/cmd/tlworker/internal/cli"
)

// login authorises the session's key as a bot (token) or a user (phone,
// code and, if the account has one, its 2FA password) and records the home
// DC next to the session file.
func login(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	var c connFlags
	fs := cli.NewFlags("login", stderr)
	c.register(fs)
	token := fs.String("bot-token", "", "log in as the bot with this token")
	phone := fs.String("phone", "", "log in as the user with this phone number (+…)")
	code := fs.String("code", "", "the login code (asked on stdin if empty)")
	password := fs.String("password", "", "the 2FA password, if the account has one (or TLSCHED_PASSWORD; asked on stdin if needed)")
	if err := cli.ParseFlags(fs, args); err != nil {
		return err
	}
	switch {
	case (*token == "") == (*phone == ""):
		return cli.Usagef("give --bot-token or --phone")
	case c.session == "":
		return cli.Usagef("--session FILE is required: the session file login writes")
	}
	if *password == "" {
		*password = os.Getenv("TLSCHED_PASSWORD")
	}
	if len(c.dcs.order) > 0 && c.apiID == 0 {
		c.apiID, c.apiHash = 1, "test" // test servers take any
	}
	cfg, err := c.clientConfig(false)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	client, err := actors.Start(ctx, cfg)
	if err != nil {
		return err
	}
	defer closeClient(client, 5*time.Second)
	in := bufio.NewReader(stdin)
	ask := func(prompt string) (string, error) {
		fmt.Fprint(stderr, prompt)
		s, err := in.ReadString('\n')
		if err != nil && s == "" {
			return "", fmt.Errorf("reading %s: %w", strings.TrimSpace(prompt), err)
		}
		return strings.TrimSpace(s), nil
	}

	var a tg.AuthAuthorizationBox
	if *token != "" {
		err = client.Invoke(ctx, &tg.AuthImportBotAuthorizationRequest{APIID: c.apiID, APIHash: c.apiHash, BotAuthToken: *token}, &a)
	} else {
		err = userLogin(ctx, client, c, *phone, *code, *password, ask, &a)
	}
	if err != nil {
		return fmt.Errorf("login rejected: %w", err)
	}
	az, ok := a.Authorization.(*tg.AuthAuthorization)
	if !ok {
		return fmt.Errorf("login: the server wants a sign-up (%T); sign up with an official app first", a.Authorization)
	}
	u, _ := az.User.(*tg.User)
	var conf tg.Config
	if err := client.Invoke(ctx, &tg.HelpGetConfigRequest{}, &conf); err != nil {
		return fmt.Errorf("after login: %w", err)
	}
	acc := account{HomeDC: conf.ThisDC, Bot: u != nil && u.Bot}
	if u != nil {
		acc.UserID, acc.Name = u.ID, strings.TrimSpace(u.FirstName+" "+u.LastName)
		if u.Username != "" {
			acc.Name += " (@" + u.Username + ")"
		}
	}
	b, _ := json.MarshalIndent(acc, "", "  ")
	if err := os.WriteFile(accountPath(c.session), b, 0o600); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "logged in as %s, id %d, home DC %d; session %s\n", acc.Name, acc.UserID, acc.HomeDC, c.session)
	return nil
}

func userLogin(ctx context.Context, client *actors.Client, c connFlags, phone, code, password string, ask func(string) (string, error), a *tg.AuthAuthorizationBox) error {
	var sent tg.AuthSentCodeBox
	if err := client.Invoke(ctx, &tg.AuthSendCodeRequest{PhoneNumber: phone, APIID: c.apiID, APIHash: c.apiHash, Settings: tg.CodeSettings{}}, &sent); err != nil {
		return err
	}
	sc, ok := sent.SentCode.(*tg.AuthSentCode)
	if !ok {
		return fmt.Errorf("unexpected answer to auth.sendCode: %T", sent.SentCode)
	}
	var err error
	if code == "" {
		if code, err = ask("login code: "); err != nil {
			return err
		}
	}
	err = client.Invoke(ctx, &tg.AuthSignInRequest{PhoneNumber: phone, PhoneCodeHash: sc.PhoneCodeHash, PhoneCode: code}, a)
	if !tgerr.Is(err, "SESSION_PASSWORD_NEEDED") {
		return err
	}
	// Two-step verification: SRP with gotd's helper.
	var pw tg.AccountPassword
	if err := client.Invoke(ctx, &tg.AccountGetPasswordRequest{}, &pw); err != nil {
		return err
	}
	if password == "" {
		if password, err = ask("2FA password: "); err != nil {
			return err
		}
	}
	algo, ok := pw.GetCurrentAlgo()
	if !ok {
		return errors.New("the account asks for a password but has none set")
	}
	srp, err := auth.PasswordHash([]byte(password), pw.SRPID, pw.SRPB, pw.SecureRandom, algo)
	if err != nil {
		return err
	}
	return client.Invoke(ctx, &tg.AuthCheckPasswordRequest{Password: srp}, a)
}
