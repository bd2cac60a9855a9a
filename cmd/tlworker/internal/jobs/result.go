package jobs

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-faster/jx"
	"github.com/gotd/td/tgerr"

	"github.com/tlsched/tlsched/scheduler"
	"github.com/tlsched/tlsched/tl"
)

// Result is one result line: {"id":…,"ok":true,"result":{…},"latency_ms":3.1}
// (with "account":… after the id when a Router sent it),
// or {"id":…,"ok":false,"error":{"code":420,"message":"FLOOD_WAIT_30"}}, and
// for a job the server never answered
// {"id":…,"ok":false,"error":{"code":0,"message":"…","kind":"not_sent"}}.
type Result struct {
	ID        string          `json:"id"`
	Account   string          `json:"account,omitempty"`
	OK        bool            `json:"ok"`
	Result    json.RawMessage `json:"result,omitempty"`
	Error     *Error          `json:"error,omitempty"`
	LatencyMS *float64        `json:"latency_ms,omitempty"`
}

// Error is a failed job's error object: an RPC error's code and message,
// or code 0 and a message saying what happened (bad input, a broken chain).
// Kind is set only for a job the server never answered: KindNotSent (it
// never left tlworker; --resume --retry-not-sent runs it again) or
// KindMayHaveRun (it was sent and its connection was lost: it may have
// run, and no rerun sends it again).
type Error struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	Kind    string `json:"kind,omitempty"`
}

// The kinds of unanswered failure in a result line (Error.Kind).
const (
	KindNotSent    = "not_sent"
	KindMayHaveRun = "may_have_run"
)

// failure makes the error object of a line: RPC errors keep their code and
// message; anything else (bad input, a broken chain, a closed client) is
// code 0 with a message that says what happened, and the kind of an
// unanswered call (unanswered).
func failure(err error) *Error {
	var rpc *tgerr.Error
	if errors.As(err, &rpc) {
		return &Error{Code: rpc.Code, Message: rpc.Message}
	}
	return &Error{Code: 0, Message: err.Error(), Kind: unanswered(err)}
}

// unanswered returns the Kind of an error the server did not answer
// (scheduler.ErrNotSent, scheduler.ErrMayHaveRun), or "".
func unanswered(err error) string {
	switch {
	case errors.Is(err, scheduler.ErrNotSent):
		return KindNotSent
	case errors.Is(err, scheduler.ErrMayHaveRun):
		return KindMayHaveRun
	}
	return ""
}

func ms(d time.Duration) *float64 {
	v := msOf(d)
	return &v
}

// msOf is d in milliseconds, to the microsecond.
func msOf(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// resultWriter writes result lines, one JSON object each, in completion
// order. Safe for concurrent use.
type resultWriter struct {
	mu      sync.Mutex
	w       *bufio.Writer
	err     error
	started bool // the first line was written (and flushed)
}

func newResultWriter(w io.Writer) *resultWriter {
	return &resultWriter{w: bufio.NewWriterSize(w, 64<<10)}
}

func (r *resultWriter) write(o Result) {
	w := linePool.Get().(*jx.Writer)
	defer linePool.Put(w)
	w.Reset()
	if !appendResult(w, o) {
		b, err := json.Marshal(o)
		if err != nil {
			r.mu.Lock()
			r.err = err
			r.mu.Unlock()
			return
		}
		w.Reset()
		w.Raw(b)
	}
	w.Buf = append(w.Buf, '\n')
	r.put(w.Buf)
}

// writeOK writes the line of a job that succeeded, converting its result
// body (of TL type typ) to JSON straight into the line: the line write
// would give for Result{ID: id, Account: account, OK: true, Result: <the
// JSON>, LatencyMS: &latencyMS}. It writes nothing and returns the error
// when the body cannot be converted.
func (r *resultWriter) writeOK(id, account string, body []byte, typ string, latencyMS float64, opts tl.EncodeOptions) error {
	w := linePool.Get().(*jx.Writer)
	defer linePool.Put(w)
	w.Reset()
	w.RawStr(`{"id":`)
	w.StrEscape(id)
	if account != "" {
		w.RawStr(`,"account":`)
		w.StrEscape(account)
	}
	w.RawStr(`,"ok":true,"result":`)
	start := len(w.Buf)
	var err error
	if w.Buf, err = opts.AppendBinaryToJSON(w.Buf, body, typ); err != nil {
		return err
	}
	if hasBF(id) || hasBF(account) || marshalEscapes(w.Buf[start:]) || !plainMS(latencyMS) {
		// Not written the way appendResult writes: the general path.
		lat := latencyMS // on the heap only on this path
		r.write(Result{ID: id, Account: account, OK: true, Result: w.Buf[start:], LatencyMS: &lat})
		return nil
	}
	w.RawStr(`,"latency_ms":`)
	w.Buf = appendMS(w.Buf, latencyMS)
	w.RawStr("}\n")
	r.put(w.Buf)
	return nil
}

// put writes one line, its newline included, to the output.
func (r *resultWriter) put(line []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, err := r.w.Write(line); err != nil && r.err == nil {
		r.err = err
	}
	if !r.started {
		// The first result shows at once that the run is under way; later
		// ones are flushed in batches (flushEvery, or a full buffer).
		r.started = true
		if err := r.w.Flush(); err != nil && r.err == nil {
			r.err = err
		}
	}
}

var linePool = sync.Pool{New: func() any { return &jx.Writer{Buf: make([]byte, 0, 256)} }}

// appendResult writes o as encoding/json would, byte for byte, without its
// reflection (one result line per job is a large share of tlworker send's
// CPU). It reports false, having written part of a line, for what it does
// not write the same way: a result with characters json.Marshal escapes
// inside raw JSON (<, >, &, U+2028, U+2029), a string with \b or \f (jx
// writes \u0008, json.Marshal \b), or a latency in exponent form.
// o.Result is copied as it is: it must be compact, valid JSON, as
// tl.BinaryToJSON writes it (json.Marshal would compact it).
func appendResult(w *jx.Writer, o Result) bool {
	if marshalEscapes(o.Result) || hasBF(o.ID) || hasBF(o.Account) ||
		o.Error != nil && (hasBF(o.Error.Message) || hasBF(o.Error.Kind)) {
		return false
	}
	w.RawStr(`{"id":`)
	w.StrEscape(o.ID)
	if o.Account != "" {
		w.RawStr(`,"account":`)
		w.StrEscape(o.Account)
	}
	if o.OK {
		w.RawStr(`,"ok":true`)
	} else {
		w.RawStr(`,"ok":false`)
	}
	if len(o.Result) > 0 {
		w.RawStr(`,"result":`)
		w.Raw(o.Result)
	}
	if o.Error != nil {
		w.RawStr(`,"error":{"code":`)
		w.Buf = strconv.AppendInt(w.Buf, int64(o.Error.Code), 10)
		w.RawStr(`,"message":`)
		w.StrEscape(o.Error.Message)
		if o.Error.Kind != "" {
			w.RawStr(`,"kind":`)
			w.StrEscape(o.Error.Kind)
		}
		w.RawStr(`}`)
	}
	if o.LatencyMS != nil {
		v := *o.LatencyMS
		if !plainMS(v) {
			return false
		}
		w.RawStr(`,"latency_ms":`)
		w.Buf = appendMS(w.Buf, v)
	}
	w.RawStr(`}`)
	return true
}

// plainMS reports whether encoding/json writes v without an exponent, as
// appendMS writes it.
func plainMS(v float64) bool {
	a := math.Abs(v)
	return !(a != 0 && (a < 1e-6 || a >= 1e21) || math.IsNaN(v) || math.IsInf(v, 0))
}

// marshalEscapes reports whether raw JSON holds a character json.Marshal
// escapes inside it: <, >, &, U+2028 or U+2029 (E2 80 A8, E2 80 A9 in
// UTF-8). A table lookup per byte: bytes.ContainsAny decodes runes when the
// set is not ASCII, a large share of a short result line's cost.
func marshalEscapes(raw []byte) bool {
	for i, c := range raw {
		if !escapeStart[c] {
			continue
		}
		if c != 0xE2 || i+2 < len(raw) && raw[i+1] == 0x80 && (raw[i+2] == 0xA8 || raw[i+2] == 0xA9) {
			return true
		}
	}
	return false
}

// hasBF reports whether s holds \b or \f (strings.ContainsAny builds a
// set per call).
func hasBF(s string) bool {
	return strings.IndexByte(s, '\b') >= 0 || strings.IndexByte(s, '\f') >= 0
}

// escapeStart marks the bytes marshalEscapes stops at.
var escapeStart = [256]bool{'<': true, '>': true, '&': true, 0xE2: true}

// appendMS appends a latency in milliseconds as strconv.AppendFloat(b, v,
// 'f', -1, 64) does. A latency is a whole number of microseconds over 1000
// (ms): below 10^15 µs such a value's shortest form is its decimal one
// (every decimal of up to 15 digits maps to its own float64), written here
// without the shortest-form search. Anything else takes AppendFloat.
func appendMS(b []byte, v float64) []byte {
	const most = 1e15
	if !math.Signbit(v) && v*1000 < most { // -0 is "-0"
		us := int64(math.Round(v * 1000))
		if float64(us)/1000 == v {
			b = strconv.AppendInt(b, us/1000, 10)
			if frac := us % 1000; frac != 0 {
				digits := [4]byte{'.', byte('0' + frac/100), byte('0' + frac/10%10), byte('0' + frac%10)}
				n := 4
				for digits[n-1] == '0' {
					n--
				}
				b = append(b, digits[:n]...)
			}
			return b
		}
	}
	return strconv.AppendFloat(b, v, 'f', -1, 64)
}

func (r *resultWriter) flush() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.w.Flush(); err != nil && r.err == nil {
		r.err = err
	}
	return r.err
}

// flushEvery flushes periodically so a crash loses little; the returned
// func stops it.
func (r *resultWriter) flushEvery(d time.Duration) func() {
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(d)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				_ = r.flush()
			case <-stop:
				return
			}
		}
	}()
	return func() { close(stop); <-done }
}
