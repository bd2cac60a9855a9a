package bench

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"path/filepath"
	"testing"

	"github.com/tlsched/tlsched/cmd/tlworker/internal/cli"
)

// A "bench --serve" child serves the library's client over a real socket,
// tgtest and tgsim alike, and reports its own CPU (and tgsim's frames),
// which the figures then include.
func TestServerProcess(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(t.TempDir(), "server.pem")
	if err := writeServerKey(keyFile, key); err != nil {
		t.Fatal(err)
	}
	for _, kind := range []string{"tgtest", "tgsim"} {
		t.Run(kind, func(t *testing.T) {
			s, err := startServerProcess(kind, keyFile)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Stop()
			before := s.CPU()
			fig, err := runOurs(s, key, 300, 10)
			if err != nil {
				t.Fatal(err)
			}
			if after := s.CPU(); after <= before {
				t.Errorf("the server process's CPU went from %v to %v over 300 calls", before, after)
			}
			if fig.CallsPerSec <= 0 || fig.CPUPer10k <= 0 {
				t.Errorf("figures %+v", fig)
			}
			if kind == "tgsim" && fig.FramesPerCall <= 0 {
				t.Errorf("no frames counted by the tgsim process: %+v", fig)
			}
		})
	}
}

// --send-server takes process or inproc.
func TestBenchSendServerUsage(t *testing.T) {
	var out, errOut bytes.Buffer
	err := Run([]string{"-only", "send", "-send-server", "remote"}, &out, &errOut)
	var ue *cli.UsageError
	if !errors.As(err, &ue) {
		t.Errorf("-send-server remote: %v, want a usage error", err)
	}
}
