package main

import (
	"bufio"
	"encoding/json"
	"io"
	"sync"
	"time"
)

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

func (r *resultWriter) write(o outcome) {
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
