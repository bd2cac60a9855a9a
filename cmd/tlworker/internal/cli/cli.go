// Package cli holds what every tlworker subcommand shares, wherever its
// code lives: the exit codes, usage errors (exit 2) and flag sets whose
// parse errors are usage errors.
package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
)

// Exit codes: 0 done, 1 a fatal problem (cannot connect, auth rejected),
// 2 bad usage.
const (
	ExitOK    = 0
	ExitFatal = 1
	ExitUsage = 2
)

// UsageError is bad usage: exit 2.
type UsageError struct{ msg string }

func (e *UsageError) Error() string { return e.msg }

// Usagef makes a *UsageError.
func Usagef(format string, args ...any) error {
	return &UsageError{fmt.Sprintf(format, args...)}
}

// NewFlags makes the FlagSet of "tlworker NAME": it reports parse errors
// (and -h) on stderr and returns them instead of exiting.
func NewFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("tlworker "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// ParseFlags parses args: a parse error is a *UsageError, -h is
// flag.ErrHelp (exit 0).
func ParseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return Usagef("%v", err)
	}
	return nil
}

// nodeActive is the line tlworker node prints when an account starts on
// it; benchmarks and tests read it back (NodeActive).
const nodeActive = "tlworker node: account %s active here"

// NodeActiveLine is the line tlworker node prints when account starts on it.
func NodeActiveLine(account string) string { return fmt.Sprintf(nodeActive, account) }

// NodeActive returns the account a NodeActiveLine names.
func NodeActive(line string) (account string, ok bool) {
	_, err := fmt.Sscanf(line, nodeActive, &account)
	return account, err == nil
}
