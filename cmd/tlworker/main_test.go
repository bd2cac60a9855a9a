package main

import (
	"os"
	"testing"

	benchcmd "github.com/tlsched/tlsched/cmd/tlworker/internal/bench"
)

// The bench tests here (TestBenchSendRow) run the bench in this test
// binary, and the bench starts its server as a child process of this
// program: ChildMain makes the binary that child when the bench asks.
func TestMain(m *testing.M) {
	benchcmd.ChildMain()
	os.Exit(m.Run())
}
