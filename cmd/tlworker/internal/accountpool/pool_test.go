package accountpool

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tlsched/tlsched/cmd/tlworker/internal/jobs"
	"github.com/tlsched/tlsched/scheduler"
)

func members(names ...string) []Member {
	ms := make([]Member, len(names))
	for i, n := range names {
		ms[i] = Member{Account: jobs.Account{Name: n}}
	}
	return ms
}

func route(t *testing.T, p *Pool, r jobs.Route) string {
	t.Helper()
	a, err := p.Route(r)
	if err != nil {
		t.Fatalf("Route(%+v): %v", r, err)
	}
	return a.Name
}

// New chats spread over the accounts by jobs in flight; a chat keeps its
// account while others are busier or idler.
func TestPoolSpreadsNewChatsAndKeepsThem(t *testing.T) {
	p, err := New(members("a", "b", "c"), nil)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for i, chat := range []string{"@x", "@y", "@z"} {
		got[chat] = route(t, p, jobs.Route{ID: string(rune('1' + i)), Chat: chat})
	}
	if got["@x"] != "a" || got["@y"] != "b" || got["@z"] != "c" {
		t.Fatalf("three new chats went to %v, want one per account", got)
	}
	// b finishes its job: it has the most room, yet @x stays with a.
	p.Finished("b", &jobs.Result{OK: true})
	for i := range 5 {
		if a := route(t, p, jobs.Route{ID: "x" + string(rune('0'+i)), Chat: "@x"}); a != "a" {
			t.Fatalf("chat @x moved to %s", a)
		}
	}
	if a := route(t, p, jobs.Route{ID: "w", Chat: "@w"}); a != "b" {
		t.Fatalf("new chat went to %s, want b (fewest in flight)", a)
	}
}

func TestPoolRules(t *testing.T) {
	for _, tc := range []struct {
		name    string
		routes  []jobs.Route
		want    string
		wantErr string
	}{
		{name: "named account", routes: []jobs.Route{{ID: "1", Chat: "@x", Account: "c"}}, want: "c"},
		{name: "unknown account", routes: []jobs.Route{{ID: "1", Chat: "@x", Account: "zz"}}, wantErr: `no account "zz" (the accounts are a, b, c)`},
		{name: "chain follows its predecessor", routes: []jobs.Route{{ID: "1", Chat: "@x", After: "b"}}, want: "b"},
		{name: "chain against a named account", routes: []jobs.Route{{ID: "1", Chat: "@x", After: "b", Account: "a"}}, wantErr: "a chain stays in one account"},
		{name: "chain into another account's chat", routes: []jobs.Route{{ID: "1", Chat: "@x", Account: "a"}, {ID: "2", Chat: "@x", After: "b"}}, wantErr: `chat @x is sent by account "a"`},
		{name: "named job leaves the chat where it is", routes: []jobs.Route{{ID: "1", Chat: "@x", Account: "c"}, {ID: "2", Chat: "@x", Account: "a"}, {ID: "3", Chat: "@x"}}, want: "c"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, _ := New(members("a", "b", "c"), nil)
			var a jobs.Account
			var err error
			for _, r := range tc.routes {
				if a, err = p.Route(r); err != nil {
					break
				}
			}
			switch {
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("got %v, %v; want error %q", a.Name, err, tc.wantErr)
			case tc.wantErr == "" && (err != nil || a.Name != tc.want):
				t.Fatalf("got %v, %v; want %s", a.Name, err, tc.want)
			}
		})
	}
}

// A resumed run reads the journal: chats and chatless jobs keep their
// accounts, and one whose account is gone is an error, not a move.
func TestJournalKeepsAssignmentsAcrossRuns(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.jsonl.accounts")
	j, err := OpenJournal(path, false)
	if err != nil {
		t.Fatal(err)
	}
	p, _ := New(members("a", "b"), j)
	first := map[string]string{
		"@x": route(t, p, jobs.Route{ID: "1", Chat: "@x"}),
		"@y": route(t, p, jobs.Route{ID: "2", Chat: "@y"}),
		"j3": route(t, p, jobs.Route{ID: "3"}),
	}
	j.Close()
	// A crash cut the last line short.
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"chat":"@q","acc`)
	f.Close()

	j, err = OpenJournal(path, true)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	// b is busier now than a: the pool would pick a for a new chat.
	p, _ = New(members("b", "a"), j)
	for range 3 {
		p.Route(jobs.Route{ID: "busy", Chat: "@busy", Account: "b"})
	}
	again := map[string]string{
		"@x": route(t, p, jobs.Route{ID: "4", Chat: "@x"}),
		"@y": route(t, p, jobs.Route{ID: "5", Chat: "@y"}),
		"j3": route(t, p, jobs.Route{ID: "3"}),
	}
	for k, v := range first {
		if again[k] != v {
			t.Errorf("%s: first run %s, resumed run %s", k, v, again[k])
		}
	}
	p, _ = New(members(first["@x"]+"2"), j)
	if _, err := p.Route(jobs.Route{ID: "6", Chat: "@x"}); err == nil || !strings.Contains(err.Error(), "not in --accounts") {
		t.Fatalf("chat whose account is gone: %v", err)
	}
	// Without the journal, the results file's word: the same.
	p, _ = New(members("a", "b"), nil)
	p.Earlier("@x", "gone")
	if _, err := p.Route(jobs.Route{ID: "7", Chat: "@x"}); err == nil || !strings.Contains(err.Error(), "not in --accounts") {
		t.Fatalf("chat whose account (from the results) is gone: %v", err)
	}
	b, _ := os.ReadFile(path)
	if strings.Contains(string(b), `"@q"`) {
		t.Fatalf("torn line kept: %s", b)
	}
}

// Room is jobs in flight per second of the account's paced rate: an
// account paced ten times faster takes about ten times the new chats.
func TestPoolRoomFollowsPacedRate(t *testing.T) {
	ms := members("slow", "fast")
	ms[0].Rate = func(context.Context) float64 { return 1 }
	ms[1].Rate = func(context.Context) float64 { return 10 }
	p, _ := New(ms, nil)
	got := map[string]int{}
	for i := range 22 {
		got[route(t, p, jobs.Route{ID: fmt.Sprint(i), Chat: fmt.Sprintf("@chat%d", i)})]++
	}
	if got["fast"] != 20 || got["slow"] != 2 {
		t.Fatalf("22 new chats went %v; want fast 20, slow 2", got)
	}
}

// An account that could not log in gets no new chat; what must go to it
// fails with its error and never moves to another account.
func TestPoolDownAccount(t *testing.T) {
	down := errors.New("AUTH_KEY_UNREGISTERED")
	ms := members("a", "b")
	ms[0].Down = down
	p, err := New(ms, nil)
	if err != nil {
		t.Fatal(err)
	}
	p.Earlier("@x", "a")
	for _, r := range []jobs.Route{
		{ID: "1", Chat: "@x"},               // a's chat of an earlier run
		{ID: "2", Chat: "@y", Account: "a"}, // names a
		{ID: "3", Chat: "@z", After: "a"},   // chained after a job a sent
	} {
		if _, err := p.Route(r); !errors.Is(err, down) || !errors.Is(err, scheduler.ErrNotSent) || !strings.Contains(err.Error(), `account "a" cannot send`) {
			t.Errorf("Route(%+v): %v; want a's error", r, err)
		}
	}
	for i := range 4 {
		if got := route(t, p, jobs.Route{ID: fmt.Sprint(10 + i), Chat: fmt.Sprint("@new", i)}); got != "b" {
			t.Errorf("new chat %d went to %s", i, got)
		}
	}
	if c := p.Counts()[0]; c.Failed != 3 {
		t.Errorf("a's counts %+v, want its 3 jobs failed", c)
	}
	ms[1].Down = down
	if _, err := New(ms, nil); !errors.Is(err, down) {
		t.Fatalf("New with every account down: %v", err)
	}
}
