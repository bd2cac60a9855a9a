package tgsim

import (
	"math/rand/v2"
	"slices"
	"time"

	"github.com/gotd/td/bin"
)

// Faults that act on connections and frames: a silent connection
// (Blackhole), duplicated and replayed server frames, forgotten auth keys
// (-404) and the connection rate limit (-429).

// blackholed reports whether frames are to be dropped unread and nothing
// written (Faults.Blackhole).
func (s *Server) blackholed() bool { return s.faults.Load().Blackhole }

// keyForgotten reports whether Faults.NotFoundKeys names the auth key id.
func (s *Server) keyForgotten(id [8]byte) bool {
	return slices.Contains(s.faults.Load().NotFoundKeys, id)
}

// replayKeep is how many frames a connection keeps for Faults.ReplayFrames.
const replayKeep = 16

// echoFaults writes a frame again (Faults.DuplicateFrames), or an older
// one (Faults.ReplayFrames), after the frame b was written. Only the
// connection's writer calls it.
func (c *conn) echoFaults(b []byte) error {
	srv := c.srv
	f := srv.faults.Load()
	if f.DuplicateFrames > 0 && rand.Float64() < f.DuplicateFrames {
		srv.count.duplicatedFrames.Add(1)
		if err := c.tc.Send(srv.ctx, &bin.Buffer{Buf: slices.Clone(b)}); err != nil {
			return err
		}
	}
	if f.ReplayFrames > 0 && len(c.sent) > 0 && rand.Float64() < f.ReplayFrames {
		old := c.sent[rand.N(len(c.sent))]
		srv.count.replayedFrames.Add(1)
		if err := c.tc.Send(srv.ctx, &bin.Buffer{Buf: slices.Clone(old)}); err != nil {
			return err
		}
	}
	if f.ReplayFrames > 0 {
		c.sent = append(c.sent, slices.Clone(b))
		if len(c.sent) > replayKeep {
			c.sent = c.sent[1:]
		}
	}
	return nil
}

// admitConn applies Config.ConnRate to a new connection of k: false when k
// has opened more than N connections within Window.
func (k *authKey) admitConn(now time.Time) bool {
	r := k.dc.srv.cfg.ConnRate
	if r.N <= 0 || r.Window <= 0 {
		return true
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	keep := k.connTimes[:0]
	for _, t := range k.connTimes {
		if now.Sub(t) < r.Window {
			keep = append(keep, t)
		}
	}
	k.connTimes = keep
	if len(keep) >= r.N {
		return false
	}
	k.connTimes = append(k.connTimes, now)
	return true
}
