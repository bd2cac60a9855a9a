// Package bench is "tlworker bench": tlsched's actor system side by side
// with gotd's telegram.Client and a bare container client (the ceiling),
// against gotd's tgtest and tgsim in the same process; the rows of
// "tlworker send" as a whole process, and the library beside it, face the
// server in a process of its own (serveproc.go). It links gotd's
// client and tgtest, so the tlworker binary has it only when built with
// -tags bench; its own tests run in every go test.
//
// Where its parts live: the command, the report and the README table in
// bench.go; the clients measured and their figures in clients.go; the
// servers in servers.go. "bench --flood" (issue 17: pacing against
// tgsim's hidden flood limits) has the command, the workload and its
// table in flood.go, its clients in floodclients.go, its plot in
// floodplot.go. "bench --fleet" (issue 18: a Fleet's cost per idle
// account, bring-up time, aggregate throughput under per-account limits)
// has the command and its table in fleet.go, the idle rows and bring-up in
// fleetidle.go, the sending run in fleetsend.go, its out-of-process tgsim
// in fleetsim.go.
package bench

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/tlsched/tlsched/cmd/tlworker/internal/cli"
)

type benchFlags struct {
	n, rounds              int
	callers, servers       string
	jsonOut, readme        string
	cpuprofile, memprofile string
	queued                 string
	sendJobs               int    // tlworker send as a process: jobs per run (0: no row)
	tlworker               string // the tlworker binary to run send with
	sendProfile            string // --cpuprofile for tlworker send
	sendServer             string // "process" or "inproc"
	tracing                string // sampling ratios for the tracing cost ("off,1,0.01"; empty: skip)
	tracingCallers         int
	only                   string // "send": only the tlworker send rows
}

// benchReport is what --json writes.
type benchReport struct {
	Date    string     `json:"date"`
	Machine string     `json:"machine"`
	Command string     `json:"command"`
	Calls   int        `json:"calls"`
	Rounds  int        `json:"rounds"`
	Rows    []benchRow `json:"rows"`
	Send    []sendRow  `json:"tlworker_send_rows,omitempty"`
	// SendServer is where the send rows' server ran: "process" or "inproc".
	SendServer string             `json:"send_server,omitempty"`
	Tracing    []tracingRow       `json:"tracing_rows,omitempty"`
	Heap       map[string]float64 `json:"heap_bytes_per_queued_call"`
}

type benchRow struct {
	Server  string  `json:"server"`
	Callers int     `json:"callers"`
	Ours    figures `json:"tlsched"` // medians over rounds
	Gotd    figures `json:"gotd"`
	Bare    figures `json:"bare_ceiling"`
	Ratio   float64 `json:"throughput_ratio_tlsched_gotd"`
	OfBare  float64 `json:"tlsched_of_ceiling"`
}

// Run is "tlworker bench ARGS": the same workload through the actor
// system, gotd's client and a bare container client, in alternating rounds
// on fresh servers; it prints medians and ratios (and with --json, --readme
// writes them). With --flood it is RunFlood (flood.go), with --fleet
// RunFleet (fleet.go; --fleet-sim is the tgsim process it starts,
// fleetsim.go), with --cluster RunCluster (cluster.go). Bad arguments are
// *cli.UsageError.
func Run(args []string, stdout, stderr io.Writer) error {
	for i, a := range args {
		if a == "--flood" || a == "-flood" {
			return RunFlood(append(args[:i:i], args[i+1:]...), stdout, stderr)
		}
		if a == "--fleet" || a == "-fleet" {
			return RunFleet(append(args[:i:i], args[i+1:]...), stdout, stderr)
		}
		if a == "--cluster" || a == "-cluster" {
			return RunCluster(append(args[:i:i], args[i+1:]...), stdout, stderr)
		}
		if a == "--fleet-sim" || a == "--serve" {
			return runChild(a, append(args[:i:i], args[i+1:]...), os.Stdin, stdout, stderr)
		}
	}
	var f benchFlags
	fs := cli.NewFlags("bench", stderr)
	fs.IntVar(&f.n, "n", 20000, "messages.sendMessage calls per run")
	fs.IntVar(&f.rounds, "rounds", 3, "rounds (A B A B …); figures are medians")
	fs.StringVar(&f.callers, "callers", "1,10,100,1000", "concurrent callers, comma-separated")
	fs.StringVar(&f.servers, "servers", "tgtest,tgsim", "servers: tgtest, tgsim")
	fs.StringVar(&f.jsonOut, "json", "", "also write the report as JSON to this file (- for stdout)")
	fs.StringVar(&f.readme, "readme", "", "replace the table between <!-- bench:start --> and <!-- bench:end --> in this file")
	fs.StringVar(&f.cpuprofile, "cpuprofile", "", "write a CPU profile of the whole run")
	fs.StringVar(&f.memprofile, "memprofile", "", "write a heap profile at the end")
	fs.StringVar(&f.queued, "queued", "10000,1000000", "queued-call counts for the heap figure (empty: skip)")
	fs.IntVar(&f.sendJobs, "send-jobs", 200_000, "tlworker send as a whole process beside the library: jobs per run (0: skip)")
	fs.StringVar(&f.sendServer, "send-server", "process", "where the send rows' server runs: process (a child process, as a remote server is for any client) or inproc (in the bench's process, beside the library's client)")
	fs.StringVar(&f.tlworker, "tlworker", "", "the tlworker binary whose send is measured (default this program)")
	fs.StringVar(&f.sendProfile, "send-cpuprofile", "", "pass --cpuprofile to tlworker send: FILE-tgsim.prof for FILE.prof, per server (the last round's)")
	fs.StringVar(&f.tracing, "tracing", "off,1,0.01", "the cost of tracing: the library with tracing off and at these sampling ratios (empty: skip)")
	fs.IntVar(&f.tracingCallers, "tracing-callers", 100, "concurrent callers for the tracing cost")
	fs.StringVar(&f.only, "only", "", "send: only the tlworker send rows (no callers table, tracing or heap figures)")
	if err := cli.ParseFlags(fs, args); err != nil {
		return err
	}
	if f.sendServer != "process" && f.sendServer != "inproc" {
		return cli.Usagef("--send-server %q: process or inproc", f.sendServer)
	}
	switch f.only {
	case "":
	case "send":
		if f.sendJobs == 0 || f.readme != "" {
			// --readme would replace the whole block with the send table.
			return cli.Usagef("--only send needs --send-jobs above 0, and no --readme")
		}
		f.callers, f.tracing, f.queued = "", "", ""
	default:
		return cli.Usagef("--only %q: the only choice is send", f.only)
	}
	var samples []float64
	if f.tracing != "" {
		var err error
		if samples, err = parseSamples(f.tracing); err != nil {
			return cli.Usagef("%v", err)
		}
	}
	if f.tracingCallers < 1 {
		return cli.Usagef("--tracing-callers must be at least 1")
	}
	var callers []int
	if f.callers != "" {
		for _, c := range strings.Split(f.callers, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(c))
			if err != nil || n < 1 {
				return cli.Usagef("--callers %q: want numbers like 1,10,100", f.callers)
			}
			callers = append(callers, n)
		}
	}
	if f.n < 100 || f.rounds < 1 || f.sendJobs < 0 {
		return cli.Usagef("-n must be at least 100, -rounds at least 1, -send-jobs at least 0")
	}
	if f.sendJobs > 0 && f.tlworker == "" {
		exe, err := os.Executable()
		if err != nil {
			return fmt.Errorf("--tlworker: %w", err)
		}
		f.tlworker = exe
	}
	if f.cpuprofile != "" {
		pf, err := os.Create(f.cpuprofile)
		if err != nil {
			return err
		}
		defer pf.Close()
		if err := pprof.StartCPUProfile(pf); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return err
	}
	rep := benchReport{
		Date: time.Now().UTC().Format("2006-01-02"), Machine: machine(),
		Command: "go run -tags bench ./cmd/tlworker bench " + strings.Join(args, " "), Calls: f.n, Rounds: f.rounds,
		Heap: map[string]float64{},
	}
	var servers []string
	for _, server := range strings.Split(f.servers, ",") {
		server = strings.TrimSpace(server)
		if server != "tgtest" && server != "tgsim" {
			return cli.Usagef("--servers: unknown server %q", server)
		}
		servers = append(servers, server)
	}
	for _, server := range servers {
		for _, c := range callers {
			var ours, gotd, bare []figures
			for r := range f.rounds {
				fmt.Fprintf(stderr, "%s, %d callers, round %d/%d\n", server, c, r+1, f.rounds)
				for _, who := range []string{"tlsched", "gotd", "bare"} {
					s, err := StartServer(server, key)
					if err != nil {
						return err
					}
					var fig figures
					switch who {
					case "tlsched":
						fig, err = runOurs(s, key, f.n, c)
						ours = append(ours, fig)
					case "gotd":
						fig, err = runGotd(s, key, f.n, c)
						gotd = append(gotd, fig)
					case "bare":
						fig, err = runBare(s, key, f.n)
						bare = append(bare, fig)
					}
					s.Stop()
					if err != nil {
						return fmt.Errorf("%s on %s, %d callers: %w", who, server, c, err)
					}
				}
			}
			row := benchRow{Server: server, Callers: c, Ours: median(ours), Gotd: median(gotd), Bare: median(bare)}
			row.Ratio = row.Ours.CallsPerSec / row.Gotd.CallsPerSec
			row.OfBare = row.Ours.CallsPerSec / row.Bare.CallsPerSec
			rep.Rows = append(rep.Rows, row)
		}
	}
	if f.sendJobs > 0 {
		rep.SendServer = f.sendServer
		rep.Send, err = sendRows(f, servers, key, func(format string, a ...any) { fmt.Fprintf(stderr, format+"\n", a...) })
		if err != nil {
			return err
		}
	}
	if len(samples) > 0 {
		rep.Tracing, err = tracingRows(servers, key, f.n, f.tracingCallers, f.rounds, samples, func(format string, a ...any) { fmt.Fprintf(stderr, format+"\n", a...) })
		if err != nil {
			return err
		}
	}
	if f.queued != "" {
		for _, q := range strings.Split(f.queued, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(q))
			if err != nil || n < 1 {
				return cli.Usagef("--queued %q: want numbers", f.queued)
			}
			fmt.Fprintf(stderr, "heap with %d queued calls\n", n)
			h, err := heapPerQueued(key, n)
			if err != nil {
				return err
			}
			rep.Heap[strconv.Itoa(n)] = h
		}
	}
	table := renderBench(rep)
	fmt.Fprint(stdout, table)
	if f.jsonOut != "" {
		b, _ := json.MarshalIndent(rep, "", "  ")
		if f.jsonOut == "-" {
			fmt.Fprintln(stdout, string(b))
		} else if err := os.WriteFile(f.jsonOut, append(b, '\n'), 0o644); err != nil {
			return err
		}
	}
	if f.readme != "" {
		if err := replaceBlock(f.readme, table); err != nil {
			return err
		}
	}
	if f.memprofile != "" {
		mf, err := os.Create(f.memprofile)
		if err != nil {
			return err
		}
		defer mf.Close()
		runtime.GC()
		if err := pprof.WriteHeapProfile(mf); err != nil {
			return err
		}
	}
	return nil
}

func median(fs []figures) figures {
	pick := func(get func(figures) float64) float64 {
		v := make([]float64, len(fs))
		for i, f := range fs {
			v[i] = get(f)
		}
		return medianOf(v)
	}
	return figures{
		CallsPerSec:   pick(func(f figures) float64 { return f.CallsPerSec }),
		P50us:         pick(func(f figures) float64 { return f.P50us }),
		P99us:         pick(func(f figures) float64 { return f.P99us }),
		BytesPerCall:  pick(func(f figures) float64 { return f.BytesPerCall }),
		FramesPerCall: pick(func(f figures) float64 { return f.FramesPerCall }),
		CPUPer10k:     pick(func(f figures) float64 { return f.CPUPer10k }),
	}
}

func medianOf(v []float64) float64 {
	sort.Float64s(v)
	return v[len(v)/2]
}

func renderBench(rep benchReport) string {
	var b bytes.Buffer
	fmt.Fprintf(&b, "Measured %s on %s, %d sendMessage calls per run, medians of %d rounds (tlsched, gotd, bare alternating, a fresh server each run):\n`%s`\n", rep.Date, rep.Machine, rep.Calls, rep.Rounds, rep.Command)
	if len(rep.Rows) > 0 {
		b.WriteString("\n")
		tw := tabwriter.NewWriter(&b, 0, 0, 1, ' ', 0)
		fmt.Fprintln(tw, "| server\t| callers\t| tlsched calls/s\t| gotd calls/s\t| ratio\t| bare ceiling calls/s\t| tlsched / ceiling\t| p50 µs tlsched / gotd\t| p99 µs tlsched / gotd\t| frames/call tlsched / gotd\t| bytes/call tlsched / gotd\t| CPU s per 10k tlsched / gotd\t|")
		fmt.Fprintln(tw, "| ---\t| ---\t| ---\t| ---\t| ---\t| ---\t| ---\t| ---\t| ---\t| ---\t| ---\t| ---\t|")
		for _, r := range rep.Rows {
			frames := "–"
			if r.Ours.FramesPerCall > 0 {
				frames = fmt.Sprintf("%.3f / %.2f", r.Ours.FramesPerCall, r.Gotd.FramesPerCall)
			}
			fmt.Fprintf(tw, "| %s\t| %d\t| %.0f\t| %.0f\t| %.2f×\t| %.0f\t| %.0f%%\t| %.0f / %.0f\t| %.0f / %.0f\t| %s\t| %.0f / %.0f\t| %.2f / %.2f\t|\n",
				r.Server, r.Callers, r.Ours.CallsPerSec, r.Gotd.CallsPerSec, r.Ratio, r.Bare.CallsPerSec, 100*r.OfBare,
				r.Ours.P50us, r.Gotd.P50us, r.Ours.P99us, r.Gotd.P99us, frames, r.Ours.BytesPerCall, r.Gotd.BytesPerCall,
				r.Ours.CPUPer10k, r.Gotd.CPUPer10k)
		}
		tw.Flush()
	}
	if len(rep.Send) > 0 {
		where := "in a process of its own for both, as a remote server is (--send-server process)"
		if rep.SendServer == "inproc" {
			where = "in the bench's process, beside the library's client (--send-server inproc)"
		}
		fmt.Fprintf(&b, "\n`tlworker send` as a whole process (JSON jobs in, result lines out, to \"me\") beside the library in process with as many callers as send has jobs in flight (2000), same server kind, same run, the server %s:\n\n", where)
		tw := tabwriter.NewWriter(&b, 0, 0, 1, ' ', 0)
		fmt.Fprintln(tw, "| server\t| jobs\t| send start-up s to first result, saved key / new key\t| send steady jobs/s\t| send end to end jobs/s\t| library calls/s\t| steady send / library\t| send exit s after last result\t| CPU s per 10k send / library\t|")
		fmt.Fprintln(tw, "| ---\t| ---\t| ---\t| ---\t| ---\t| ---\t| ---\t| ---\t| ---\t|")
		for _, r := range rep.Send {
			fmt.Fprintf(tw, "| %s\t| %d\t| %.3f / %.3f\t| %.0f\t| %.0f\t| %.0f\t| %.2f×\t| %.2f\t| %.2f / %.2f\t|\n",
				r.Server, r.Jobs, r.Send.StartupS, r.Send.NewKeyStartupS, r.Send.SteadyPerSec, r.Send.EndToEndPerSec, r.Library.CallsPerSec, r.Ratio, r.Send.ExitS, r.Send.CPUPer10k, r.Library.CPUPer10k)
		}
		tw.Flush()
	}
	if len(rep.Tracing) > 0 {
		b.WriteString("\nThe cost of tracing: the library in process, tracing off and on at each sampling ratio (spans and metrics recorded, batched and encoded as OTLP protobuf by the OTLP exporter; only the network send to a collector is left out), each call its own trace, the final flush inside the run:\n\n")
		tw := tabwriter.NewWriter(&b, 0, 0, 1, ' ', 0)
		fmt.Fprintln(tw, "| server\t| callers\t| tracing\t| calls/s\t| vs off\t| CPU s per 10k calls\t| p50 / p99 µs\t| spans exported per call\t|")
		fmt.Fprintln(tw, "| ---\t| ---\t| ---\t| ---\t| ---\t| ---\t| ---\t| ---\t|")
		for _, r := range rep.Tracing {
			mode := "off"
			if r.Sample >= 0 {
				mode = fmt.Sprintf("sample %g", r.Sample)
			}
			fmt.Fprintf(tw, "| %s\t| %d\t| %s\t| %.0f\t| %.2f×\t| %.2f\t| %.0f / %.0f\t| %.2f\t|\n",
				r.Server, r.Callers, mode, r.Figures.CallsPerSec, r.VsOff, r.Figures.CPUPer10k, r.Figures.P50us, r.Figures.P99us, r.SpansPerCall)
		}
		tw.Flush()
	}
	if len(rep.Heap) > 0 {
		var keys []int
		for k := range rep.Heap {
			n, _ := strconv.Atoi(k)
			keys = append(keys, n)
		}
		sort.Ints(keys)
		b.WriteString("\nHeap per queued call beyond the encoded request (tlsched only; gotd has no queue):")
		for _, k := range keys {
			fmt.Fprintf(&b, " %d queued: %.0f B;", k, rep.Heap[strconv.Itoa(k)])
		}
		b.WriteString("\n")
	}
	b.WriteString("\nCPU is the whole process's, the in-process server included (in the send rows: every process's, the server's, tlworker send's and the bench's reading its result lines); frames per call are counted by tgsim.\n")
	return b.String()
}

func machine() string {
	model := ""
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "model name") {
				model = strings.TrimSpace(l[strings.IndexByte(l, ':')+1:])
				break
			}
		}
	}
	return fmt.Sprintf("%s/%s, %d CPUs %s, %s", runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), model, runtime.Version())
}

// replaceBlock puts text between the bench markers of a file.
func replaceBlock(path, text string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	const start, end = "<!-- bench:start -->", "<!-- bench:end -->"
	s := string(b)
	i, j := strings.Index(s, start), strings.Index(s, end)
	if i < 0 || j < i {
		return fmt.Errorf("%s has no %s … %s block", path, start, end)
	}
	s = s[:i+len(start)] + "\n" + text + s[j:]
	return os.WriteFile(path, []byte(s), 0o644)
}
