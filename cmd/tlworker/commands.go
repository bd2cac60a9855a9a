package main

import (
	"fmt"
	"io"
	"strings"
)

// command is one tlworker subcommand: "tlworker NAME ARGS…" calls run with
// the arguments after NAME. run returns a *cli.UsageError for bad usage
// (exit 2) and any other error for a fatal problem (exit 1).
type command struct {
	name    string
	args    string // the synopsis after the name, for the usage text
	summary string // one line, for the usage text
	run     func(args []string, stdin io.Reader, stdout, stderr io.Writer) error
}

// commands is every subcommand, in the order the usage text lists them.
// Adding a subcommand is one entry here and its run func in a file of its
// own.
var commands = []command{
	{"demo", "[-n 20000] [--realistic] [--accounts N]", "run the built-in simulator and send N messages through it", demo},
	{"send", "--jobs FILE --out FILE [--accounts FILE] [...]", `run JSON-lines jobs (see "tlworker send -h"; --cluster NAME: through a cluster)`, send},
	{"sim", "[--key-out FILE]", "run the simulator standalone", sim},
	{"etcd", "[--dir DIR] [--listen HOST:PORT]", "run a one-member etcd, to try cluster mode on one machine", etcd},
	{"node", "--cluster NAME [--etcd E] [--bind IP] [...]", "run a cluster member: it sends for the accounts it owns", node},
	{"methods", "[QUERY]", "list API methods (matching QUERY)", methods},
	{"describe", "METHOD", "a method's parameters and result", describe},
	{"login", "--session FILE [...]", "log in to Telegram and write the session file", login},
	{"trace", "[--query URL] TRACE_ID", "draw a trace from a Jaeger query service as a text waterfall", trace},
	{"bench", "[--json F] [--readme F]", "tlsched vs gotd's client vs a bare container client, side by side (built with -tags bench)", bench},
}

// lookup finds a subcommand by name.
func lookup(name string) (command, bool) {
	for _, c := range commands {
		if c.name == name {
			return c, true
		}
	}
	return command{}, false
}

// usage is the text "tlworker" alone or "tlworker help" prints: one line
// per entry of commands.
func usage() string {
	var b strings.Builder
	b.WriteString("tlworker: send Telegram API calls fast and safely\n\n")
	width := 0
	for _, c := range commands {
		width = max(width, len(synopsis(c)))
	}
	for _, c := range commands {
		fmt.Fprintf(&b, "  %-*s  %s\n", width, synopsis(c), c.summary)
	}
	return b.String()
}

func synopsis(c command) string { return "tlworker " + c.name + " " + c.args }
