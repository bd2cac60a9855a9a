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
	return newProgressWith(mode, w, total, nil)
}

// newProgressWith is newProgress with more to show after the counts:
// extra (if not nil) is read at every refresh and shown when not empty
// (tlworker send's pacing, pacingshow.go); compact asks for a short form,
// for the bar's one terminal line.
func newProgressWith(mode string, w io.Writer, total int, extra func(compact bool) string) progress {
	if mode == "none" {
		return noProgress{}
	}
	if mode == "auto" {
		if f, ok := w.(*os.File); ok && isatty.IsTerminal(f.Fd()) && total > 0 {
			return newBar(w, total, extra)
		}
	}
	return newPlain(w, total, extra)
}

type noProgress struct{}

func (noProgress) add(bool) {}
func (noProgress) finish()  {}

type barProgress struct {
	p      *mpb.Progress
	bar    *mpb.Bar
	failed atomic.Int64
	once   sync.Once
}

func newBar(w io.Writer, total int, extra func(compact bool) string) *barProgress {
	b := &barProgress{p: mpb.New(mpb.WithOutput(w), mpb.WithRefreshRate(100*time.Millisecond))}
	appended := []decor.Decorator{
		decor.Any(func(decor.Statistics) string { return fmt.Sprintf(" failed %d ", b.failed.Load()) }),
		decor.EwmaSpeed(0, "%.0f/s", 30),
	}
	if extra != nil {
		appended = append(appended, decor.Any(func(decor.Statistics) string {
			if s := extra(true); s != "" {
				return " · " + s
			}
			return ""
		}))
	}
	b.bar = b.p.AddBar(int64(total),
		mpb.PrependDecorators(decor.Name("calls "), decor.CountersNoUnit("%d / %d")),
		mpb.AppendDecorators(appended...),
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
	b.once.Do(func() {
		if !b.bar.Completed() {
			b.bar.Abort(false)
		}
		b.p.Wait()
	})
}

type plainProgress struct {
	w        io.Writer
	total    int
	ok, fail atomic.Int64
	stop     chan struct{}
	done     chan struct{}
	once     sync.Once
	start    time.Time
	extra    func(compact bool) string // more to show, if not nil (newProgressWith)
}

func newPlain(w io.Writer, total int, extra func(compact bool) string) *plainProgress {
	p := &plainProgress{w: w, total: total, stop: make(chan struct{}), done: make(chan struct{}), start: time.Now(), extra: extra}
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
	more := ""
	if p.extra != nil {
		if s := p.extra(false); s != "" {
			more = "; " + s
		}
	}
	fmt.Fprintf(p.w, "calls %d%s: ok %d, failed %d, %.0f/s%s\n", n, of, p.ok.Load(), p.fail.Load(), rate, more)
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
