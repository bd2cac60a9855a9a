package jobs

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gotd/td/bin"
	"github.com/gotd/td/tg"
	"github.com/gotd/td/tgerr"
	"go.uber.org/goleak"

	"github.com/tlsched/tlsched/actors"
	"github.com/tlsched/tlsched/entitycache"
	"github.com/tlsched/tlsched/scheduler"
	"github.com/tlsched/tlsched/tl"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fakeSender answers messages.sendMessage by its text: "flood" gets
// FLOOD_WAIT_30, "garbage" a body that is no Updates, "unreachable" and
// "unreachable-sent" an *scheduler.OutageError (not sent, may have run),
// anything else
// updateShortSentMessage. It records what was sent.
type fakeSender struct {
	mu   sync.Mutex
	sent []sent
	// gate, when set, is where every Wait blocks (see the concurrency test).
	gate func(ctx context.Context, c *fakeCall) error
	// hold makes the Wait of a call (by text) last until another (by text)
	// has been sent: a predecessor still in flight when its dependent goes.
	hold    map[string]string
	sentNow *sync.Cond // on mu, broadcast by Send
}

type sent struct {
	text     string
	randomID int64
	dc       int
	after    string // the text of the call it runs after
}

// sendMessage is req as gotd's messages.sendMessage, decoded from a
// *tl.Request (what the engine sends).
func sendMessage(req bin.Encoder) (*tg.MessagesSendMessageRequest, bool) {
	if r, ok := req.(*tl.Request); ok {
		obj, err := r.Object()
		if err != nil {
			return nil, false
		}
		req = obj
	}
	m, ok := req.(*tg.MessagesSendMessageRequest)
	return m, ok
}

type fakeCall struct {
	s    *fakeSender
	text string
}

func (f *fakeSender) Send(ctx context.Context, subs []Submit, notify func(Call)) error {
	return sendEach(ctx, f, subs, notify)
}

// oneSender is the shape of the fakes here: one call at a time, whose Wait
// blocks until its outcome.
type oneSender interface {
	send1(ctx context.Context, req bin.Encoder, dc int, after Call) (Call, error)
}

// sendEach is Sender.Send for a oneSender: each call goes alone, in order,
// and a goroutine waits for its outcome and notifies.
func sendEach(ctx context.Context, s oneSender, subs []Submit, notify func(Call)) error {
	for i := range subs {
		after := subs[i].After
		if w, ok := after.(*waited); ok {
			after = w.c
		}
		c, err := s.send1(ctx, subs[i].Req, subs[i].DC, after)
		if err != nil {
			subs[i].Err = err
			continue
		}
		w := &waited{c: c, done: make(chan struct{})}
		subs[i].Call = w
		go func() {
			w.body, w.err = c.Wait(ctx)
			close(w.done)
			notify(w)
		}()
	}
	return nil
}

// waited is a oneSender's call whose outcome has been waited for.
type waited struct {
	c    Call
	done chan struct{}
	body []byte
	err  error
}

func (w *waited) Wait(ctx context.Context) ([]byte, error) {
	select {
	case <-w.done:
		return w.body, w.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (f *fakeSender) send1(_ context.Context, req bin.Encoder, dc int, after Call) (Call, error) {
	m, ok := sendMessage(req)
	if !ok {
		return nil, fmt.Errorf("fake: unexpected request %T", req)
	}
	s := sent{text: m.Message, randomID: m.RandomID, dc: dc}
	if after != nil {
		s.after = after.(*fakeCall).text
	}
	f.mu.Lock()
	f.sent = append(f.sent, s)
	if f.sentNow != nil {
		f.sentNow.Broadcast()
	}
	f.mu.Unlock()
	return &fakeCall{s: f, text: m.Message}, nil
}

func (c *fakeCall) Wait(ctx context.Context) ([]byte, error) {
	if until, ok := c.s.hold[c.text]; ok {
		c.s.mu.Lock()
		for !slices.ContainsFunc(c.s.sent, func(s sent) bool { return s.text == until }) {
			c.s.sentNow.Wait()
		}
		c.s.mu.Unlock()
	}
	if c.s.gate != nil {
		if err := c.s.gate(ctx, c); err != nil {
			return nil, err
		}
	}
	switch c.text {
	case "flood":
		return nil, tgerr.New(420, "FLOOD_WAIT_30")
	case "unreachable":
		return nil, &scheduler.OutageError{DC: 2, Cause: errors.New("connection refused")}
	case "unreachable-sent":
		return nil, &scheduler.OutageError{DC: 2, Cause: errors.New("connection refused"), MaybeRan: true}
	case "garbage":
		return []byte{1, 2, 3, 4}, nil
	case "long":
		var b bin.Buffer
		err := (&tg.UpdateShortMessage{ID: 6, UserID: 1<<53 + 1, Message: "x", Pts: 1, PtsCount: 1, Date: 1700000000}).Encode(&b)
		return b.Buf, err
	}
	var b bin.Buffer
	if err := (&tg.UpdateShortSentMessage{ID: 5, Date: 1700000000}).Encode(&b); err != nil {
		return nil, err
	}
	return b.Buf, nil
}

func (f *fakeSender) sends() map[string]sent {
	f.mu.Lock()
	defer f.mu.Unlock()
	m := map[string]sent{}
	for _, s := range f.sent {
		m[s.text] = s
	}
	return m
}

// msg is a sendMessage job line to "me" with the text as its message.
func msg(id, text string, extra ...string) string {
	return fmt.Sprintf(`{"id":%q,"method":"messages.sendMessage","params":{"peer":"me","message":%q}%s}`, id, text, strings.Join(extra, ""))
}

// want is what a job's result line must say.
type want struct {
	ok   bool
	code int
	msg  string // a substring of the error message
	// latency: a failed line has latency_ms too (the call was answered
	// but its result could not be read)
	latency bool
}

func TestRun(t *testing.T) {
	for _, tc := range []struct {
		name   string
		jobs   []string
		done   map[string]bool
		want   map[string]want // every result line, by id
		sends  map[string]sent // by text: what was sent, when it matters
		unsent []string        // texts that must not be sent
		hold   map[string]string
		// concurrency is Config.Concurrency (4 when 0); 1 runs the jobs
		// one after another.
		concurrency int
	}{
		{
			name: "result line shapes",
			jobs: []string{msg("ok", "hi"), msg("rpc", "flood"), msg("unreadable", "garbage")},
			want: map[string]want{
				"ok":         {ok: true},
				"rpc":        {code: 420, msg: "FLOOD_WAIT_30"},
				"unreadable": {msg: "the call succeeded but its result could not be read", latency: true},
			},
		},
		{
			name: "bad lines",
			jobs: []string{
				`not json`,
				`{"method":"help.getConfig"}`,
				`{"id":"nomethod"}`,
				`{"id":"unknown","method":"messages.nope"}`,
				`{"id":"badparams","method":"messages.sendMedia","params":{"peer":"me"}}`,
				`{"id":"nopeer","method":"messages.sendMessage","params":{"peer":"@nobody_here","message":"x"}}`,
				msg("dup", "first"),
				msg("dup", "second"),
				``,
				msg("last", "still runs"),
			},
			want: map[string]want{
				"line 1":    {msg: "line 1: not a job"},
				"line 2":    {msg: `line 2: job has no "id"`},
				"nomethod":  {msg: `line 3: job "nomethod" has no "method"`},
				"unknown":   {msg: `line 4: unknown method "messages.nope"`},
				"badparams": {msg: "line 5: params.media: missing required field"},
				"nopeer":    {msg: "line 6: "},
				"dup":       {ok: true}, // the first; the second is below
				"last":      {ok: true},
			},
		},
		{
			name: "chaining by id",
			jobs: []string{
				msg("a", "A"),
				msg("b", "B", `,"after":"a"`),
				msg("c", "C", `,"after":"zz"`),
				`{"id":"d","method":"messages.nope"}`,
				msg("e", "E", `,"after":"d"`),
				msg("f", "flood"),
				msg("g", "G", `,"after":"f"`),
				msg("s", "S", `,"after":"s"`),
				msg("t", "T", `,"after":"s"`),
			},
			want: map[string]want{
				"a": {ok: true},
				"b": {ok: true},
				"c": {msg: `line 3: "after": no job "zz" on an earlier line`},
				"d": {msg: "line 4: unknown method"},
				"e": {msg: `not run: job "d" it must run after was not sent`},
				"f": {code: 420, msg: "FLOOD_WAIT_30"},
				"g": {ok: true}, // sent after f: the server (not the fake) would fail it with MSG_WAIT_FAILED
				"s": {msg: `line 8: "after": job "s" cannot run after itself`},
				"t": {msg: `not run: job "s" it must run after was not sent`},
			},
			sends:  map[string]sent{"B": {after: "A"}, "G": {after: "flood"}, "A": {}},
			unsent: []string{"S", "T"},
			// A and f are still in flight when B and G go out.
			hold: map[string]string{"A": "B", "flood": "G"},
		},
		{
			// One worker: f has failed for good before g is read. The engine
			// fails g itself, whatever the scheduler still remembers.
			name:        "after a job that failed",
			concurrency: 1,
			jobs:        []string{msg("f", "flood"), msg("g", "G", `,"after":"f"`), msg("h", "H", `,"after":"g"`)},
			want: map[string]want{
				"f": {code: 420, msg: "FLOOD_WAIT_30"},
				"g": {msg: `not run: job "f" it must run after failed`},
				"h": {msg: `not run: job "g" it must run after was not sent`},
			},
			unsent: []string{"G", "H"},
		},
		{
			name: "resume skips what an earlier run did",
			jobs: []string{
				msg("a", "A"),
				msg("b", "B"),
				`garbage line 3`,
				msg("c", "C", `,"after":"a"`),
				msg("d", "D", `,"after":"b"`),
				msg("e", "E"),
			},
			done: map[string]bool{"a": true, "b": false, "line 3": false},
			want: map[string]want{
				"c": {ok: true},
				"d": {msg: `not run: job "b" it must run after failed in an earlier run`},
				"e": {ok: true},
			},
			sends:  map[string]sent{"C": {after: ""}},
			unsent: []string{"A", "B"},
		},
		{
			name: "random_id from the job id unless given; dc",
			jobs: []string{msg("j1", "derived"), `{"id":"j2","method":"messages.sendMessage","params":{"peer":"me","message":"given","random_id":7},"dc":2}`},
			want: map[string]want{"j1": {ok: true}, "j2": {ok: true}},
			sends: map[string]sent{
				"derived": {randomID: randomID("j1")},
				"given":   {randomID: 7, dc: 2},
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &fakeSender{hold: tc.hold}
			s.sentNow = sync.NewCond(&s.mu)
			var out bytes.Buffer
			var mu sync.Mutex
			progress := map[bool]int{}
			err := Run(context.Background(), Config{
				Sender: s, Peers: memoryCache(t), Jobs: strings.NewReader(strings.Join(tc.jobs, "\n")), Results: &out,
				Done: tc.done, Concurrency: cmp.Or(tc.concurrency, 4),
				OnResult: func(ok bool) { mu.Lock(); progress[ok]++; mu.Unlock() },
			})
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			lines := resultLines(t, out.Bytes())
			oks := 0
			for _, l := range lines {
				if l.OK {
					oks++
				}
			}
			if progress[true] != oks || progress[false] != len(lines)-oks {
				t.Errorf("OnResult saw %v for %d lines, %d ok", progress, len(lines), oks)
			}
			seen := map[string]int{}
			for _, l := range lines {
				seen[l.ID]++
				w, ok := tc.want[l.ID]
				if !ok {
					t.Errorf("unexpected result line %+v", l)
					continue
				}
				if l.ID == "dup" && !l.OK { // the second line with that id; lines come in completion order
					w = want{msg: `line 8: job id "dup" was used by an earlier line`}
				}
				checkLine(t, l, w)
			}
			for id := range tc.want {
				if n := seen[id]; n != 1 && !(id == "dup" && n == 2) {
					t.Errorf("job %s has %d result lines", id, n)
				}
			}
			got := s.sends()
			for text, w := range tc.sends {
				g, ok := got[text]
				if !ok {
					t.Errorf("%q was not sent", text)
					continue
				}
				if g.after != w.after || (w.randomID != 0 && g.randomID != w.randomID) || g.dc != w.dc {
					t.Errorf("%q sent as %+v, want %+v", text, g, w)
				}
			}
			for _, text := range tc.unsent {
				if _, ok := got[text]; ok {
					t.Errorf("%q was sent", text)
				}
			}
		})
	}
}

func checkLine(t *testing.T, l Result, w want) {
	t.Helper()
	if l.OK != w.ok {
		t.Errorf("%s: ok %v, want %v (%+v)", l.ID, l.OK, w.ok, l.Error)
		return
	}
	if w.ok {
		if l.Error != nil || l.LatencyMS == nil || !strings.HasPrefix(string(l.Result), `{"_":"updateShortSentMessage"`) {
			t.Errorf("%s: ok line %+v (result %s), want a result and a latency, no error", l.ID, l, l.Result)
		}
		return
	}
	if l.Error == nil || l.Error.Code != w.code || !strings.Contains(l.Error.Message, w.msg) || l.Result != nil || (l.LatencyMS != nil) != w.latency {
		t.Errorf("%s: %+v (latency %v), want code %d and %q, no result, latency %v", l.ID, l.Error, l.LatencyMS, w.code, w.msg, w.latency)
	}
}

func resultLines(t *testing.T, b []byte) []Result {
	t.Helper()
	var out []Result
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		var r Result
		dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&r); err != nil {
			t.Fatalf("result line %q: %v", sc.Text(), err)
		}
		out = append(out, r)
	}
	return out
}

func memoryCache(t *testing.T) *entitycache.Cache {
	t.Helper()
	c, err := entitycache.Open(entitycache.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// The pool bounds the jobs in flight: with Concurrency n, n calls wait at
// once and never more, until the last ones.
func TestRunBoundsConcurrency(t *testing.T) {
	for _, tc := range []struct{ jobs, concurrency int }{{20, 1}, {20, 3}, {50, 8}, {5, 8}} {
		t.Run(fmt.Sprintf("%d jobs, %d at once", tc.jobs, tc.concurrency), func(t *testing.T) {
			var mu sync.Mutex
			inflight, most := 0, 0
			arrived := make(chan struct{}, tc.jobs)
			release := make(chan struct{})
			s := &fakeSender{gate: func(ctx context.Context, _ *fakeCall) error {
				mu.Lock()
				inflight++
				most = max(most, inflight)
				mu.Unlock()
				arrived <- struct{}{}
				<-release
				mu.Lock()
				inflight--
				mu.Unlock()
				return nil
			}}
			var lines []string
			for i := range tc.jobs {
				lines = append(lines, msg(fmt.Sprint("j", i), fmt.Sprint("m", i)))
			}
			var out bytes.Buffer
			errc := make(chan error, 1)
			go func() {
				errc <- Run(context.Background(), Config{Sender: s, Peers: memoryCache(t), Jobs: strings.NewReader(strings.Join(lines, "\n")), Results: &out, Concurrency: tc.concurrency})
			}()
			// Let calls in until the pool is full (or the jobs run out),
			// then let one finish; repeat.
			waiting, released := 0, 0
			for released < tc.jobs {
				for waiting < min(tc.concurrency, tc.jobs-released) {
					<-arrived
					waiting++
				}
				mu.Lock()
				if most > tc.concurrency {
					t.Errorf("%d calls in flight, bound %d", most, tc.concurrency)
				}
				mu.Unlock()
				release <- struct{}{}
				waiting--
				released++
			}
			if err := <-errc; err != nil {
				t.Fatal(err)
			}
			if most != min(tc.concurrency, tc.jobs) {
				t.Fatalf("at most %d calls in flight, want %d", most, min(tc.concurrency, tc.jobs))
			}
			if n := len(resultLines(t, out.Bytes())); n != tc.jobs {
				t.Fatalf("%d result lines for %d jobs", n, tc.jobs)
			}
		})
	}
}

// A signal (ctx ends) stops reading; jobs in flight past the drain timeout
// are cut off by Close and get no line, and Run says to --resume.
func TestRunInterrupted(t *testing.T) {
	const n = 5
	arrived := make(chan struct{}, n)
	closed := make(chan struct{})
	s := &fakeSender{gate: func(ctx context.Context, _ *fakeCall) error {
		arrived <- struct{}{}
		<-closed
		return actors.ErrClosed
	}}
	pr, pw := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	var out bytes.Buffer
	errc := make(chan error, 1)
	go func() {
		errc <- Run(ctx, Config{Sender: s, Peers: memoryCache(t), Jobs: pr, Results: &out, Close: func() { close(closed) }})
	}()
	for i := range n {
		fmt.Fprintln(pw, msg(fmt.Sprint("j", i), fmt.Sprint("m", i)))
	}
	for range n {
		<-arrived
	}
	cancel()
	fmt.Fprintln(pw, msg("unread", "never sent")) // read after the signal: not run
	pw.Close()
	err := <-errc
	if err == nil || !strings.Contains(err.Error(), "interrupted: 5 jobs read have no result line") || !strings.Contains(err.Error(), "--resume") {
		t.Fatalf("Run: %v", err)
	}
	if out.Len() != 0 {
		t.Fatalf("result lines for jobs cut off by Close: %s", out.String())
	}
	if _, ok := s.sends()["never sent"]; ok {
		t.Fatal("a line read after the signal was sent")
	}
}

// Only a closing sender's errors are not results: a call cancelled before
// Close is a failed job with a line.
func TestRunCanceledBeforeCloseIsAResult(t *testing.T) {
	s := &fakeSender{}
	s.gate = func(ctx context.Context, c *fakeCall) error {
		if c.text == "cut" {
			return errors.Join(errors.New("cut off"), context.Canceled)
		}
		return nil
	}
	var out bytes.Buffer
	err := Run(context.Background(), Config{Sender: s, Peers: memoryCache(t), Jobs: strings.NewReader(msg("a", "cut")), Results: &out})
	if err != nil {
		t.Fatal(err)
	}
	l := resultLines(t, out.Bytes())
	if len(l) != 1 || l[0].OK || l[0].Error.Code != 0 || !strings.Contains(l[0].Error.Message, "cut off") {
		t.Fatalf("lines %+v", l)
	}
}

// A predecessor cut off by Close gets no line, and neither does a job that
// was waiting to run after it: --resume runs both, in order, instead of
// skipping the dependent for good.
func TestRunInterruptedChain(t *testing.T) {
	s := &closingSender{fakeSender: &fakeSender{}, block: "A", arrived: make(chan struct{}), closed: make(chan struct{}), sent: make(chan string, 8)}
	pr, pw := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	var out bytes.Buffer
	errc := make(chan error, 1)
	go func() {
		errc <- Run(ctx, Config{Sender: s, Peers: memoryCache(t), Jobs: pr, Results: &out, Close: func() { close(s.closed) }})
	}()
	fmt.Fprintln(pw, msg("a", "A"))
	fmt.Fprintln(pw, msg("d", "D", `,"after":"a"`))
	fmt.Fprintln(pw, msg("e", "E"))
	<-s.arrived
	for text := range s.sent { // e was read after d: d is waiting for a
		if text == "E" {
			break
		}
	}
	cancel()
	pw.Close()
	err := <-errc
	if err == nil || !strings.Contains(err.Error(), "interrupted: 2 jobs read have no result line") {
		t.Fatalf("Run: %v", err)
	}
	for _, l := range resultLines(t, out.Bytes()) {
		if l.ID != "e" {
			t.Errorf("line for %s: %+v", l.ID, l)
		}
	}
	if _, ok := s.sends()["D"]; ok {
		t.Error("d was sent without a")
	}
}

// closingSender is a fakeSender whose Send of one text waits until Close
// and then fails unsent with actors.ErrClosed; sent gets every other text.
type closingSender struct {
	*fakeSender
	block   string
	arrived chan struct{}
	closed  chan struct{}
	sent    chan string
}

func (c *closingSender) Send(ctx context.Context, subs []Submit, notify func(Call)) error {
	return sendEach(ctx, c, subs, notify)
}

func (c *closingSender) send1(ctx context.Context, req bin.Encoder, dc int, after Call) (Call, error) {
	if m, ok := sendMessage(req); ok && m.Message == c.block {
		close(c.arrived)
		<-c.closed
		return nil, actors.ErrClosed
	}
	call, err := c.fakeSender.send1(ctx, req, dc, after)
	if m, ok := sendMessage(req); ok {
		c.sent <- m.Message
	}
	return call, err
}

// TestResultLongs: a result's 64-bit integers are strings unless
// Config.JSON asks for numbers (tlworker send --long-as-number).
func TestResultLongs(t *testing.T) {
	for _, tc := range []struct {
		opts tl.EncodeOptions
		want string
	}{
		{tl.EncodeOptions{}, `"user_id":"9007199254740993"`},
		{tl.EncodeOptions{LongAsNumber: true}, `"user_id":9007199254740993`},
	} {
		var out bytes.Buffer
		err := Run(context.Background(), Config{Sender: &fakeSender{}, Peers: memoryCache(t), Jobs: strings.NewReader(msg("a", "long")), Results: &out, JSON: tc.opts})
		if err != nil {
			t.Fatal(err)
		}
		if l := resultLines(t, out.Bytes()); len(l) != 1 || !l[0].OK || !strings.Contains(string(l[0].Result), tc.want) {
			t.Errorf("%+v: %s, want %s", tc.opts, out.Bytes(), tc.want)
		}
	}
}

// batchingSender records the texts of each Send's calls; its first Send
// lasts until the jobs' reader has hit EOF, so every later job is waiting
// for the worker by then.
type batchingSender struct {
	*fakeSender
	eof     chan struct{}
	first   sync.Once
	batches [][]string
}

func (s *batchingSender) Send(ctx context.Context, subs []Submit, notify func(Call)) error {
	s.first.Do(func() { <-s.eof })
	var texts []string
	for _, sub := range subs {
		m, _ := sendMessage(sub.Req)
		texts = append(texts, m.Message)
	}
	s.mu.Lock()
	s.batches = append(s.batches, texts)
	s.mu.Unlock()
	return sendEach(ctx, s.fakeSender, subs, notify)
}

// eofReader closes eof when its reader returns io.EOF.
type eofReader struct {
	io.Reader
	eof  chan struct{}
	once sync.Once
}

func (r *eofReader) Read(p []byte) (int, error) {
	n, err := r.Reader.Read(p)
	if err == io.EOF {
		r.once.Do(func() { close(r.eof) })
	}
	return n, err
}

// A worker submits the jobs waiting for it together, in input order, and
// a job chained after one it holds unsubmitted sends that one first: no
// job waits for its own worker.
func TestRunSubmitsWaitingJobsTogether(t *testing.T) {
	eof := make(chan struct{})
	s := &batchingSender{fakeSender: &fakeSender{}, eof: eof}
	lines := []string{msg("a", "A"), msg("b", "B", `,"after":"a"`), msg("c", "C"), msg("d", "D", `,"after":"b"`), msg("e", "E"), msg("f", "F")}
	var out bytes.Buffer
	// Every line ends in a newline: the reader hands the last job over
	// before it reads again and meets EOF (without it, the last line is
	// only complete at EOF, and the worker could miss it).
	err := Run(context.Background(), Config{Sender: s, Peers: memoryCache(t), Jobs: &eofReader{Reader: strings.NewReader(strings.Join(lines, "\n") + "\n"), eof: eof}, Results: &out, Concurrency: batchSize})
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{{"A"}, {"B", "C"}, {"D", "E", "F"}}
	if !slices.EqualFunc(s.batches, want, slices.Equal) {
		t.Fatalf("Sends %q, want %q", s.batches, want)
	}
	sends := s.sends()
	if sends["B"].after != "A" || sends["D"].after != "B" || sends["C"].after != "" {
		t.Fatalf("chains: %+v", sends)
	}
	if n := strings.Count(out.String(), `"ok":true`); n != len(lines) {
		t.Fatalf("%d jobs ok of %d:\n%s", n, len(lines), out.String())
	}
}

// A signal stops the jobs read ahead of the workers too: with one job in
// flight and 199 read, only the one in flight was sent, and the rest
// have no line (--resume runs them).
func TestRunInterruptedSendsNoJobReadAhead(t *testing.T) {
	arrived := make(chan struct{}, 1)
	release := make(chan struct{})
	s := &fakeSender{gate: func(ctx context.Context, c *fakeCall) error {
		if c.text == "m0" {
			arrived <- struct{}{}
			<-release
		}
		return nil
	}}
	var lines []string
	for i := range 200 { // fewer than the reader reads ahead
		lines = append(lines, msg(fmt.Sprint("j", i), fmt.Sprint("m", i)))
	}
	eof := make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	var out bytes.Buffer
	errc := make(chan error, 1)
	go func() {
		errc <- Run(ctx, Config{Sender: s, Peers: memoryCache(t), Jobs: &eofReader{Reader: strings.NewReader(strings.Join(lines, "\n")), eof: eof}, Results: &out, Concurrency: 1, DrainTimeout: time.Minute})
	}()
	<-arrived
	<-eof // every line is read, most of them waiting for the worker
	cancel()
	close(release)
	err := <-errc
	// 199 read, or 198 when the signal came before the last line was
	// handed out.
	if err == nil || !strings.Contains(err.Error(), "interrupted: 19") || !strings.Contains(err.Error(), "--resume") {
		t.Fatalf("Run: %v", err)
	}
	if n := len(s.sends()); n != 1 {
		t.Fatalf("%d jobs sent after the signal, want only the one in flight", n)
	}
	if strings.Count(out.String(), "\n") != 1 {
		t.Fatalf("lines:\n%s", out.String())
	}
}

// --rate caps the jobs started per second even after calls were held up
// for a while: no jobs pile up read ahead to start in a burst.
func TestRunRateCapsStartsAfterAStall(t *testing.T) {
	const n = 12
	perSecond := 40.0
	release := make(chan struct{})
	var mu sync.Mutex
	var starts []time.Time
	s := &fakeSender{gate: func(ctx context.Context, c *fakeCall) error {
		mu.Lock()
		starts = append(starts, time.Now())
		mu.Unlock()
		if c.text == "m0" {
			<-release
		}
		return nil
	}}
	var lines []string
	for i := range n {
		lines = append(lines, msg(fmt.Sprint("j", i), fmt.Sprint("m", i)))
	}
	// The stall: the first call is held for a while (how long does not
	// matter to the outcome: jobs must not pile up however long it is).
	time.AfterFunc(300*time.Millisecond, func() { close(release) })
	var out bytes.Buffer
	err := Run(context.Background(), Config{Sender: s, Peers: memoryCache(t), Jobs: strings.NewReader(strings.Join(lines, "\n")), Results: &out, Concurrency: 1, Rate: perSecond})
	if err != nil {
		t.Fatal(err)
	}
	// A lower bound only (a slow machine spaces them more): n starts at
	// perSecond take at least (n-1)/perSecond.
	if len(starts) != n {
		t.Fatalf("%d calls, want %d", len(starts), n)
	}
	if d, least := starts[n-1].Sub(starts[0]), time.Duration(float64(n-1)/perSecond*0.9*float64(time.Second)); d < least {
		t.Fatalf("%d jobs started within %v, want at least %v at %v/s", n, d, least, perSecond)
	}
}
