package main

import "testing"

// The usage text is made from the command table.
const usageBefore = `tlworker: send Telegram API calls fast and safely

  tlworker demo [-n 20000] [--realistic] [--accounts N]         run the built-in simulator and send N messages through it
  tlworker send --jobs FILE --out FILE [--accounts FILE] [...]  run JSON-lines jobs (see "tlworker send -h"; --cluster NAME: through a cluster)
  tlworker sim [--key-out FILE]                                 run the simulator standalone
  tlworker etcd [--dir DIR] [--listen HOST:PORT]                run a one-member etcd, to try cluster mode on one machine
  tlworker node --cluster NAME [--etcd E] [--bind IP] [...]     run a cluster member: it sends for the accounts it owns
  tlworker methods [QUERY]                                      list API methods (matching QUERY)
  tlworker describe METHOD                                      a method's parameters and result
  tlworker login --session FILE [...]                           log in to Telegram and write the session file
  tlworker trace [--query URL] TRACE_ID                         draw a trace from a Jaeger query service as a text waterfall
  tlworker bench [--json F] [--readme F]                        tlsched vs gotd's client vs a bare container client, side by side (built with -tags bench)
`

func TestUsageFromTable(t *testing.T) {
	if got := usage(); got != usageBefore {
		t.Fatalf("usage:\n%s\nwant:\n%s", got, usageBefore)
	}
	for _, c := range commands {
		if c, ok := lookup(c.name); !ok || c.run == nil {
			t.Fatalf("command %q: not found or no run func", c.name)
		}
	}
}

// Pacing is on against Telegram and off against a server given with --dc,
// unless --pacing says otherwise.
func TestPacingDefault(t *testing.T) {
	var telegram, custom sendFlags
	custom.conn.dcs.order = []int{2}
	if !telegram.pacingOn() || custom.pacingOn() {
		t.Fatalf("default pacing: Telegram %v, --dc %v; want on, off", telegram.pacingOn(), custom.pacingOn())
	}
	if err := telegram.pacing.Set("false"); err != nil || telegram.pacingOn() {
		t.Fatalf("--pacing=false against Telegram: on=%v err=%v", telegram.pacingOn(), err)
	}
	if err := custom.pacing.Set("true"); err != nil || !custom.pacingOn() {
		t.Fatalf("--pacing with --dc: on=%v err=%v", custom.pacingOn(), err)
	}
	if err := custom.pacing.Set("maybe"); err == nil {
		t.Fatal("--pacing=maybe accepted")
	}
}
