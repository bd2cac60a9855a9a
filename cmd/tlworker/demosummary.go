package main

import (
	"fmt"
	"io"
	"sort"
	"text/tabwriter"
	"time"

	"github.com/tlsched/tlsched/entitycache"
	"github.com/tlsched/tlsched/scheduler"
	"github.com/tlsched/tlsched/tgsim"
)

// summary is what tlworker demo prints at the end: its own figures, the
// scheduler's, the entity cache's and what tgsim counted.
type summary struct {
	n, failed int
	elapsed   time.Duration
	lat       []time.Duration
	st        scheduler.Stats
	sv        tgsim.Counters
	floodChat string
	inOrder   string
	chainErr  error
	firstErr  any
	cache     entitycache.Stats
	pacing    *pacingScene // the pacing scene (demopacing.go); nil: not played
}

func printSummary(w io.Writer, s summary) {
	sort.Slice(s.lat, func(i, j int) bool { return s.lat[i] < s.lat[j] })
	pct := func(p float64) string {
		if len(s.lat) == 0 {
			return "-"
		}
		return s.lat[min(len(s.lat)-1, int(p*float64(len(s.lat))))].Round(10 * time.Microsecond).String()
	}
	perContainer := 0.0
	if s.st.Batches > 0 {
		perContainer = float64(s.st.Sent) / float64(s.st.Batches)
	}
	honoured := "yes: the server saw no call inside a wait it had announced"
	if s.sv.IgnoredWaits > 0 {
		honoured = fmt.Sprintf("NO: %d calls came inside an announced wait", s.sv.IgnoredWaits)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "\nsummary\t")
	row := func(k string, v ...any) { fmt.Fprintf(tw, "  %s\t%s\n", k, fmt.Sprint(v...)) }
	row("calls", s.n)
	row("ok / failed", fmt.Sprintf("%d / %d", s.n-s.failed, s.failed))
	row("time", s.elapsed.Round(time.Millisecond))
	row("calls/s", fmt.Sprintf("%.0f", float64(s.n)/s.elapsed.Seconds()))
	row("latency p50 / p95 / p99", pct(0.50), " / ", pct(0.95), " / ", pct(0.99))
	row("containers sent", s.st.Batches)
	row("calls per container (mean)", fmt.Sprintf("%.1f", perContainer))
	row("flood waits met", fmt.Sprintf("%d (gate closed %d times)", s.st.FloodWaits, s.st.GateClosures))
	row("flood waits honoured", honoured)
	row("ordered chain into "+s.floodChat, s.inOrder)
	row("resends", fmt.Sprintf("%d sends for %d calls: migrations %d, chain repairs %d, retries after backoff %d",
		s.st.Sent, s.st.Submitted, s.st.Migrations, s.st.ChainRepairs, s.st.Backoffs))
	row("entity cache", fmt.Sprintf("%d network resolves, %d hits", s.cache.NetworkCalls, s.cache.Hits))
	fmt.Fprintln(tw, "tgsim saw\t")
	row("frames in / out", fmt.Sprintf("%d / %d", s.sv.FramesIn, s.sv.FramesOut))
	row("containers in / out", fmt.Sprintf("%d / %d", s.sv.ContainersIn, s.sv.ContainersOut))
	row("messages.sendMessage calls", s.sv.Calls["messages.sendMessage"])
	row("messages stored", s.sv.MessagesStored)
	row("FLOOD_WAIT issued", fmt.Sprintf("%d (%d s in all)", s.sv.FloodWaits["messages.sendMessage"], s.sv.FloodSeconds))
	row("MSG_WAIT_FAILED issued", s.sv.Errors["MSG_WAIT_FAILED"])
	row("USER_MIGRATE issued", s.sv.Migrations)
	row("duplicates suppressed", s.sv.Duplicates)
	row("invokeAfterMsg waits", s.sv.OrderingWaits)
	if s.pacing != nil {
		// A header without a cell: the section aligns on its own.
		printPacingScene(row, func(h string) { fmt.Fprintln(tw, h) }, *s.pacing)
	}
	tw.Flush()
	if s.chainErr != nil {
		fmt.Fprintf(w, "ordered chain: %v\n", s.chainErr)
	}
}
