package actors

import "time"

// schedClock is the scheduler actor's time (Config.TimeScale): real time,
// or real time running scale times faster from origin.
type schedClock struct {
	origin time.Time
	scale  float64
}

func newSchedClock(scale float64) schedClock {
	if scale <= 0 {
		scale = 1
	}
	return schedClock{origin: time.Now(), scale: scale}
}

// now is the scheduler's present.
func (c schedClock) now() time.Time { return c.at(time.Now()) }

// at returns the scheduler's time at real instant t.
func (c schedClock) at(t time.Time) time.Time {
	if c.scale == 1 || t.IsZero() {
		return t
	}
	return c.origin.Add(time.Duration(float64(t.Sub(c.origin)) * c.scale))
}

// real returns how long d of the scheduler's time lasts in real time.
func (c schedClock) real(d time.Duration) time.Duration {
	if c.scale == 1 {
		return d
	}
	return time.Duration(float64(d) / c.scale)
}
