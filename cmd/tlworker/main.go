// Command tlworker is the high-throughput Telegram sender built on tlsched:
// it runs JSON-lines jobs through the actor system (containers per DC,
// invokeAfterMsg chains, flood gates), and carries a demo on the built-in
// simulator.
//
// The subcommands, with their usage lines, are the table in commands.go;
// "tlworker help" prints it. To add a subcommand: one entry in commands.go
// and its file.
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

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage())
		return exitUsage
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage())
		return exitOK
	}
	cmd, ok := lookup(args[0])
	if !ok {
		fmt.Fprintf(stderr, "tlworker: unknown command %q\n\n%s", args[0], usage())
		return exitUsage
	}
	err := cmd.run(args[1:], stdin, stdout, stderr)
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
