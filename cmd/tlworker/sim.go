package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/tlsched/tlsched/cmd/tlworker/internal/cli"
	"github.com/tlsched/tlsched/tgsim"
)

// sim runs tgsim until SIGINT/SIGTERM.
func sim(args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := cli.NewFlags("sim", stderr)
	keyOut := fs.String("key-out", "tgsim-key.pem", "where to write the server's public key (PEM)")
	realistic := fs.Bool("realistic", true, "Telegram's bot flood limits; false turns the flood model off")
	login := fs.Bool("require-login", false, "new keys must log in (by default they act as the bot)")
	bots := fs.Int("bots", 1, "how many bot accounts the world has")
	port := fs.Int("port", 0, "DC N listens on 127.0.0.1:PORT+N (0: free ports)")
	accountsOut := fs.String("accounts-out", "", "write the bots' tokens here, one \"NAME TOKEN\" line each (a tlworker send --accounts file)")
	if err := cli.ParseFlags(fs, args); err != nil {
		return err
	}
	srv, err := tgsim.Start(tgsim.Config{
		Flood:        tgsim.FloodConfig{Off: !*realistic},
		RequireLogin: *login,
		World:        tgsim.WorldConfig{Bots: *bots},
		BasePort:     *port,
		Logf:         func(format string, a ...any) { fmt.Fprintf(stdout, format+"\n", a...) },
	})
	if err != nil {
		return err
	}
	defer srv.Close()
	if err := os.WriteFile(*keyOut, srv.PublicKeyPEM(), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "tgsim is running; public key in %s\n", *keyOut)
	if *accountsOut != "" {
		var lines string
		for i, b := range srv.Bots() {
			lines += fmt.Sprintf("bot%d %s\n", i+1, b.Token)
		}
		if err := os.WriteFile(*accountsOut, []byte(lines), 0o600); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%d bots' tokens in %s\n", *bots, *accountsOut)
	}
	var dcArgs string
	for _, d := range srv.DCs() {
		dcArgs += fmt.Sprintf(" --dc %d=%s", d.ID, d.Addr)
	}
	bot := srv.Bot()
	fmt.Fprintf(stdout, "bot @%s (id %d, home DC %d), token %s\n", bot.Username, bot.ID, bot.DC, srv.BotToken())
	u := srv.Users()
	fmt.Fprintf(stdout, "users @%s … @%s, phones %s …; login codes are printed here when auth.sendCode is called\n", u[0].Username, u[len(u)-1].Username, u[0].Phone)
	fmt.Fprintf(stdout, "send jobs to it:\n  tlworker send%s --server-key %s --jobs jobs.jsonl --out results.jsonl\n", dcArgs, *keyOut)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	fmt.Fprintln(stdout, "tgsim: stopping")
	return nil
}
