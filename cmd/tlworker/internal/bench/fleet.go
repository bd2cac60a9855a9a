package bench

import (
	"bytes"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/tlsched/tlsched/cmd/tlworker/internal/cli"
)

// "tlworker bench --fleet" (issue 18 item 7): what an actors.Fleet costs
// per idle account, how long 1,000 accounts take to come up, and how close
// 1,000 paced accounts come to the sum of their flood limits. tgsim runs in
// a child process (fleetsim.go), so the heap and goroutines read here are
// the accounts' own.

type fleetFlags struct {
	accounts         string        // sizes of the idle rows
	bringup          int           // accounts brought up (0: skip)
	exchange         bool          // also bring them up with key exchanges
	send             string        // the send runs: ACCOUNTS[@SCALE], comma-separated (empty: skip)
	chats            int           // private chats per sending account
	rate             int           // per-account message limit, per Telegram second
	accountBurst     int           // the pacer's account burst
	conns            float64       // FleetConfig.ConnsPerSecond
	scale            float64       // Telegram time runs this many times faster than real time
	warmup, duration time.Duration // of the send run, Telegram time
	idleTimeout      time.Duration
	readme           string
}

// RunFleet is "tlworker bench --fleet ARGS" (see Run).
func RunFleet(args []string, stdout, stderr io.Writer) error {
	var f fleetFlags
	fs := cli.NewFlags("bench --fleet", stderr)
	fs.StringVar(&f.accounts, "accounts", "1,100,1000", "accounts of the idle rows, comma-separated (empty: skip)")
	fs.IntVar(&f.bringup, "bringup", 1000, "accounts to bring up (Add and a first call) for the bring-up time (0: skip)")
	fs.BoolVar(&f.exchange, "exchange", true, "also time the bring-up with a key exchange per account (the verified prime kept)")
	fs.StringVar(&f.send, "send", "1000@0.1,100@1", "send runs, comma-separated: ACCOUNTS sending messages.sendMessage at their limit, @SCALE the run's -scale (default -scale) (empty: skip)")
	fs.IntVar(&f.chats, "chats", 60, "private chats each sending account spreads its messages over (round robin)")
	fs.IntVar(&f.rate, "rate", publishedAccountN, "each account's message limit in tgsim and the pacer, per second of Telegram time")
	fs.IntVar(&f.accountBurst, "account-burst", publishedAccountN, "send runs: the pacer's burst on the account's rate (PacingConfig.Account.Burst; tgsim's bucket holds -rate)")
	fs.Float64Var(&f.conns, "conns-per-second", -1, "FleetConfig.ConnsPerSecond of the bench's Fleets (-1: connections not paced, as tgsim's per-address limit is off; 0: the library's default, 10/s)")
	fs.Float64Var(&f.scale, "scale", 1, "send runs: run Telegram's time this many times faster than real time (tgsim's flood clock and the pacers'; below 1: slower, so 1,000 accounts' sum of limits fits the machine)")
	fs.DurationVar(&f.warmup, "warmup", 5*time.Second, "send run: Telegram time before the measured window (the accounts' first bursts)")
	fs.DurationVar(&f.duration, "duration", 20*time.Second, "send run: the measured window, Telegram time")
	fs.DurationVar(&f.idleTimeout, "idle-timeout", 100*time.Millisecond, "the idle rows' Config.IdleTimeout")
	fs.StringVar(&f.readme, "readme", "", "replace the table between <!-- bench-fleet:start --> and <!-- bench-fleet:end --> in this file")
	if err := cli.ParseFlags(fs, args); err != nil {
		return err
	}
	var sizes []int
	if f.accounts != "" {
		for _, s := range strings.Split(f.accounts, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(s))
			if err != nil || n < 1 {
				return cli.Usagef("-accounts %q: want numbers like 1,100,1000", f.accounts)
			}
			sizes = append(sizes, n)
		}
	}
	runs, err := parseSendRuns(f.send, f.scale)
	if err != nil {
		return err
	}
	if f.bringup < 0 || f.chats < 1 || f.rate < 1 || f.accountBurst < 1 || f.scale <= 0 || f.duration <= 0 || f.warmup < 0 || f.idleTimeout <= 0 {
		return cli.Usagef("-bringup and -send must be at least 0, -chats and -rate at least 1, -scale, -duration and -idle-timeout above 0")
	}
	rep := fleetReport{
		Date: time.Now().UTC().Format("2006-01-02"), Machine: machine(), Flags: f,
		Command: "go run -tags bench ./cmd/tlworker bench --fleet " + strings.Join(args, " "),
	}
	logf := func(format string, a ...any) { fmt.Fprintf(stderr, format+"\n", a...) }
	if len(sizes) > 0 || f.bringup > 0 {
		most := f.bringup
		for _, n := range sizes {
			most = max(most, n)
		}
		sim, err := startFleetSim(fleetSimFlags{bots: most, users: 10, prepare: true, rate: f.rate, scale: 1})
		if sim != nil {
			sim.conns = f.conns
		}
		if err != nil {
			return err
		}
		for _, n := range sizes {
			logf("fleet: idle rows, %d accounts", n)
			rows, err := idleRows(sim, n, f.idleTimeout)
			if err != nil {
				sim.stop()
				return fmt.Errorf("idle rows, %d accounts: %w", n, err)
			}
			rep.Idle = append(rep.Idle, rows...)
		}
		if f.bringup > 0 {
			logf("fleet: bring-up, %d accounts, prepared keys", f.bringup)
			row, err := bringUp(sim, f.bringup, false)
			if err != nil {
				sim.stop()
				return fmt.Errorf("bring-up: %w", err)
			}
			rep.BringUp = append(rep.BringUp, row)
			if f.exchange {
				logf("fleet: bring-up, %d accounts, key exchanges", f.bringup)
				row, err := bringUp(sim, f.bringup, true)
				if err != nil {
					sim.stop()
					return fmt.Errorf("bring-up with key exchanges: %w", err)
				}
				rep.BringUp = append(rep.BringUp, row)
			}
		}
		if err := sim.stop(); err != nil {
			return fmt.Errorf("tgsim process: %w", err)
		}
	}
	for _, r := range runs {
		logf("fleet: %d accounts sending, %g Telegram s at -scale %g", r.accounts, f.duration.Seconds(), r.scale)
		row, err := sendRun(f, r.accounts, r.scale, logf)
		if err != nil {
			return fmt.Errorf("send run, %d accounts: %w", r.accounts, err)
		}
		rep.Send = append(rep.Send, row)
	}
	table := renderFleet(rep)
	fmt.Fprint(stdout, table)
	if f.readme != "" {
		return replaceNamedBlock(f.readme, "bench-fleet", table)
	}
	return nil
}

type fleetReport struct {
	Date, Machine, Command string
	Flags                  fleetFlags
	Idle                   []idleRow
	BringUp                []bringUpRow
	Send                   []sendRunRow
}

func renderFleet(rep fleetReport) string {
	f := rep.Flags
	var b bytes.Buffer
	fmt.Fprintf(&b, "Measured %s on %s, tgsim in a child process (its memory and goroutines not counted), %s:\n`%s`\n", rep.Date, rep.Machine, connsText(f.conns), rep.Command)
	if len(rep.Idle) > 0 {
		b.WriteString("\nIdle accounts of one `actors.Fleet`: live heap (after GC) and goroutines of the bench process per account, over the same Fleet before its accounts were added (its ActorSystem, and what a first account, connected and removed before, made once for the process, not counted); each account a MemoryStore with a key tgsim prepared for it; the first call is help.getConfig; idle-stopped is a second Fleet with IdleTimeout " + f.idleTimeout.String() + ", measured once its connections closed. Goroutine stacks are not in the heap figure (Go's MemStats counts them in spans shared between goroutines, too coarse to divide per account): a connected account's one goroutine, its connection's reader, adds its stack. One account is one sample, so its row varies by several KB from run to run:\n\n")
		tw := tabwriter.NewWriter(&b, 0, 0, 1, ' ', 0)
		fmt.Fprintln(tw, "| accounts\t| state\t| heap bytes / account\t| goroutines / account\t| connections opened\t|")
		fmt.Fprintln(tw, "| ---:\t| ---\t| ---:\t| ---:\t| ---:\t|")
		for _, r := range rep.Idle {
			fmt.Fprintf(tw, "| %d\t| %s\t| %.0f\t| %.2f\t| %d\t|\n", r.Accounts, r.State, r.HeapBytes, r.Goroutines, r.Conns)
		}
		tw.Flush()
	}
	if len(rep.BringUp) > 0 {
		b.WriteString("\nBringing accounts up: NewFleet, an Add per account, then every account's first call (help.getConfig) at once, until the last is answered:\n\n")
		tw := tabwriter.NewWriter(&b, 0, 0, 1, ' ', 0)
		fmt.Fprintln(tw, "| accounts\t| keys\t| NewFleet + Adds s\t| up to the last first call s\t| key exchanges\t|")
		fmt.Fprintln(tw, "| ---:\t| ---\t| ---:\t| ---:\t| ---:\t|")
		for _, r := range rep.BringUp {
			keys := "prepared on the server, saved in each store"
			if r.Exchange {
				keys = "key exchange per account (verified prime kept)"
			}
			fmt.Fprintf(tw, "| %d\t| %s\t| %.3f\t| %.3f\t| %d\t|\n", r.Accounts, keys, r.AddS, r.FirstCallS, r.KeyExchanges)
		}
		tw.Flush()
	}
	if len(rep.Send) > 0 {
		fmt.Fprintf(&b, "\nAggregate throughput: the accounts of one Fleet, each with its own key (its own bot in tgsim) and a limit of %d messages.sendMessage per second in tgsim, pacing on from the same %d/s in bursts of %d, each sending round robin to %d private chats (so at most %.2g/s each, under the 1/s per-chat limit) with %d calls queued. A run at a time scale below 1 runs Telegram's time that much slower in tgsim's flood model and in every account's pacer: limits, waits and figures are in Telegram seconds, and the machine carries that share of the real message rate (real msg/s). Figures are over a %g s window after %g s of warm-up, in Telegram seconds; delivered is tgsim's count of messages stored, goodput delivered over the sum of limits; an account cut by its pacer is one whose rate the pacer lowered after a flood wait on the account's budget (to 0.9 of it, for an hour: PacingConfig.AccountCut and ProbeAfter):\n\n",
			f.rate, f.rate, f.accountBurst, f.chats, float64(f.rate)/float64(f.chats), 2*f.rate, f.duration.Seconds(), f.warmup.Seconds())
		tw := tabwriter.NewWriter(&b, 0, 0, 1, ' ', 0)
		fmt.Fprintln(tw, "| accounts\t| time scale\t| sum of limits msg/s\t| delivered msg/s\t| goodput\t| flood waits in window (whole run)\t| whole run's waits by budget\t| accounts cut by their pacer\t| failed calls\t| real msg/s\t| slowest account / 1st percentile / median msg/s\t|")
		fmt.Fprintln(tw, "| ---:\t| ---:\t| ---:\t| ---:\t| ---:\t| ---:\t| ---\t| ---:\t| ---:\t| ---:\t| ---:\t|")
		for _, r := range rep.Send {
			fmt.Fprintf(tw, "| %d\t| %g×\t| %d\t| %.0f\t| %.1f%%\t| %d (%d)\t| %s\t| %d\t| %d\t| %.0f\t| %s\t|\n",
				r.Accounts, r.Scale, r.Accounts*f.rate, r.Delivered, 100*r.Goodput, r.WindowWaits, r.Waits, r.ByBudget, r.AccountsCut, r.Failed, r.RealPerSec, r.Slowest)
		}
		tw.Flush()
	}
	return b.String()
}

// sendSpec is one send run of -send.
type sendSpec struct {
	accounts int
	scale    float64
}

// parseSendRuns parses -send: ACCOUNTS[@SCALE], comma-separated.
func parseSendRuns(list string, scale float64) ([]sendSpec, error) {
	var out []sendSpec
	if list == "" {
		return nil, nil
	}
	for _, e := range strings.Split(list, ",") {
		n, sc, has := strings.Cut(strings.TrimSpace(e), "@")
		r := sendSpec{scale: scale}
		var err error
		if r.accounts, err = strconv.Atoi(n); err != nil || r.accounts < 1 {
			return nil, cli.Usagef("-send %q: want ACCOUNTS[@SCALE] like 1000@0.1,100", list)
		}
		if has {
			if r.scale, err = strconv.ParseFloat(sc, 64); err != nil || r.scale <= 0 {
				return nil, cli.Usagef("-send %q: a scale above 0 after @", list)
			}
		}
		out = append(out, r)
	}
	return out, nil
}

// connsText says how the bench's Fleets paced new connections.
func connsText(c float64) string {
	switch {
	case c < 0:
		return "new connections not paced (FleetConfig.ConnsPerSecond -1: tgsim's per-address limit is off; the library's default of 10/s would spread 1,000 first connections over 100 s)"
	case c == 0:
		return "new connections paced at the library's default (FleetConfig.ConnsPerSecond, 10/s)"
	}
	return fmt.Sprintf("new connections paced at %g/s (FleetConfig.ConnsPerSecond)", c)
}
