package main

import (
	"bufio"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/tlsched/tlsched/actors"
	"github.com/tlsched/tlsched/cmd/tlworker/internal/jobs"
	"github.com/tlsched/tlsched/tgsim"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
	keyOnce   sync.Once
	simKey    *rsa.PrivateKey
)

// binary builds tlworker once per test run (with -race when the tests run
// with it, so the build reuses their compiled packages).
func buildBinary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "tlworker-e2e")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "tlworker")
		args := []string{"build", "-o", binPath}
		if raceEnabled {
			args = append(args, "-race")
		}
		out, err := exec.Command("go", append(args, ".")...).CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// simFor starts tgsim and writes its key; it returns the server and the
// flags that point tlworker at it.
func simFor(t *testing.T, cfg tgsim.Config) (*tgsim.Server, []string) {
	t.Helper()
	keyOnce.Do(func() { simKey, _ = rsa.GenerateKey(rand.Reader, 2048) })
	cfg.Key = simKey
	srv, err := tgsim.Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	keyFile := filepath.Join(t.TempDir(), "key.pem")
	if err := os.WriteFile(keyFile, srv.PublicKeyPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	var args []string
	for _, d := range srv.DCs() {
		args = append(args, "--dc", fmt.Sprintf("%d=%s", d.ID, d.Addr))
	}
	return srv, append(args, "--server-key", keyFile)
}

type line struct {
	ID     string          `json:"id"`
	OK     bool            `json:"ok"`
	Result json.RawMessage `json:"result"`
	Error  *jobs.Error     `json:"error"`
}

func readOut(t *testing.T, path string) map[string][]line {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got := map[string][]line{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var l line
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("result line %q: %v", sc.Text(), err)
		}
		got[l.ID] = append(got[l.ID], l)
	}
	return got
}

func writeJobs(t *testing.T, lines []string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "jobs.jsonl")
	if err := os.WriteFile(p, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestSendJobsEndToEnd(t *testing.T) {
	bin := buildBinary(t)
	srv, conn := simFor(t, tgsim.Config{}) // Telegram's bot limits
	jobs := []string{
		`{"id":"a1","method":"messages.sendMessage","params":{"peer":"@user1","message":"first"}}`,
		`{"id":"a2","method":"messages.sendMessage","params":{"peer":"@user2","message":"second"},"after":"a1"}`,
		`{"id":"a3","method":"messages.sendMessage","params":{"peer":"@user3","message":"third"},"after":"a2"}`,
		`not json at all`,
		`{"method":"help.getNearestDc"}`,
		`{"id":"b1","method":"messages.sendMedia","params":{"peer":"@user1"}}`,
		`{"id":"b2","method":"messages.nope","params":{}}`,
		`{"id":"b3","method":"messages.sendMessage","params":{"peer":"@nobody_here","message":"x"}}`,
		`{"id":"b4","method":"messages.sendMessage","params":{"peer":"@user1","message":"x"},"after":"zz"}`,
		`{"id":"c1","method":"users.getUsers","params":{"id":["me","@user3"]},"dc":2}`,
	}
	// Flood-prone: 22 messages into one group, whose limit is 20 a minute.
	for i := range 22 {
		jobs = append(jobs, fmt.Sprintf(`{"id":"f%d","method":"messages.sendMessage","params":{"peer":"@supergroup1","message":"flood %d"}}`, i, i))
	}
	out := filepath.Join(t.TempDir(), "out.jsonl")
	cmd := exec.Command(bin, append([]string{"send", "--jobs", writeJobs(t, jobs), "--out", out, "--progress", "none"}, conn...)...)
	b, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("tlworker send: %v\n%s", err, b)
	}
	got := readOut(t, out)
	ids := []string{"a1", "a2", "a3", "line 4", "line 5", "b1", "b2", "b3", "b4", "c1"}
	for i := range 22 {
		ids = append(ids, fmt.Sprintf("f%d", i))
	}
	for _, id := range ids {
		if len(got[id]) != 1 {
			t.Fatalf("job %s has %d result lines, want 1 (all: %v)", id, len(got[id]), got)
		}
	}
	for _, id := range []string{"a1", "a2", "a3", "c1", "f0", "f21"} {
		if !got[id][0].OK {
			t.Errorf("job %s failed: %+v", id, got[id][0].Error)
		}
	}
	for id, want := range map[string]string{
		"line 4": "line 4: not a job", "line 5": `line 5: job has no "id"`, "b1": "line 6: params.media: missing required field",
		"b2": `line 7: unknown method "messages.nope"`, "b3": "USERNAME_NOT_OCCUPIED", "b4": `"after": no job "zz"`,
	} {
		e := got[id][0].Error
		if got[id][0].OK || e == nil || e.Code != 0 || !strings.Contains(e.Message, want) {
			t.Errorf("job %s: %+v, want code 0 and %q", id, e, want)
		}
	}
	c := srv.Counters()
	if c.FloodWaits["messages.sendMessage"] == 0 || c.IgnoredWaits != 0 {
		t.Fatalf("flood waits %v, ignored %d: the group's limit was not met and honoured", c.FloodWaits, c.IgnoredWaits)
	}
	if c.MessagesStored != 3+22 {
		t.Fatalf("messages stored %d, want 25", c.MessagesStored)
	}
}

func TestSendInterruptAndResume(t *testing.T) {
	bin := buildBinary(t)
	srv, conn := simFor(t, tgsim.Config{Flood: tgsim.FloodConfig{Off: true}})
	const n = 3000
	jobs := make([]string, n)
	for i := range jobs {
		jobs[i] = fmt.Sprintf(`{"id":"m%d","method":"messages.sendMessage","params":{"peer":"@user%d","message":"m %d"}}`, i, i%1000+1, i)
	}
	jobsFile := writeJobs(t, jobs)
	out := filepath.Join(t.TempDir(), "out.jsonl")

	// A slow run (500 jobs/s), interrupted once its progress shows 500 done.
	cmd := exec.Command(bin, append([]string{"send", "--jobs", jobsFile, "--out", out, "--progress", "plain", "--rate", "500"}, conn...)...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stderr)
	var log []string
	for sc.Scan() {
		log = append(log, sc.Text())
		var done int
		if _, err := fmt.Sscanf(sc.Text(), "calls %d", &done); err == nil && done >= 500 {
			if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
				t.Fatal(err)
			}
			break
		}
	}
	rest, _ := io.ReadAll(stderr)
	err = cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code != 1 || !strings.Contains(string(rest), "--resume") {
		t.Fatalf("interrupted run: exit %d (%v), want 1 and a hint to --resume; stderr:\n%s\n%s", code, err, strings.Join(log, "\n"), rest)
	}
	first := readOut(t, out)
	if len(first) == 0 || len(first) >= n {
		t.Fatalf("the interrupted run wrote %d results; want some, not all", len(first))
	}

	// The rerun finishes the rest.
	b, err := exec.Command(bin, append([]string{"send", "--jobs", jobsFile, "--out", out, "--progress", "none", "--resume"}, conn...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("--resume: %v\n%s", err, b)
	}
	got := readOut(t, out)
	for i := range n {
		id := fmt.Sprintf("m%d", i)
		if len(got[id]) != 1 || !got[id][0].OK {
			t.Fatalf("job %s: %d lines %+v", id, len(got[id]), got[id])
		}
	}
	// The server saw every message exactly once.
	if c := srv.Counters(); c.MessagesStored != n {
		t.Fatalf("tgsim stored %d messages for %d jobs (duplicates suppressed: %d)", c.MessagesStored, n, c.Duplicates)
	}
}

func TestExitCodes(t *testing.T) {
	bin := buildBinary(t)
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{}, 2, "tlworker: send Telegram"},
		{[]string{"frobnicate"}, 2, "unknown command"},
		{[]string{"send", "--out", "x"}, 2, "--jobs and --out are required"},
		{[]string{"send", "--jobs", "-", "--out", "-", "--dc", "2=127.0.0.1:1"}, 2, "--dc needs --server-key"},
		{[]string{"send", "--jobs", "-", "--out", "-"}, 2, "needs --api-id and --api-hash"},
		{[]string{"describe", "messages.nope"}, 1, "unknown method"},
		{[]string{"send", "--jobs", "-", "--out", "-", "--redial-max", "-1s"}, 2, "--redial-max cannot be negative"},
	} {
		cmd := exec.Command(bin, tc.args...)
		cmd.Env = append(os.Environ(), "TLSCHED_API_ID=", "TLSCHED_API_HASH=")
		b, _ := cmd.CombinedOutput()
		if cmd.ProcessState.ExitCode() != tc.code || !strings.Contains(string(b), tc.want) {
			t.Errorf("tlworker %v: exit %d, output %q; want %d and %q", tc.args, cmd.ProcessState.ExitCode(), b, tc.code, tc.want)
		}
	}
	// A server that cannot be reached: exit 1, one line.
	_, conn := simFor(t, tgsim.Config{})
	for i, a := range conn {
		if a == "--dc" {
			conn[i+1] = "2=127.0.0.1:1"
		}
	}
	cmd := exec.Command(bin, append([]string{"send", "--jobs", writeJobs(t, []string{`{"id":"x","method":"help.getNearestDc"}`}), "--out", "-", "--connect-timeout", "2s"}, conn[len(conn)-4:]...)...)
	b, _ := cmd.CombinedOutput()
	if cmd.ProcessState.ExitCode() != 1 || !strings.Contains(string(b), "cannot reach the server") || strings.Count(strings.TrimSpace(string(b)), "\n") != 0 {
		t.Fatalf("unreachable server: exit %d, %q", cmd.ProcessState.ExitCode(), b)
	}
}

func TestLoginThenSend(t *testing.T) {
	t.Parallel() // it waits on reconnects and signals more than it computes
	bin := buildBinary(t)
	srv, conn := simFor(t, tgsim.Config{RequireLogin: true})
	session := filepath.Join(t.TempDir(), "s.json")
	b, err := exec.Command(bin, append([]string{"login", "--session", session, "--bot-token", srv.BotToken()}, conn...)...).CombinedOutput()
	if err != nil || !strings.Contains(string(b), "home DC 2") {
		t.Fatalf("login: %v\n%s", err, b)
	}
	for _, f := range []string{session, actors.AccountPath(session)} {
		if fi, err := os.Stat(f); err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("%s: %v %v", f, fi, err)
		}
	}
	jobs := writeJobs(t, []string{`{"id":"s1","method":"messages.sendMessage","params":{"peer":"@user9","message":"after login"}}`})
	out := filepath.Join(t.TempDir(), "out.jsonl")
	if b, err := exec.Command(bin, append([]string{"send", "--session", session, "--jobs", jobs, "--out", out, "--progress", "none"}, conn...)...).CombinedOutput(); err != nil {
		t.Fatalf("send after login: %v\n%s", err, b)
	}
	if l := readOut(t, out)["s1"]; len(l) != 1 || !l[0].OK {
		t.Fatalf("s1: %+v", l)
	}
	// Logging in again on the session send used (a bbolt store now) works,
	// and so does sending after it.
	if b, err := exec.Command(bin, append([]string{"login", "--session", session, "--bot-token", srv.BotToken()}, conn...)...).CombinedOutput(); err != nil {
		t.Fatalf("login again on the session send used: %v\n%s", err, b)
	}
	if b, err := exec.Command(bin, append([]string{"send", "--session", session, "--jobs", jobs, "--out", out + "2", "--progress", "none"}, conn...)...).CombinedOutput(); err != nil {
		t.Fatalf("send after the second login: %v\n%s", err, b)
	}
	// The token may come from the environment instead of argv.
	cmd := exec.Command(bin, append([]string{"login", "--session", filepath.Join(t.TempDir(), "env.json")}, conn...)...)
	cmd.Env = append(os.Environ(), "TLSCHED_BOT_TOKEN="+srv.BotToken())
	if b, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(b), "home DC 2") {
		t.Fatalf("login with TLSCHED_BOT_TOKEN: %v\n%s", err, b)
	}
	// A wrong token is rejected: exit 1.
	cmd = exec.Command(bin, append([]string{"login", "--session", filepath.Join(t.TempDir(), "x"), "--bot-token", "1:bad"}, conn...)...)
	b, _ = cmd.CombinedOutput()
	if cmd.ProcessState.ExitCode() != 1 || !strings.Contains(string(b), "ACCESS_TOKEN_INVALID") {
		t.Fatalf("bad token: exit %d %s", cmd.ProcessState.ExitCode(), b)
	}
}
