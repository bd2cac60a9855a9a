//go:build !bench

package main

import (
	"io"

	"github.com/tlsched/tlsched/cmd/tlworker/internal/cli"
)

// bench stands in for "tlworker bench" (bench.go) in the ordinary binary,
// which does not link gotd's client and tgtest: it says how to get it.
func bench([]string, io.Reader, io.Writer, io.Writer) error {
	return cli.Usagef("this tlworker is built without the benchmark clients (gotd's client, tgtest): run it as go run -tags bench ./cmd/tlworker bench …, or build with go build -tags bench ./cmd/tlworker")
}
