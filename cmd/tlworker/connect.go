package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/gotd/td/crypto"
	"github.com/gotd/td/exchange"
	"github.com/gotd/td/tg"

	"github.com/tlsched/tlsched/actors"
	"github.com/tlsched/tlsched/cmd/tlworker/internal/cli"
	"github.com/tlsched/tlsched/entitycache"
	"github.com/tlsched/tlsched/telemetry"
)

// dcFlag collects repeated --dc ID=HOST:PORT.
type dcFlag struct {
	order []int
	addrs map[int]string
}

func (d *dcFlag) String() string { return fmt.Sprint(d.addrs) }

func (d *dcFlag) Set(v string) error {
	id, addr, ok := strings.Cut(v, "=")
	n, err := strconv.Atoi(id)
	if !ok || err != nil || n <= 0 || !strings.Contains(addr, ":") {
		return fmt.Errorf("want ID=HOST:PORT, got %q", v)
	}
	if d.addrs == nil {
		d.addrs = map[int]string{}
	}
	if _, dup := d.addrs[n]; dup {
		return fmt.Errorf("DC %d given twice", n)
	}
	d.addrs[n] = addr
	d.order = append(d.order, n)
	return nil
}

// connFlags are the flags that say which server to talk to and as whom.
type connFlags struct {
	dcs       dcFlag
	serverKey string
	session   string
	apiID     int
	apiHash   string
	timeout   time.Duration
	verbose   bool
	// fleet: the accounts come from --accounts, so no session is needed
	// (clientConfig gives the server and api id only).
	fleet bool
}

func (c *connFlags) register(fs *flag.FlagSet) {
	fs.Var(&c.dcs, "dc", "a DC of another server, ID=HOST:PORT (repeatable; the first is home); needs --server-key")
	fs.StringVar(&c.serverKey, "server-key", "", "PEM file with the server's RSA public key (PKCS#1 or PKIX)")
	fs.StringVar(&c.session, "session", "", "session file (auth keys, 0600); required for Telegram, written by tlworker login")
	fs.IntVar(&c.apiID, "api-id", 0, "Telegram api_id (or TLSCHED_API_ID)")
	fs.StringVar(&c.apiHash, "api-hash", "", "Telegram api_hash (or TLSCHED_API_HASH)")
	fs.DurationVar(&c.timeout, "connect-timeout", 30*time.Second, "how long connecting may take")
	fs.BoolVar(&c.verbose, "v", false, "log connection events to stderr")
}

// clientConfig turns the flags into an actors.Config. For Telegram it needs
// an api id and a session made by tlworker login.
func (c *connFlags) clientConfig(needLogin bool) (actors.Config, error) {
	var cfg actors.Config
	if c.apiID == 0 {
		if v := os.Getenv("TLSCHED_API_ID"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil {
				return cfg, cli.Usagef("TLSCHED_API_ID=%q is not a number", v)
			}
			c.apiID = n
		}
	}
	if c.apiHash == "" {
		c.apiHash = os.Getenv("TLSCHED_API_HASH")
	}
	cfg.APIID, cfg.APIHash = c.apiID, c.apiHash
	cfg.DialTimeout = c.timeout
	if c.verbose {
		cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	// A session logged in before (its account file, from tlworker login):
	// commands that need a login let the library load it (its store, its
	// home DC, and its keys are never replaced); login itself may replace
	// a key, so it only takes the file as its store.
	var acc actors.Account
	loggedIn := false
	if c.session != "" {
		var err error
		acc, loggedIn, err = actors.LoadAccount(c.session)
		if err != nil && needLogin {
			return cfg, err
		}
	}
	useSession := func() error {
		if loggedIn && needLogin {
			cfg.SessionFile = c.session
			return nil
		}
		// The session file's bbolt store (a JSON one is migrated); it
		// stays open until the process exits.
		db, err := actors.OpenBoltStore(c.session)
		if err != nil {
			return err
		}
		cfg.Store = db.Account(actors.DefaultAccount)
		if loggedIn {
			cfg.Scheduler.HomeDC = acc.HomeDC
		}
		return nil
	}
	if len(c.dcs.order) > 0 {
		if c.serverKey == "" {
			return cfg, cli.Usagef("--dc needs --server-key: the server's RSA public key")
		}
		pem, err := os.ReadFile(c.serverKey)
		if err != nil {
			return cfg, cli.Usagef("--server-key: %v", err)
		}
		keys, err := crypto.ParseRSAPublicKeys(pem)
		if err != nil || len(keys) == 0 {
			return cfg, cli.Usagef("--server-key %s: no RSA public key in it (want PEM, PKCS#1 or PKIX): %v", c.serverKey, err)
		}
		for _, k := range keys {
			cfg.PublicKeys = append(cfg.PublicKeys, exchange.PublicKey{RSA: k})
		}
		cfg.DCs = c.dcs.addrs
		if !loggedIn {
			cfg.Scheduler.HomeDC = c.dcs.order[0]
		}
		if c.session != "" {
			if err := useSession(); err != nil {
				return cfg, err
			}
		} // else: the library keeps a custom server's keys in memory
		return cfg, nil
	}
	if c.serverKey != "" {
		return cfg, cli.Usagef("--server-key without --dc: give the server's DCs too")
	}
	if c.apiID == 0 || c.apiHash == "" {
		return cfg, cli.Usagef("talking to Telegram needs --api-id and --api-hash (or TLSCHED_API_ID, TLSCHED_API_HASH); for a local server give --dc and --server-key")
	}
	if c.session == "" && c.fleet {
		return cfg, nil
	}
	if c.session == "" {
		return cfg, cli.Usagef("talking to Telegram needs --session FILE (made by tlworker login)")
	}
	if needLogin && !loggedIn {
		return cfg, fmt.Errorf("no login recorded for session %s (no %s): run tlworker login first", c.session, actors.AccountPath(c.session))
	}
	return cfg, useSession()
}

// probe checks the home DC answers (help.getConfig) so that a server that
// cannot be reached is one clear fatal error, not a failure per job.
func probe(ctx context.Context, c *actors.Client, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var cfg tg.Config
	if err := c.Invoke(ctx, &tg.HelpGetConfigRequest{}, &cfg); err != nil {
		return fmt.Errorf("cannot reach the server: %w", err)
	}
	return nil
}

// openCache opens the entity cache that goes with a session: next to the
// session file, bound to the session's account (its user id, from tlworker
// login, and the server: dcs, nil for Telegram), or in memory without one;
// and attaches it to client (entitycache.Cache.Attach): it learns from
// every result from then on, resolves misses through client and refreshes
// stale access hashes. Call it before client sends anything, so that no
// result goes unlearned.
func openCache(session string, dcs map[int]string, tel *telemetry.Telemetry, client *actors.Client) (*entitycache.Cache, error) {
	cfg := entitycache.Config{Telemetry: tel}
	if session != "" {
		cfg.Path = session + ".entities.db"
		acc := &entitycache.Account{DCs: dcs}
		if a, ok, _ := actors.LoadAccount(session); ok {
			acc.SelfID = a.UserID
		}
		cfg.Account = acc
	}
	c, err := entitycache.Open(cfg)
	if err != nil {
		return nil, err
	}
	if err := c.Attach(client); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}
