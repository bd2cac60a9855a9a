// Command tlworker is the high-throughput Telegram sender built on tlsched:
// it runs JSON-lines jobs through the actor system (containers per DC,
// invokeAfterMsg chains, flood gates), and carries a demo on the built-in
// simulator.
//
//	tlworker demo [-n 20000] [--realistic]
//	tlworker send --jobs FILE|- --out FILE|- [--dc ID=HOST:PORT ... --server-key FILE] [...]
//	tlworker sim [--key-out FILE]
//	tlworker methods [QUERY]
//	tlworker describe METHOD
//	tlworker login [--bot-token T | --phone +N] --session FILE
//	tlworker trace [--query URL] TRACE_ID
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
)

// Exit codes: 0 done, 1 a fatal problem (cannot connect, auth rejected),
// 2 bad usage.
const (
	exitOK    = 0
	exitFatal = 1
	exitUsage = 2
)

// usageError is bad usage: exit 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{fmt.Sprintf(format, args...)}
}

const usage = `tlworker: send Telegram API calls fast and safely

  tlworker demo [-n 20000] [--realistic]      run the built-in simulator and send N messages through it
  tlworker send --jobs FILE --out FILE [...]  run JSON-lines jobs (see "tlworker send -h")
  tlworker sim [--key-out FILE]               run the simulator standalone
  tlworker methods [QUERY]                    list API methods (matching QUERY)
  tlworker describe METHOD                    a method's parameters and result
  tlworker login --session FILE [...]         log in to Telegram and write the session file
  tlworker trace [--query URL] TRACE_ID       draw a trace from a Jaeger query service as a text waterfall
  tlworker bench [--json F] [--readme F]      tlsched vs gotd's client vs a bare container client, side by side
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	var err error
	switch args[0] {
	case "demo":
		err = demo(args[1:], stdout, stderr)
	case "send":
		err = send(args[1:], stdin, stdout, stderr)
	case "sim":
		err = sim(args[1:], stdout, stderr)
	case "methods":
		err = methods(args[1:], stdout)
	case "describe":
		err = describe(args[1:], stdout)
	case "login":
		err = login(args[1:], stdin, stdout, stderr)
	case "trace":
		err = trace(args[1:], stdout, stderr)
	case "bench":
		err = bench(args[1:], stdout, stderr)
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return exitOK
	default:
		fmt.Fprintf(stderr, "tlworker: unknown command %q\n\n%s", args[0], usage)
		return exitUsage
	}
	var ue *usageError
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "tlworker %s: %v\n", args[0], err)
		return exitUsage
	default:
		fmt.Fprintf(stderr, "tlworker %s: %v\n", args[0], err)
		return exitFatal
	}
}

// newFlags makes a FlagSet whose parse errors are usage errors.
func newFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("tlworker "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usagef("%v", err)
	}
	return nil
}
