package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/gotd/td/tg"

	"github.com/tlsched/tlsched/cmd/tlworker/internal/jobs"
	"github.com/tlsched/tlsched/tgsim"
)

// accountsWorld is a tgsim with three bots that must log in, and an
// --accounts file naming them a, b and c (in order's order).
func accountsWorld(t *testing.T) (*tgsim.Server, []string, map[string]int64, func(order ...string) string) {
	t.Helper()
	srv, conn := simFor(t, tgsim.Config{
		Flood: tgsim.FloodConfig{Off: true}, RequireLogin: true,
		World: tgsim.WorldConfig{Users: 40, Bots: 3},
	})
	bots := srv.Bots()
	ids := map[string]int64{"a": bots[0].ID, "b": bots[1].ID, "c": bots[2].ID}
	tokens := map[string]string{"a": bots[0].Token, "b": bots[1].Token, "c": bots[2].Token}
	dir := t.TempDir()
	n := 0
	file := func(order ...string) string {
		n++
		p := filepath.Join(dir, fmt.Sprintf("accounts%d.txt", n))
		var b strings.Builder
		b.WriteString("# three bots of tgsim\n\n")
		for _, name := range order {
			fmt.Fprintf(&b, "%s %s\n", name, tokens[name])
		}
		if err := os.WriteFile(p, []byte(b.String()), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	return srv, conn, ids, file
}

type accountLineOut struct {
	ID      string      `json:"id"`
	Account string      `json:"account"`
	OK      bool        `json:"ok"`
	Error   *jobs.Error `json:"error"`
}

func readAccountsOut(t *testing.T, path string) map[string][]accountLineOut {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got := map[string][]accountLineOut{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var l accountLineOut
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("result line %q: %v", sc.Text(), err)
		}
		got[l.ID] = append(got[l.ID], l)
	}
	return got
}

// broadcastJobs is rounds messages to each of users (@user1…): the odd
// users' messages chained one after the other ("after"), the even users'
// free. Job "uU-R" says "uU mR".
func broadcastJobs(users, rounds int) []string {
	var out []string
	for r := range rounds {
		for u := 1; u <= users; u++ {
			after := ""
			if u%2 == 1 && r > 0 {
				after = fmt.Sprintf(`,"after":"u%d-%d"`, u, r-1)
			}
			out = append(out, fmt.Sprintf(`{"id":"u%d-%d","method":"messages.sendMessage","params":{"peer":"@user%d","message":"u%d m%d"}%s}`, u, r, u, u, r, after))
		}
	}
	return out
}

// checkChats checks, from tgsim's stored messages, that each user's
// messages were all sent by one bot, once each (in order for the chained
// users), and that the result lines name that bot. It returns user →
// account.
func checkChats(t *testing.T, srv *tgsim.Server, ids map[string]int64, got map[string][]accountLineOut, users, rounds int) map[int]string {
	t.Helper()
	byUser := map[int]string{}
	userIDs := srv.Users()
	for u := 1; u <= users; u++ {
		peer := &tg.PeerUser{UserID: userIDs[u-1].ID}
		want := make([]string, rounds)
		for r := range want {
			want[r] = fmt.Sprintf("u%d m%d", u, r)
		}
		var senders []string
		for name, id := range ids {
			texts := srv.HistoryTexts(id, peer)
			if len(texts) == 0 {
				continue
			}
			senders = append(senders, name)
			w := want
			if u%2 == 0 { // free jobs: each once, in any order
				slices.Sort(texts)
				w = slices.Sorted(slices.Values(want))
			}
			if !slices.Equal(texts, w) {
				t.Errorf("@user%d from %s: %q, want %q", u, name, texts, want)
			}
		}
		if len(senders) != 1 {
			t.Errorf("@user%d got messages from %v, want one account", u, senders)
			continue
		}
		byUser[u] = senders[0]
		for r := range rounds {
			id := fmt.Sprintf("u%d-%d", u, r)
			if ls := got[id]; len(ls) != 1 || !ls[0].OK || ls[0].Account != senders[0] {
				t.Errorf("job %s: lines %+v, want one ok line from account %s", id, ls, senders[0])
			}
		}
	}
	return byUser
}

// A job file over three bots: every job gets one result line naming its
// account; each chat's jobs are all sent by one account (in order when
// chained); every account gets some chats; a job naming an account goes
// there; an unknown account fails that job only.
func TestSendAccountsSpreadsChatsAndKeepsThem(t *testing.T) {
	bin := buildBinary(t)
	srv, conn, ids, accountsFile := accountsWorld(t)
	const users, rounds = 30, 4
	js := broadcastJobs(users, rounds)
	js = append(js,
		`{"id":"named","method":"messages.sendMessage","params":{"peer":"@user35","message":"named to b"},"account":"b"}`,
		`{"id":"unknown","method":"messages.sendMessage","params":{"peer":"@user36","message":"x"},"account":"nope"}`,
		`{"id":"after-named","method":"messages.sendMessage","params":{"peer":"@user37","message":"after named"},"after":"named"}`,
	)
	out := filepath.Join(t.TempDir(), "out.jsonl")
	cmd := exec.Command(bin, append([]string{"send", "--accounts", accountsFile("a", "b", "c"), "--jobs", writeJobs(t, js), "--out", out, "--progress", "none"}, conn...)...)
	b, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("tlworker send: %v\n%s", err, b)
	}
	got := readAccountsOut(t, out)
	if len(got) != len(js) {
		t.Errorf("%d jobs have result lines, want %d", len(got), len(js))
	}
	byUser := checkChats(t, srv, ids, got, users, rounds)
	chats := map[string]int{}
	for _, a := range byUser {
		chats[a]++
	}
	for name := range ids {
		if chats[name] == 0 {
			t.Errorf("account %s got no chat: %v", name, chats)
		}
	}
	users35 := srv.Users()
	if l := got["named"]; len(l) != 1 || !l[0].OK || l[0].Account != "b" ||
		!slices.Equal(srv.HistoryTexts(ids["b"], &tg.PeerUser{UserID: users35[34].ID}), []string{"named to b"}) {
		t.Errorf("named job: %+v, b's history %q", l, srv.HistoryTexts(ids["b"], &tg.PeerUser{UserID: users35[34].ID}))
	}
	if l := got["after-named"]; len(l) != 1 || !l[0].OK || l[0].Account != "b" {
		t.Errorf("job chained after the named one: %+v, want sent by b", l)
	}
	if l := got["unknown"]; len(l) != 1 || l[0].OK || l[0].Error == nil || !strings.Contains(l[0].Error.Message, `no account "nope"`) {
		t.Errorf("job naming an unknown account: %+v", l)
	}
	for name := range ids {
		if !strings.Contains(string(b), "\n  "+name+" ") {
			t.Errorf("summary has no line for account %s:\n%s", name, b)
		}
	}
}

// A run that did part of the file, then --resume with the accounts listed
// the other way round (a fresh pool would deal the chats out differently):
// every chat keeps the account that sent its first messages.
func TestSendAccountsResumeKeepsChatAccounts(t *testing.T) {
	bin := buildBinary(t)
	srv, conn, ids, accountsFile := accountsWorld(t)
	const users, rounds = 30, 4
	js := broadcastJobs(users, rounds)
	out := filepath.Join(t.TempDir(), "out.jsonl")
	// The partial run: the first two rounds, and round 2 of the first ten users.
	partial := append(slices.Clone(js[:2*users]), js[2*users:2*users+10]...)
	b, err := exec.Command(bin, append([]string{"send", "--accounts", accountsFile("a", "b", "c"), "--jobs", writeJobs(t, partial), "--out", out, "--progress", "none"}, conn...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("partial run: %v\n%s", err, b)
	}
	first := map[string]string{}
	for id, ls := range readAccountsOut(t, out) {
		first[id] = ls[0].Account
	}
	b, err = exec.Command(bin, append([]string{"send", "--accounts", accountsFile("c", "b", "a"), "--jobs", writeJobs(t, js), "--out", out, "--progress", "none", "--resume"}, conn...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("--resume: %v\n%s", err, b)
	}
	got := readAccountsOut(t, out)
	byUser := checkChats(t, srv, ids, got, users, rounds)
	for u := 1; u <= users; u++ {
		if a := first[fmt.Sprintf("u%d-0", u)]; a != byUser[u] {
			t.Errorf("@user%d: first run's account %s, after --resume %s", u, a, byUser[u])
		}
	}
}

// A bad line in --accounts is a usage error naming FILE:LINE and what is
// wrong, before anything connects.
func TestSendAccountsBadLine(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()
	for _, tc := range []struct{ file, want string }{
		{"# bots\na 123:AAbcdefghijklmnop\nb one two\n", ":3: want [NAME] TOKEN-OR-SESSION-FILE, got 3 fields"},
		{"a 123:AAbcdefghijklmnop\na 456:AAbcdefghijklmnop\n", `:2: account name "a" is line 1's already`},
		{"\n123:short\n", `:2: "123:short" is not a bot token`},
		{"x " + filepath.Join(dir, "nosuch.session") + "\n", ":1: session file"},
	} {
		p := filepath.Join(dir, "accounts.txt")
		if err := os.WriteFile(p, []byte(tc.file), 0o600); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(bin, "send", "--accounts", p, "--jobs", p, "--out", filepath.Join(dir, "out.jsonl"), "--dc", "1=127.0.0.1:1", "--server-key", p)
		b, _ := cmd.CombinedOutput()
		if code := cmd.ProcessState.ExitCode(); code != 2 || !strings.Contains(string(b), p+tc.want) {
			t.Errorf("accounts file %q: exit %d, output %q; want exit 2 and %q", tc.file, code, b, p+tc.want)
		}
	}
}

// demo --accounts 3: the bulk spread over three bots, each of which
// tgsim saw store the messages the summary says it sent.
func TestDemoAccounts(t *testing.T) {
	bin := buildBinary(t)
	out, err := exec.Command(bin, "demo", "-n", "300", "-progress", "none", "--accounts", "3").CombinedOutput()
	if err != nil {
		t.Fatalf("tlworker demo --accounts 3: %v\n%s", err, out)
	}
	var bots, total int
	for _, l := range strings.Split(string(out), "\n") {
		var name string
		var ok, failed, chats, stored int
		if _, err := fmt.Sscanf(strings.TrimSpace(l), "%s %d ok, %d failed; %d chats; tgsim stored %d messages from it", &name, &ok, &failed, &chats, &stored); err != nil {
			continue
		}
		bots++
		total += ok
		if ok == 0 || chats == 0 || failed != 0 || stored < ok {
			t.Errorf("bot line %q: want some chats and messages, none failed, tgsim storing them", l)
		}
	}
	if bots != 3 || total != 300-floodChain {
		t.Fatalf("%d bot lines sending %d messages; want 3 bots, %d (the bulk)\n%s", bots, total, 300-floodChain, out)
	}
}

// Interrupted mid-run while the server loses some answers (those jobs ran
// and get no line: a rerun sends them again), then --resume with the
// accounts listed the other way round: each chat's messages all come from
// one bot, and the server stored every message exactly once, the resent
// ones deduplicated — a job resent by another account would be a second
// message (random_id deduplicates per account).
func TestSendAccountsInterruptAndResume(t *testing.T) {
	t.Parallel() // it waits on reconnects and signals more than it computes
	bin := buildBinary(t)
	srv, conn, ids, accountsFile := accountsWorld(t)
	const users, rounds = 40, 50
	js := broadcastJobs(users, rounds)
	jobsFile := writeJobs(t, js)
	out := filepath.Join(t.TempDir(), "out.jsonl")

	cmd := exec.Command(bin, append([]string{"send", "--accounts", accountsFile("a", "b", "c"), "--jobs", jobsFile, "--out", out, "--progress", "plain", "--rate", "500", "--drain-timeout", "0"}, conn...)...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stderr)
	var log []string
	faultAt := -1
	for sc.Scan() {
		log = append(log, sc.Text())
		var done int
		if _, err := fmt.Sscanf(sc.Text(), "calls %d", &done); err != nil {
			continue
		}
		if done >= 300 && faultAt < 0 {
			// From here a third of the answers are lost: those jobs ran,
			// and stay in flight until the interrupt drops them.
			srv.SetFaults(tgsim.Faults{DropResults: 0.3})
			faultAt = done
			continue
		}
		// Interrupted once answers were lost: a progress line after the
		// one that turned the fault on (lines come at intervals, not per
		// call), with 200 more calls done.
		if faultAt >= 0 && done >= faultAt+200 {
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
	srv.SetFaults(tgsim.Faults{})
	first := readAccountsOut(t, out)
	if len(first) == 0 || len(first) >= len(js) {
		t.Fatalf("the interrupted run wrote %d results; want some, not all", len(first))
	}
	b, err := exec.Command(bin, append([]string{"send", "--accounts", accountsFile("c", "b", "a"), "--jobs", jobsFile, "--out", out, "--progress", "none", "--resume"}, conn...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("--resume: %v\n%s", err, b)
	}
	checkChats(t, srv, ids, readAccountsOut(t, out), users, rounds)
	c := srv.Counters()
	if c.MessagesStored != int64(len(js)) {
		t.Fatalf("tgsim stored %d messages for %d jobs (duplicates suppressed: %d)", c.MessagesStored, len(js), c.Duplicates)
	}
	if c.Duplicates == 0 {
		t.Fatalf("no job that ran without an answer was sent again: the test did not make any\n%s", rest)
	}
}

// An --accounts line may be a session file from tlworker login: that
// account sends with its saved key (no login at start), beside token
// accounts; a job naming it goes through it.
func TestSendAccountsSessionFile(t *testing.T) {
	bin := buildBinary(t)
	srv, conn, ids, _ := accountsWorld(t)
	bots := srv.Bots()
	dir := t.TempDir()
	session := filepath.Join(dir, "first.json")
	if b, err := exec.Command(bin, append([]string{"login", "--session", session, "--bot-token", bots[0].Token}, conn...)...).CombinedOutput(); err != nil {
		t.Fatalf("login: %v\n%s", err, b)
	}
	accounts := filepath.Join(dir, "accounts.txt")
	if err := os.WriteFile(accounts, []byte(session+"\nb "+bots[1].Token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	const users, rounds = 10, 3
	js := append(broadcastJobs(users, rounds),
		`{"id":"named","method":"messages.sendMessage","params":{"peer":"@user20","message":"via the session"},"account":"first"}`)
	out := filepath.Join(dir, "out.jsonl")
	b, err := exec.Command(bin, append([]string{"send", "--accounts", accounts, "--jobs", writeJobs(t, js), "--out", out, "--progress", "none"}, conn...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("tlworker send: %v\n%s", err, b)
	}
	got := readAccountsOut(t, out)
	checkChats(t, srv, map[string]int64{"first": ids["a"], "b": ids["b"]}, got, users, rounds)
	u20 := &tg.PeerUser{UserID: srv.Users()[19].ID}
	if l := got["named"]; len(l) != 1 || !l[0].OK || l[0].Account != "first" || !slices.Equal(srv.HistoryTexts(ids["a"], u20), []string{"via the session"}) {
		t.Fatalf("job named to the session account: %+v; bot a's history %q", l, srv.HistoryTexts(ids["a"], u20))
	}
	if n := srv.AccountCounters(ids["a"]).Logins; n != 1 {
		t.Errorf("the session's bot logged in %d times, want once (tlworker login only)", n)
	}
}

// With --session FILE, the token accounts' keys are kept in FILE (a
// namespace each): the second run logs none in again. A kept login whose
// authorization was revoked since (terminated from another device) is
// found at start and logs in again, instead of failing every job of its
// chats.
func TestSendAccountsKeepKeys(t *testing.T) {
	bin := buildBinary(t)
	srv, conn, ids, accountsFile := accountsWorld(t)
	dir := t.TempDir()
	store := filepath.Join(dir, "fleet.db")
	accounts := accountsFile("a", "b", "c")
	const runs = 3
	for run := range runs {
		if run == 2 {
			srv.RevokeAuthorizations(ids["b"])
		}
		js := []string{fmt.Sprintf(`{"id":"r%d","method":"messages.sendMessage","params":{"peer":"@user1","message":"run %d"}}`, run, run)}
		for _, name := range []string{"a", "b", "c"} {
			js = append(js, fmt.Sprintf(`{"id":"%s%d","method":"messages.sendMessage","params":{"peer":"@user2","message":"%s %d"},"account":%q}`, name, run, name, run, name))
		}
		out := filepath.Join(dir, fmt.Sprintf("out%d.jsonl", run))
		b, err := exec.Command(bin, append([]string{"send", "--accounts", accounts, "--session", store, "--jobs", writeJobs(t, js), "--out", out, "--progress", "none"}, conn...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("run %d: %v\n%s", run, err, b)
		}
		for id, ls := range readAccountsOut(t, out) {
			if len(ls) != 1 || !ls[0].OK {
				t.Fatalf("run %d, job %s: %+v\n%s", run, id, ls, b)
			}
		}
	}
	for name, id := range ids {
		want := int64(1) // in the first run only
		if name == "b" {
			want = 2 // and again after the revocation
		}
		if n := srv.AccountCounters(id).Logins; n != want {
			t.Errorf("bot %s logged in %d times in %d runs, want %d", name, n, runs, want)
		}
		u2 := &tg.PeerUser{UserID: srv.Users()[1].ID}
		if got := srv.HistoryTexts(id, u2); !slices.Equal(got, []string{name + " 0", name + " 1", name + " 2"}) {
			t.Errorf("bot %s's messages to @user2: %q", name, got)
		}
	}
}

// With --pacing, each account paces its own writes, and the run ends with
// each account's pacing summary.
func TestSendAccountsPacingSummary(t *testing.T) {
	bin := buildBinary(t)
	_, conn, _, accountsFile := accountsWorld(t)
	out := filepath.Join(t.TempDir(), "out.jsonl")
	b, err := exec.Command(bin, append([]string{"send", "--accounts", accountsFile("a", "b"), "--pacing", "--jobs", writeJobs(t, broadcastJobs(4, 2)), "--out", out, "--progress", "plain"}, conn...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("tlworker send: %v\n%s", err, b)
	}
	for _, name := range []string{"a", "b"} {
		if !regexp.MustCompile(`(?m)^account ` + name + `: flood waits met: 0 \(0\.0 s waited\); pacing: [1-9][0-9]* sends paced`).Match(b) {
			t.Errorf("no pacing summary for account %s:\n%s", name, b)
		}
	}
}

// An account whose login fails is left out: the run goes on with the
// others, the jobs that name it are not sent ("not_sent"), every job has
// its one result line, and the run exits 1 saying so. With the account
// fixed, --resume --retry-not-sent sends them through it.
func TestSendAccountsOneLoginFails(t *testing.T) {
	bin := buildBinary(t)
	srv, conn, ids, _ := accountsWorld(t)
	bots := srv.Bots()
	dir := t.TempDir()
	accounts := func(cToken string) string {
		p := filepath.Join(dir, "accounts.txt")
		if err := os.WriteFile(p, []byte(fmt.Sprintf("a %s\nb %s\nc %s\n", bots[0].Token, bots[1].Token, cToken)), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	const users, rounds = 10, 2
	js := append(broadcastJobs(users, rounds),
		`{"id":"to-c","method":"messages.sendMessage","params":{"peer":"@user20","message":"to c"},"account":"c"}`)
	jobsFile := writeJobs(t, js)
	out := filepath.Join(dir, "out.jsonl")
	cmd := exec.Command(bin, append([]string{"send", "--accounts", accounts(fmt.Sprintf("%d:wrongsecret", bots[2].ID)), "--jobs", jobsFile, "--out", out, "--progress", "none"}, conn...)...)
	b, _ := cmd.CombinedOutput()
	if code := cmd.ProcessState.ExitCode(); code != 1 || !strings.Contains(string(b), "1 jobs not sent: account(s) c could not log in") {
		t.Fatalf("exit %d, want 1 and the reason\n%s", code, b)
	}
	if !strings.Contains(string(b), "account c cannot send") || !strings.Contains(string(b), "  c  0 ok, 1 failed") {
		t.Errorf("no word on account c:\n%s", b)
	}
	got := readAccountsOut(t, out)
	if len(got) != len(js) {
		t.Errorf("%d jobs have result lines, want %d", len(got), len(js))
	}
	delete(ids, "c")
	byUser := checkChats(t, srv, ids, got, users, rounds)
	for u, a := range byUser {
		if a != "a" && a != "b" {
			t.Errorf("user%d sent by %q", u, a)
		}
	}
	if l := got["to-c"]; len(l) != 1 || l[0].OK || l[0].Error == nil || l[0].Error.Kind != jobs.KindNotSent || !strings.Contains(l[0].Error.Message, `account "c" cannot send`) {
		t.Fatalf("job naming the account that could not log in: %+v", l)
	}
	// c's token fixed: the job left unsent goes, through c.
	cmd = exec.Command(bin, append([]string{"send", "--accounts", accounts(bots[2].Token), "--jobs", jobsFile, "--out", out, "--progress", "none", "--resume", "--retry-not-sent"}, conn...)...)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("--resume --retry-not-sent: %v\n%s", err, b)
	}
	got = readAccountsOut(t, out)
	if l := got["to-c"]; len(l) != 2 || !l[1].OK || l[1].Account != "c" ||
		!slices.Equal(srv.HistoryTexts(bots[2].ID, &tg.PeerUser{UserID: srv.Users()[19].ID}), []string{"to c"}) {
		t.Errorf("job to c after the retry: %+v", l)
	}
}
