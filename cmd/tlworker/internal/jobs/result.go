package jobs

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"sync"
	"time"

	"github.com/gotd/td/tgerr"
)

// Result is one result line: {"id":…,"ok":true,"result":{…},"latency_ms":3.1}
// or {"id":…,"ok":false,"error":{"code":420,"message":"FLOOD_WAIT_30"}}.
type Result struct {
	ID        string          `json:"id"`
	OK        bool            `json:"ok"`
	Result    json.RawMessage `json:"result,omitempty"`
	Error     *Error          `json:"error,omitempty"`
	LatencyMS *float64        `json:"latency_ms,omitempty"`
}

// Error is a failed job's error object: an RPC error's code and message,
// or code 0 and a message saying what happened (bad input, a broken chain).
type Error struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

// failure makes the error object of a line: RPC errors keep their code and
// message; anything else (bad input, a broken chain, a closed client) is
// code 0 with a message that says what happened.
func failure(err error) *Error {
	var rpc *tgerr.Error
	if errors.As(err, &rpc) {
		return &Error{Code: rpc.Code, Message: rpc.Message}
	}
	return &Error{Code: 0, Message: err.Error()}
}

func ms(d time.Duration) *float64 {
	v := float64(d.Microseconds()) / 1000
	return &v
}

// resultWriter writes result lines, one JSON object each, in completion
// order. Safe for concurrent use.
type resultWriter struct {
	mu  sync.Mutex
	w   *bufio.Writer
	err error
}

func newResultWriter(w io.Writer) *resultWriter {
	return &resultWriter{w: bufio.NewWriterSize(w, 64<<10)}
}

func (r *resultWriter) write(o Result) {
	b, err := json.Marshal(o)
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		r.err = err
		return
	}
	b = append(b, '\n')
	if _, err := r.w.Write(b); err != nil && r.err == nil {
		r.err = err
	}
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
