package jobs

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"unicode/utf8"

	"github.com/go-faster/jx"
)

// job is one line of the jobs input.
type job struct {
	ID     string          `json:"id"`
	Method string          `json:"method"`
	Params json.RawMessage `json:"params"`
	After  string          `json:"after,omitempty"`
	DC     int             `json:"dc,omitempty"`
	// Account names the account that sends the job (tlworker send
	// --accounts); empty: the pool picks one (Router).
	Account string `json:"account,omitempty"`

	line int // 1-based line number in the jobs input
}

// parseJob reads one jobs line. Errors name the line and the problem.
func parseJob(line int, b []byte) (job, error) {
	j, ok := parseJobFast(b)
	if !ok {
		// A job of its own: one whose address is taken lives on the heap.
		var slow job
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&slow); err != nil {
			return job{line: line}, fmt.Errorf("line %d: not a job (%v); want {\"id\":…,\"method\":…,\"params\":{…}}", line, err)
		}
		j = slow
	}
	j.line = line
	switch {
	case j.ID == "":
		return j, fmt.Errorf("line %d: job has no \"id\"", line)
	case j.Method == "":
		return j, fmt.Errorf("line %d: job %q has no \"method\"", line, j.ID)
	case j.DC < 0:
		return j, fmt.Errorf("line %d: job %q: \"dc\" must be a positive DC id", line, j.ID)
	}
	if len(j.Params) == 0 || string(j.Params) == "null" {
		j.Params = json.RawMessage("{}")
	}
	return j, nil
}

// parseJobFast reads a job line the common way round: one object with the
// job's fields spelt exactly, each of its own JSON type, strings valid
// UTF-8. Anything else (a misspelt or unknown field, a case variant
// encoding/json would accept, a wrong type, bad JSON) reports false and is
// read by encoding/json, which decides and says what is wrong. It gives
// what encoding/json gives for the lines it takes; params are copied out
// of b, which the caller reuses.
func parseJobFast(b []byte) (job, bool) {
	if j, ok := parseJobPlain(b); ok {
		return j, true
	}
	return parseJobJX(b)
}

// parseJobPlain reads a job line in its plainest form, as scripts write
// it: no space outside "params", strings without escapes or control
// characters, a "dc" of decimal digits. It reports false for anything else,
// which parseJobJX reads.
func parseJobPlain(b []byte) (job, bool) {
	var j job
	if len(b) < 2 || b[0] != '{' {
		return j, false
	}
	for i := 1; ; {
		key, n, ok := plainStr(b, i)
		if !ok || n >= len(b) || b[n] != ':' {
			return j, false
		}
		i = n + 1
		switch string(key) {
		case "id", "method", "after":
			v, n, ok := plainStr(b, i)
			if !ok || !utf8.Valid(v) {
				return j, false
			}
			switch string(key) {
			case "id":
				j.ID = string(v)
			case "method":
				j.Method = methodNames.get(v)
			default:
				j.After = string(v)
			}
			i = n
		case "params":
			if i >= len(b) || isSpace(b[i]) {
				return j, false
			}
			d := jx.GetDecoder()
			d.ResetBytes(b[i:])
			raw, err := d.Raw()
			jx.PutDecoder(d)
			if err != nil || len(raw) == 0 || isSpace(raw[len(raw)-1]) {
				return j, false
			}
			j.Params = append(json.RawMessage(nil), raw...)
			i += len(raw)
		case "dc":
			n := i
			for n < len(b) && b[n] >= '0' && b[n] <= '9' && n-i < 9 {
				j.DC = j.DC*10 + int(b[n]-'0')
				n++
			}
			if n == i || b[i] == '0' && n-i > 1 {
				return j, false
			}
			i = n
		default:
			return j, false
		}
		switch {
		case i >= len(b):
			return j, false
		case b[i] == ',':
			i++
		case b[i] == '}':
			return j, i == len(b)-1
		default:
			return j, false
		}
	}
}

// plainStr reads the JSON string at b[i] when it has no escape and no
// control character: its bytes, and the index past its closing quote.
func plainStr(b []byte, i int) (s []byte, next int, ok bool) {
	if i >= len(b) || b[i] != '"' {
		return nil, 0, false
	}
	for k := i + 1; k < len(b); k++ {
		switch c := b[k]; {
		case c == '"':
			return b[i+1 : k], k + 1, true
		case c == '\\' || c < 0x20:
			return nil, 0, false
		}
	}
	return nil, 0, false
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// parseJobJX is parseJobFast for the lines parseJobPlain does not take.
func parseJobJX(b []byte) (job, bool) {
	var j job
	d := jx.GetDecoder()
	defer jx.PutDecoder(d)
	d.ResetBytes(b)
	if d.Next() != jx.Object {
		return j, false
	}
	err := d.ObjBytes(func(d *jx.Decoder, key []byte) error {
		switch string(key) {
		case "id":
			return jobStr(d, &j.ID, false)
		case "method":
			return jobStr(d, &j.Method, true)
		case "after":
			return jobStr(d, &j.After, false)
		case "account":
			return jobStr(d, &j.Account, false)
		case "params":
			raw, err := d.Raw()
			if err != nil {
				return err
			}
			j.Params = append(json.RawMessage(nil), raw...)
			return nil
		case "dc":
			if d.Next() != jx.Number {
				return errSlowPath
			}
			n, err := d.Int()
			if err != nil {
				return err
			}
			j.DC = n
			return nil
		}
		return errSlowPath
	})
	return j, err == nil
}

// jobStr reads a string field of a job line into dst. A method name is
// interned: a run has few methods and many lines.
func jobStr(d *jx.Decoder, dst *string, intern bool) error {
	if d.Next() != jx.String {
		return errSlowPath
	}
	v, err := d.StrBytes()
	if err != nil || !utf8.Valid(v) {
		return errSlowPath
	}
	if intern {
		*dst = methodNames.get(v)
	} else {
		*dst = string(v)
	}
	return nil
}

// methodNames interns method names (a few per run), so that a job line
// does not allocate its method's name.
var methodNames internTable

type internTable struct {
	// last is the name got last: a run's lines mostly repeat one method,
	// which this finds without the lock or a hash.
	last atomic.Pointer[string]
	mu   sync.Mutex
	m    map[string]string
}

func (t *internTable) get(b []byte) string {
	if last := t.last.Load(); last != nil && *last == string(b) {
		return *last
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if s, ok := t.m[string(b)]; ok {
		t.last.Store(&s)
		return s
	}
	s := string(b)
	t.last.Store(&s)
	if len(t.m) < 1024 { // a bound against lines full of made-up names
		if t.m == nil {
			t.m = map[string]string{}
		}
		t.m[s] = s
	}
	return s
}

var errSlowPath = errors.New("not the common form")

// randomID derives a job's random_id from its id, so a rerun or a resend of
// the same job is the same message to the server (MTProto: the server
// deduplicates messages.sendMessage and friends by random_id).
func randomID(jobID string) int64 {
	// The hashed bytes are built on the stack for ids of common length.
	var buf [128]byte
	h := sha256.Sum256(append(append(buf[:0], "tlworker random_id\x00"...), jobID...))
	return int64(binary.LittleEndian.Uint64(h[:8]))
}
