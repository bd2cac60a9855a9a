//go:build bench

package main

import (
	"io"

	benchcmd "github.com/tlsched/tlsched/cmd/tlworker/internal/bench"
)

// bench is "tlworker bench" (internal/bench), in binaries built with
// -tags bench only: it links gotd's client and tgtest, which the sender
// does not need. Without the tag, bench_off.go says how to get it.
func bench(args []string, _ io.Reader, stdout, stderr io.Writer) error {
	return benchcmd.Run(args, stdout, stderr)
}
