package bench

import (
	"time"

	"github.com/gotd/td/clock"
)

// benchClock is the flood bench's Telegram time (--scale): real time
// running scale times faster from origin. tgsim's flood model, the pacer
// (actors.Config.TimeScale), gotd's flood waiter and every figure the
// bench reports keep it, so minutes of Telegram's limits pass in seconds.
type benchClock struct {
	origin time.Time
	scale  float64
}

func newBenchClock(scale float64) benchClock { return benchClock{origin: time.Now(), scale: scale} }

func (c benchClock) now() time.Time {
	return c.origin.Add(time.Duration(float64(time.Since(c.origin)) * c.scale))
}

// real returns how long d of Telegram time lasts in real time.
func (c benchClock) real(d time.Duration) time.Duration {
	return time.Duration(float64(d) / c.scale)
}

// gotd returns the clock as gotd's clock.Clock, for contrib's flood
// waiter: its timers last the real time of their Telegram time. (contrib
// v0.25.0's Waiter takes only its ticker from it: the waits themselves
// keep the system clock, so at -scale N gotd's rows wait N times too
// long; compare them at -scale 1.)
func (c benchClock) gotd() clock.Clock { return gotdClock{c} }

type gotdClock struct{ c benchClock }

func (g gotdClock) Now() time.Time { return g.c.now() }

func (g gotdClock) Timer(d time.Duration) clock.Timer {
	return &scaledTimer{t: time.NewTimer(g.c.real(d)), c: g.c}
}

func (g gotdClock) Ticker(d time.Duration) clock.Ticker {
	return &scaledTicker{t: time.NewTicker(g.c.tick(d)), c: g.c}
}

// tick is a ticker's real period: at least a millisecond (a shorter one
// spins; time.NewTicker refuses zero).
func (c benchClock) tick(d time.Duration) time.Duration { return max(c.real(d), time.Millisecond) }

type scaledTimer struct {
	t *time.Timer
	c benchClock
}

func (t *scaledTimer) C() <-chan time.Time   { return t.t.C }
func (t *scaledTimer) Stop() bool            { return t.t.Stop() }
func (t *scaledTimer) Reset(d time.Duration) { t.t.Reset(t.c.real(d)) }

type scaledTicker struct {
	t *time.Ticker
	c benchClock
}

func (t *scaledTicker) C() <-chan time.Time   { return t.t.C }
func (t *scaledTicker) Stop()                 { t.t.Stop() }
func (t *scaledTicker) Reset(d time.Duration) { t.t.Reset(t.c.tick(d)) }
