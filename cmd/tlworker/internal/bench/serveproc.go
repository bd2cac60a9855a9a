package bench

import (
	"bufio"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/tlsched/tlsched/cmd/tlworker/internal/cli"
)

// The send rows' server runs in a process of its own ("tlworker bench
// --serve", started by startServerProcess), as Telegram does for every
// user: the library's run (an embedding service) and tlworker send's run
// are then the same shape, one client process beside one server process,
// and neither shares a Go runtime with the server. With the server in the
// bench's process (--send-server inproc, the figures before 2026-12-02),
// the library's client and the server handed frames to each other inside
// one runtime while tlworker send's crossed between two processes, a cost
// that is the topology's, not the sender's.
//
// The child serves DC 2 (StartServer: tgtest or tgsim, with the key
// from -key FILE, PKCS#1 PEM) and talks on its standard streams:
//
//   - its first stdout line is a serveHello (JSON): the DC's address;
//   - each "stats" line on its stdin is answered with a serveStats line
//     (its own CPU so far, the frames tgsim read);
//   - it stops the server and exits when its stdin closes.

type serveHello struct {
	Addr string `json:"addr"`
}

type serveStats struct {
	CPUNanos int64 `json:"cpu_ns"`
	Frames   int64 `json:"frames"`
}

// runServe is "tlworker bench --serve": the child's side.
func runServe(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := cli.NewFlags("bench --serve", stderr)
	kind := fs.String("server", "tgtest", "tgtest or tgsim")
	keyFile := fs.String("key", "", "the server's RSA private key (PKCS#1 PEM)")
	if err := cli.ParseFlags(fs, args); err != nil {
		return err
	}
	data, err := os.ReadFile(*keyFile)
	if err != nil {
		return err
	}
	blk, _ := pem.Decode(data)
	if blk == nil {
		return fmt.Errorf("bench --serve: %s holds no PEM block", *keyFile)
	}
	key, err := x509.ParsePKCS1PrivateKey(blk.Bytes)
	if err != nil {
		return fmt.Errorf("bench --serve: %s: %w", *keyFile, err)
	}
	if *kind != "tgtest" && *kind != "tgsim" {
		return cli.Usagef("bench --serve: -server %q: tgtest or tgsim", *kind)
	}
	s, err := StartServer(*kind, key)
	if err != nil {
		return err
	}
	defer s.Stop()
	enc := json.NewEncoder(stdout)
	if err := enc.Encode(serveHello{Addr: s.Addr}); err != nil {
		return err
	}
	sc := bufio.NewScanner(stdin)
	for sc.Scan() {
		switch strings.TrimSpace(sc.Text()) {
		case "stats":
			st := serveStats{CPUNanos: int64(cpuNow())}
			if s.Frames != nil {
				st.Frames = s.Frames()
			}
			if err := enc.Encode(st); err != nil {
				return err
			}
		default:
			return fmt.Errorf("bench --serve: unknown command %q", sc.Text())
		}
	}
	return sc.Err()
}

// runChild runs the child side of flag: "tlworker bench --fleet-sim" or
// "--serve".
func runChild(flag string, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if flag == "--fleet-sim" {
		return runFleetSim(args, stdin, stdout, stderr)
	}
	return runServe(args, stdin, stdout, stderr)
}

// writeServerKey writes key as PKCS#1 PEM to path (0600), for -key.
func writeServerKey(path string, key *rsa.PrivateKey) error {
	der := x509.MarshalPKCS1PrivateKey(key)
	return os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: der}), 0o600)
}

// childEnv names the child a process of the bench is (its flag: --serve,
// --fleet-sim), for programs that are not tlworker (ChildMain).
const childEnv = "TLSCHED_BENCH_CHILD"

// childCommand makes the command that runs "tlworker bench FLAG ARGS" (a
// child of the bench: --serve, --fleet-sim) with this program, and tells
// it in childEnv too: a test binary running the bench is its own child
// through ChildMain.
func childCommand(flag string, args []string) (*exec.Cmd, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe, append([]string{"bench", flag}, args...)...)
	cmd.Env = append(os.Environ(), childEnv+"="+flag)
	return cmd, nil
}

// ChildMain runs this process as a child of the bench, and exits, when the
// bench started it as one (childCommand); else it returns. tlworker finds
// its child by its arguments ("bench --serve"); a test binary that runs
// the bench calls ChildMain first thing in its TestMain.
func ChildMain() {
	flag := os.Getenv(childEnv)
	if flag == "" {
		return
	}
	args := os.Args[1:]
	if len(args) >= 2 && args[0] == "bench" && args[1] == flag {
		args = args[2:]
	}
	if err := runChild(flag, args, os.Stdin, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(0)
}

// child is the bench's handle on one of its child processes (--serve,
// --fleet-sim): it writes commands to the child's stdin and reads one JSON
// line per answer from its stdout.
type child struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Scanner
	// timeout, if set, bounds each read: a child that stops answering is
	// killed, its stdout closes and the read fails, rather than hang the
	// bench.
	timeout time.Duration
}

// startChild starts "tlworker bench FLAG ARGS" with room for answer lines
// of up to maxLine bytes.
func startChild(flag string, args []string, maxLine int, timeout time.Duration) (*child, error) {
	cmd, err := childCommand(flag, args)
	if err != nil {
		return nil, err
	}
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start bench %s process: %w", flag, err)
	}
	c := &child{cmd: cmd, in: in, out: bufio.NewScanner(out), timeout: timeout}
	c.out.Buffer(make([]byte, 64<<10), maxLine)
	return c, nil
}

// read decodes the child's next line into v.
func (c *child) read(v any) error {
	if c.timeout > 0 {
		t := time.AfterFunc(c.timeout, func() { _ = c.cmd.Process.Kill() })
		defer t.Stop()
	}
	if !c.out.Scan() {
		if err := c.out.Err(); err != nil {
			return err
		}
		return io.ErrUnexpectedEOF
	}
	return json.Unmarshal(c.out.Bytes(), v)
}

// ask writes command to the child and decodes its answer into v.
func (c *child) ask(command string, v any) error {
	if _, err := io.WriteString(c.in, command+"\n"); err != nil {
		return err
	}
	return c.read(v)
}

// stop closes the child's stdin and waits for it to exit, killing it
// after 10 s.
func (c *child) stop() error {
	c.in.Close()
	done := make(chan error, 1)
	go func() { done <- c.cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(10 * time.Second):
		_ = c.cmd.Process.Kill()
		return <-done
	}
}

// startServerProcess starts a "bench --serve" child with the key in
// keyFile. The Server's CPU reads the child's CPU (its server's) so far.
func startServerProcess(kind, keyFile string) (*Server, error) {
	c, err := startChild("--serve", []string{"-server", kind, "-key", keyFile}, 64<<10, serveReadTimeout)
	if err != nil {
		return nil, err
	}
	var hello serveHello
	if err := c.read(&hello); err != nil {
		c.stop()
		return nil, fmt.Errorf("%s process: %w", kind, err)
	}
	// stats asks the child for its figures; the first failure sticks
	// (Server.Err), as the figures read after it are wrong. One goroutine
	// at a time: the bench reads figures from its measuring goroutine.
	var failed error
	stats := func() serveStats {
		var st serveStats
		if failed != nil {
			return st
		}
		if err := c.ask("stats", &st); err != nil {
			failed = fmt.Errorf("%s process: reading its figures: %w", kind, err)
		}
		return st
	}
	s := &Server{Addr: hello.Addr, Stop: func() { _ = c.stop() },
		CPU: func() time.Duration { return time.Duration(stats().CPUNanos) },
		Err: func() error { return failed }}
	if kind == "tgsim" {
		s.Frames = func() int64 { return stats().Frames }
	}
	return s, nil
}

// serveReadTimeout bounds each read of a "bench --serve" child's line.
const serveReadTimeout = 30 * time.Second
