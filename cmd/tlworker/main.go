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

	"github.com/tlsched/tlsched/cmd/tlworker/internal/cli"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage())
		return cli.ExitUsage
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage())
		return cli.ExitOK
	}
	cmd, ok := lookup(args[0])
	if !ok {
		fmt.Fprintf(stderr, "tlworker: unknown command %q\n\n%s", args[0], usage())
		return cli.ExitUsage
	}
	err := cmd.run(args[1:], stdin, stdout, stderr)
	var ue *cli.UsageError
	switch {
	case err == nil:
		return cli.ExitOK
	case errors.Is(err, flag.ErrHelp):
		return cli.ExitOK
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "tlworker %s: %v\n", args[0], err)
		return cli.ExitUsage
	default:
		fmt.Fprintf(stderr, "tlworker %s: %v\n", args[0], err)
		return cli.ExitFatal
	}
}
