package bench

import (
	"bufio"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"maps"
	"strings"
	"sync"
	"time"

	"github.com/gotd/td/crypto"
	"github.com/gotd/td/exchange"

	"github.com/tlsched/tlsched/cmd/tlworker/internal/cli"
	"github.com/tlsched/tlsched/tgsim"
)

// The fleet bench's tgsim runs in a process of its own ("tlworker bench
// --fleet-sim", started by startFleetSim), so that the heap and goroutines
// the bench reads are the accounts' only. The child serves DC 2 only, every
// bot at home there, and talks on its standard streams:
//
//   - its first stdout line is a fleetHello (JSON): the DC's address, the
//     server's public key, its bots and, with -prepare, a key per bot
//     logged in as that bot (Server.PrepareKeyAs);
//   - each "counters" line on its stdin is answered with tgsim's Counters
//     and its flood waits by budget (fleetCounters, JSON, one line);
//   - it exits when its stdin closes.

// fleetHello is the child's first line.
type fleetHello struct {
	Addr   string     `json:"addr"` // DC 2
	KeyPEM string     `json:"key_pem"`
	Bots   []fleetBot `json:"bots"`
	Users  []int64    `json:"users"` // the world's first users, the chats to send to
}

// fleetBot is one bot and, with -prepare, its prepared key.
type fleetBot struct {
	ID   int64  `json:"id"`
	Key  []byte `json:"key,omitempty"` // the 256-byte auth key
	Salt int64  `json:"salt,omitempty"`
}

// fleetSimFlags are the child's flags.
type fleetSimFlags struct {
	bots, users int
	prepare     bool
	rate        int     // message budget per account, per second of Telegram time
	scale       float64 // the flood clock's speed (benchClock)
	latency     time.Duration
}

func (f fleetSimFlags) args() []string {
	return []string{"-bots", fmt.Sprint(f.bots), "-users", fmt.Sprint(f.users), fmt.Sprintf("-prepare=%t", f.prepare),
		"-rate", fmt.Sprint(f.rate), "-scale", fmt.Sprint(f.scale), "-latency", f.latency.String()}
}

// runFleetSim is "tlworker bench --fleet-sim": the child's side.
func runFleetSim(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	var f fleetSimFlags
	fs := cli.NewFlags("bench --fleet-sim", stderr)
	fs.IntVar(&f.bots, "bots", 1, "bots (tgsim WorldConfig.Bots)")
	fs.IntVar(&f.users, "users", 100, "users (the chats)")
	fs.BoolVar(&f.prepare, "prepare", false, "prepare a key per bot, logged in as it")
	fs.IntVar(&f.rate, "rate", publishedAccountN, "messages per second per account (Telegram time)")
	fs.Float64Var(&f.scale, "scale", 1, "the flood clock runs this many times faster than real time")
	fs.DurationVar(&f.latency, "latency", 0, "latency per call (0: none)")
	if err := cli.ParseFlags(fs, args); err != nil {
		return err
	}
	if f.bots < 1 || f.users < 1 || f.rate < 1 || f.scale <= 0 {
		return cli.Usagef("-bots, -users and -rate must be at least 1, -scale above 0")
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return err
	}
	lat := tgsim.NoLatency
	if f.latency > 0 {
		lat = tgsim.Latency{Base: f.latency}
	}
	clk := newBenchClock(f.scale)
	var mu sync.Mutex
	byBudget := map[string]int64{}
	srv, err := tgsim.Start(tgsim.Config{
		Key: key, DCs: []int{2}, Latency: lat,
		World: tgsim.WorldConfig{Bots: f.bots, Users: f.users},
		Flood: tgsim.FloodConfig{
			Messages: tgsim.Rate{N: f.rate, Per: time.Second},
			Logins:   tgsim.Rate{N: -1},
			Now:      clk.now,
			OnWait: func(e tgsim.FloodEvent) {
				mu.Lock()
				byBudget[e.Budget]++
				mu.Unlock()
			},
		},
	})
	if err != nil {
		return err
	}
	defer srv.Close()
	hello := fleetHello{Addr: srv.Addr(2), KeyPEM: string(srv.PublicKeyPEM())}
	for _, b := range srv.Bots() {
		fb := fleetBot{ID: b.ID}
		if f.prepare {
			k, salt, err := srv.PrepareKeyAs(2, b.ID)
			if err != nil {
				return err
			}
			fb.Key, fb.Salt = k.Value[:], salt
		}
		hello.Bots = append(hello.Bots, fb)
	}
	for _, u := range srv.Users() {
		hello.Users = append(hello.Users, u.ID)
	}
	enc := json.NewEncoder(stdout)
	if err := enc.Encode(hello); err != nil {
		return err
	}
	sc := bufio.NewScanner(stdin)
	for sc.Scan() {
		switch strings.TrimSpace(sc.Text()) {
		case "counters":
			mu.Lock()
			c := fleetCounters{Counters: srv.Counters(), WaitsByBudget: maps.Clone(byBudget)}
			mu.Unlock()
			if err := enc.Encode(c); err != nil {
				return err
			}
		default:
			return fmt.Errorf("bench --fleet-sim: unknown command %q", sc.Text())
		}
	}
	return sc.Err()
}

// fleetCounters are tgsim's counters and its flood waits by the budget
// that imposed them (tgsim.FloodEvent.Budget: "account", "private", …).
type fleetCounters struct {
	tgsim.Counters
	WaitsByBudget map[string]int64
}

// fleetSim is the parent's handle on the child.
type fleetSim struct {
	*child
	// conns is the bench's FleetConfig.ConnsPerSecond (-conns-per-second).
	conns float64
	hello fleetHello
	key   exchange.PublicKey
}

// startFleetSim starts the child and reads its hello (up to 256 MB: a
// prepared key per bot). Its reads have no time limit: preparing 1,000
// keys takes as long as the machine needs.
func startFleetSim(f fleetSimFlags) (*fleetSim, error) {
	c, err := startChild("--fleet-sim", f.args(), 256<<20, 0)
	if err != nil {
		return nil, err
	}
	s := &fleetSim{child: c}
	if err := s.read(&s.hello); err != nil {
		s.stop()
		return nil, fmt.Errorf("tgsim process: %w", err)
	}
	blk, _ := pem.Decode([]byte(s.hello.KeyPEM))
	if blk == nil {
		s.stop()
		return nil, errors.New("tgsim process: no public key")
	}
	pub, err := x509.ParsePKCS1PublicKey(blk.Bytes)
	if err != nil {
		s.stop()
		return nil, fmt.Errorf("tgsim process: %w", err)
	}
	s.key = exchange.PublicKey{RSA: pub}
	return s, nil
}

// counters asks the child for tgsim's counters.
func (s *fleetSim) counters() (fleetCounters, error) {
	var c fleetCounters
	err := s.ask("counters", &c)
	return c, err
}

// authKey is bot i's prepared key.
func (s *fleetSim) authKey(i int) (crypto.AuthKey, int64) {
	var k crypto.Key
	copy(k[:], s.hello.Bots[i].Key)
	return k.WithID(), s.hello.Bots[i].Salt
}
