package jobs

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
)

// fakeRouter gives each chat the account its table names, a job that
// names an account that one (if in the table of senders), a chained job
// its predecessor's; it records what it was asked and told.
type fakeRouter struct {
	senders map[string]*fakeSender
	peers   Peers
	byChat  map[string]string

	mu       sync.Mutex
	routes   []Route
	finished map[string][]string // account → ids, "-" for a dropped job
	earlier  []string
}

func (r *fakeRouter) Route(rt Route) (Account, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.routes = append(r.routes, rt)
	name := r.byChat[rt.Chat]
	switch {
	case rt.Account != "":
		name = rt.Account
	case rt.After != "":
		name = rt.After
	}
	s, ok := r.senders[name]
	if !ok {
		return Account{}, fmt.Errorf("no account %q", name)
	}
	return Account{Name: name, Sender: s, Peers: r.peers}, nil
}

func (r *fakeRouter) Finished(account string, o *Result) {
	r.mu.Lock()
	defer r.mu.Unlock()
	id := "-"
	if o != nil {
		id = o.ID
	}
	r.finished[account] = append(r.finished[account], id)
}

func (r *fakeRouter) Earlier(chat, account string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.earlier = append(r.earlier, chat+"="+account)
}

// With a Router, every job is routed once, in input order, before it is
// sent, with its chat, its "account" and its predecessor's account; it is
// sent by the account routed to; its line names that account; the Router
// hears of every routed job's end and of the jobs done earlier; a job the
// Router refuses gets an error line and is not sent.
func TestRunRoutesJobs(t *testing.T) {
	a, b := &fakeSender{}, &fakeSender{}
	// j2 is in flight when j4 goes: j4 is chained to its call.
	b.hold = map[string]string{"to b": "after j2"}
	b.sentNow = sync.NewCond(&b.mu)
	self := `,"peer":{"_":"inputPeerSelf"}`
	r := &fakeRouter{
		senders: map[string]*fakeSender{"a": a, "b": b}, peers: memoryCache(t),
		byChat:   map[string]string{"me": "a", `{"_":"inputPeerSelf"}`: "b"},
		finished: map[string][]string{},
	}
	lines := []string{
		msg("j1", "to a"),
		`{"id":"j2","method":"messages.sendMessage","params":{"message":"to b"` + self + `}}`,
		msg("j3", "named b", `,"account":"b"`),
		msg("j4", "after j2", `,"after":"j2"`),
		msg("j5", "unknown", `,"account":"zz"`),
		msg("old", "done before"),
		`{"id":"old2","method":"messages.sendMessage","params":{"message":"done before"` + self + `}}`,
	}
	var out bytes.Buffer
	err := Run(context.Background(), Config{
		Router: r, Jobs: strings.NewReader(strings.Join(lines, "\n")), Results: &out, Concurrency: 4,
		Done: map[string]bool{"old": true, "old2": false}, Accounts: map[string]string{"old": "a"},
	})
	if err != nil {
		t.Fatal(err)
	}
	wantRoutes := []Route{
		{ID: "j1", Chat: "me"}, {ID: "j2", Chat: `{"_":"inputPeerSelf"}`}, {ID: "j3", Chat: "me", Account: "b"},
		{ID: "j4", Chat: "me", After: "b"}, {ID: "j5", Chat: "me", Account: "zz"},
	}
	if !slices.Equal(r.routes, wantRoutes) {
		t.Errorf("routes\n%+v\nwant\n%+v", r.routes, wantRoutes)
	}
	if want := []string{"me=a", `{"_":"inputPeerSelf"}=`}; !slices.Equal(r.earlier, want) {
		t.Errorf("Earlier told %q, want %q", r.earlier, want)
	}
	got := map[string]Result{}
	for _, l := range resultLines(t, out.Bytes()) {
		got[l.ID] = l
	}
	for id, acct := range map[string]string{"j1": "a", "j2": "b", "j3": "b", "j4": "b"} {
		if l := got[id]; !l.OK || l.Account != acct {
			t.Errorf("%s: %+v, want ok from %s", id, l, acct)
		}
	}
	if l := got["j5"]; l.OK || l.Account != "" || l.Error == nil || l.Error.Message != `line 5: no account "zz"` {
		t.Errorf("j5: %+v, want the router's error for line 5", l)
	}
	if len(got) != 5 {
		t.Errorf("%d result lines, want 5: %v", len(got), got)
	}
	texts := func(s *fakeSender) []string {
		var out []string
		for t := range s.sends() {
			out = append(out, t)
		}
		slices.Sort(out)
		return out
	}
	if ta, tb := texts(a), texts(b); !slices.Equal(ta, []string{"to a"}) || !slices.Equal(tb, []string{"after j2", "named b", "to b"}) {
		t.Errorf("a sent %q, b sent %q", ta, tb)
	}
	if s := b.sends()["after j2"]; s.after != "to b" {
		t.Errorf("j4 sent after %q, want after j2's call", s.after)
	}
	for acct, ids := range r.finished {
		slices.Sort(ids)
		r.finished[acct] = ids
	}
	if !slices.Equal(r.finished["a"], []string{"j1"}) || !slices.Equal(r.finished["b"], []string{"j2", "j3", "j4"}) || len(r.finished) != 2 {
		t.Errorf("Finished told %v", r.finished)
	}
}

// Without a Router there is one account: a job that names one fails.
func TestRunNamedAccountNeedsRouter(t *testing.T) {
	s := &fakeSender{}
	var out bytes.Buffer
	err := Run(context.Background(), Config{Sender: s, Peers: memoryCache(t), Results: &out,
		Jobs: strings.NewReader(msg("j1", "x", `,"account":"a"`) + "\n" + msg("j2", "y"))})
	if err != nil {
		t.Fatal(err)
	}
	ls := resultLines(t, out.Bytes())
	if len(ls) != 2 || s.sends()["x"] != (sent{}) {
		t.Fatalf("lines %+v, sent %v", ls, s.sends())
	}
	for _, l := range ls {
		if l.ID == "j1" && (l.OK || !strings.Contains(l.Error.Message, `names account "a"`)) {
			t.Errorf("j1: %+v", l)
		}
	}
}

func TestChat(t *testing.T) {
	for params, want := range map[string]string{
		`{"peer":"@alice","message":"x"}`:                  "@alice",
		`{"message":"x","peer":  {"_" : "inputPeerSelf"}}`: `{"_":"inputPeerSelf"}`,
		`{"from_peer":"@aaaaa","to_peer":"@bbbbb"}`:        "@bbbbb",
		`{"channel":"@chan1","peer":"@peer1"}`:             "@peer1",
		`{"peer":"https://t.me/Alice"}`:                    "@alice",
		`{"peer":"-1001234567890"}`:                        "channel:1234567890",
		`{"peer":"@not a name"}`:                           "@not a name",
		`{"id":["me"]}`:                                    "",
		`not json`:                                         "",
	} {
		if got := Chat(json.RawMessage(params)); got != want {
			t.Errorf("Chat(%s) = %q, want %q", params, got, want)
		}
	}
}
