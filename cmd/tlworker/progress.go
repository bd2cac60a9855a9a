package main

import (
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
)

// progress shows jobs as they finish.
type progress interface {
	add(ok bool)
	finish()
}

// newProgress picks the display: a bar on a terminal (mode auto), a line
// every two seconds otherwise (plain), or nothing.
func newProgress(mode string, w io.Writer, total int) progress {
	if mode == "none" {
		return noProgress{}
	}
	if mode == "auto" {
		if f, ok := w.(*os.File); ok && isatty.IsTerminal(f.Fd()) && total > 0 {
			return newBar(w, total)
		}
	}
	return newPlain(w, total)
}

type noProgress struct{}

func (noProgress) add(bool) {}
func (noProgress) finish()  {}

type barProgress struct {
	p      *mpb.Progress
	bar    *mpb.Bar
	failed atomic.Int64
}

func newBar(w io.Writer, total int) *barProgress {
	b := &barProgress{p: mpb.New(mpb.WithOutput(w), mpb.WithRefreshRate(100*time.Millisecond))}
	b.bar = b.p.AddBar(int64(total),
		mpb.PrependDecorators(decor.Name("calls "), decor.CountersNoUnit("%d / %d")),
		mpb.AppendDecorators(
			decor.Any(func(decor.Statistics) string { return fmt.Sprintf(" failed %d ", b.failed.Load()) }),
			decor.EwmaSpeed(0, "%.0f/s", 30),
		),
	)
	return b
}

func (b *barProgress) add(ok bool) {
	if !ok {
		b.failed.Add(1)
	}
	b.bar.EwmaIncrement(time.Millisecond)
}

func (b *barProgress) finish() {
	if !b.bar.Completed() {
		b.bar.Abort(false)
	}
	b.p.Wait()
}

type plainProgress struct {
	w        io.Writer
	total    int
	ok, fail atomic.Int64
	stop     chan struct{}
	done     chan struct{}
	once     sync.Once
	start    time.Time
}

func newPlain(w io.Writer, total int) *plainProgress {
	p := &plainProgress{w: w, total: total, stop: make(chan struct{}), done: make(chan struct{}), start: time.Now()}
	go func() {
		defer close(p.done)
		t := time.NewTicker(2 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				p.line()
			case <-p.stop:
				p.line()
				return
			}
		}
	}()
	return p
}

func (p *plainProgress) line() {
	n := p.ok.Load() + p.fail.Load()
	of := ""
	if p.total > 0 {
		of = fmt.Sprintf(" of %d", p.total)
	}
	rate := float64(n) / time.Since(p.start).Seconds()
	fmt.Fprintf(p.w, "calls %d%s: ok %d, failed %d, %.0f/s\n", n, of, p.ok.Load(), p.fail.Load(), rate)
}

func (p *plainProgress) add(ok bool) {
	if ok {
		p.ok.Add(1)
	} else {
		p.fail.Add(1)
	}
}

func (p *plainProgress) finish() {
	p.once.Do(func() { close(p.stop); <-p.done })
}
