//go:build !bench

package main

import (
	"bytes"
	"strings"
	"testing"
)

// Without -tags bench, tlworker bench is bad usage that says how to get it.
func TestBenchNeedsTag(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run([]string{"bench", "-n", "200"}, nil, &out, &errOut); code != 2 || !strings.Contains(errOut.String(), "-tags bench") {
		t.Fatalf("exit %d, %q", code, errOut.String())
	}
}
