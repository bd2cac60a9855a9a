package main

import (
	"strings"
	"testing"

	"github.com/tlsched/tlsched/tgsim"
)

func TestOrderedBatch(t *testing.T) {
	srv, err := tgsim.Start(tgsim.Config{Flood: tgsim.FloodConfig{Off: true}})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	var out strings.Builder
	o, err := batch(srv, &out)
	if err != nil {
		t.Fatal(err)
	}
	if o != (outcome{OK: 3, Failed: 1, NotRun: 2}) {
		t.Fatalf("outcome %+v, want 3 sent, 1 failed, 2 not run\n%s", o, out.String())
	}
	if !strings.Contains(out.String(), "step 4: failed") || srv.Counters().MessagesStored != 3 {
		t.Fatalf("%s\nstored %d", out.String(), srv.Counters().MessagesStored)
	}
}
