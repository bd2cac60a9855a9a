package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/gotd/td/tg"

	"github.com/tlsched/tlsched/actors"
	"github.com/tlsched/tlsched/cmd/tlworker/internal/cli"
)

// login authorises the session's key as a bot (token) or a user (phone,
// code and, if the account has one, its 2FA password) with actors'
// Client.Login, and records the account (its home DC) next to the session
// file. Secrets may come from the environment, which other users of the
// machine cannot read as they can a command line.
func login(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	var c connFlags
	fs := cli.NewFlags("login", stderr)
	c.register(fs)
	token := fs.String("bot-token", "", "log in as the bot with this token (better: TLSCHED_BOT_TOKEN, not visible in the process list)")
	phone := fs.String("phone", "", "log in as the user with this phone number (+…) (or TLSCHED_PHONE)")
	code := fs.String("code", "", "the login code (asked on stdin if empty)")
	password := fs.String("password", "", "the 2FA password, if the account has one (better: TLSCHED_PASSWORD; asked on stdin if needed)")
	if err := cli.ParseFlags(fs, args); err != nil {
		return err
	}
	if *token == "" && *phone == "" {
		*token = os.Getenv("TLSCHED_BOT_TOKEN")
		if *token == "" {
			*phone = os.Getenv("TLSCHED_PHONE")
		}
	}
	switch {
	case (*token == "") == (*phone == ""):
		return cli.Usagef("give --bot-token or --phone (or TLSCHED_BOT_TOKEN or TLSCHED_PHONE)")
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
	cr := actors.Credentials{BotToken: *token, Phone: *phone}
	if *phone != "" {
		cr.Code = func(context.Context, *tg.AuthSentCode) (string, error) {
			if *code != "" {
				return *code, nil
			}
			return ask("login code: ")
		}
		cr.Password = func(context.Context) (string, error) {
			if *password != "" {
				return *password, nil
			}
			return ask("2FA password: ")
		}
	}
	acc, err := client.Login(ctx, cr)
	if err != nil {
		return fmt.Errorf("login rejected: %w", err)
	}
	if err := actors.SaveAccount(c.session, *acc); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "logged in as %s, id %d, home DC %d; session %s\n", acc.Name, acc.UserID, acc.HomeDC, c.session)
	return nil
}
