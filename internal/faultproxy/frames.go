package faultproxy

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"time"
)

// intermediateTag is the client's first 4 bytes in the intermediate
// transport (gotd codec.IntermediateClientStart).
var intermediateTag = [4]byte{0xee, 0xee, 0xee, 0xee}

// maxFrame is the largest frame length accepted, as gotd's codec
// (maxMessageSize, 16 MiB).
const maxFrame = 1 << 24

// errBadStream marks a stream that breaks the intermediate framing.
var errBadStream = errors.New("faultproxy: not an intermediate stream")

// stream is one direction of a connection, as an index.
type stream int

const (
	toServer stream = iota
	toClient
)

// dir returns the Direction of s.
func (s stream) dir() Direction {
	if s == toServer {
		return ClientToServer
	}
	return ServerToClient
}

// part is what a write carries, for the counters.
type part int

const (
	partTag part = iota
	partFrame
	partDuplicate
	partReplay
)

// readTag reads and checks the client's tag.
func readTag(r io.Reader) ([]byte, error) {
	var tag [4]byte
	if _, err := io.ReadFull(r, tag[:]); err != nil {
		return nil, err
	}
	if tag != intermediateTag {
		return nil, fmt.Errorf("%w: tag %x", errBadStream, tag)
	}
	return tag[:], nil
}

// readFrame reads one frame, length prefix included, into a new slice.
func readFrame(r io.Reader) ([]byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err
	}
	n := binary.LittleEndian.Uint32(hdr[:])
	if n == 0 || n > maxFrame {
		return nil, fmt.Errorf("%w: frame length %d", errBadStream, n)
	}
	f := make([]byte, 4+int(n))
	copy(f, hdr[:])
	if _, err := io.ReadFull(r, f[4:]); err != nil {
		return nil, err
	}
	return f, nil
}

// plan is what happens to one frame read.
type plan struct {
	drop       bool          // silenced: discard
	delay      time.Duration // wait before writing it
	duplicate  bool          // write it twice
	replayBack int           // >0: frames are remembered this many back
	replay     bool          // afterwards, write again the frame replayBack back
}

// forward copies frames from src to dst, applying the faults, until an
// error; the connection's closing ends it.
func (c *conn) forward(s stream, src, dst net.Conn) error {
	r := bufio.NewReaderSize(src, 64<<10)
	rng := rand.New(rand.NewPCG(c.p.cfg.Seed, c.id<<2|uint64(s)))
	var tag []byte // held while silenced, written before the first frame
	if s == toServer {
		t, err := readTag(r)
		if err != nil {
			return err
		}
		tag = t
		if !c.p.silenced(s) {
			if err := c.write(s, dst, tag, partTag); err != nil {
				return err
			}
			tag = nil
		}
	}
	var history [][]byte // frames forwarded, the last replayBack of them
	for {
		f, err := readFrame(r)
		if err != nil {
			return err
		}
		pl := c.p.plan(s, rng)
		if pl.drop {
			continue
		}
		if pl.delay > 0 {
			t := time.NewTimer(pl.delay)
			select {
			case <-t.C:
			case <-c.done:
				t.Stop()
				return net.ErrClosed
			}
		}
		if tag != nil {
			if err := c.write(s, dst, tag, partTag); err != nil {
				return err
			}
			tag = nil
		}
		if err := c.write(s, dst, f, partFrame); err != nil {
			return err
		}
		if pl.duplicate {
			if err := c.write(s, dst, f, partDuplicate); err != nil {
				return err
			}
		}
		if pl.replayBack == 0 {
			history = nil
			continue
		}
		if pl.replay && len(history) >= pl.replayBack {
			old := history[len(history)-pl.replayBack]
			if err := c.write(s, dst, old, partReplay); err != nil {
				return err
			}
		}
		history = append(history, f)
		if extra := len(history) - pl.replayBack; extra > 0 {
			history = append(history[:0], history[extra:]...)
		}
	}
}

// plan decides the faults for one frame of stream s, drawing from rng, and
// counts drops and delays.
func (p *Proxy) plan(s stream, rng *rand.Rand) plan {
	p.mu.Lock()
	defer p.mu.Unlock()
	fl := p.stats.flow(s)
	if p.silence&s.dir() != 0 {
		fl.Dropped++
		p.notifyLocked()
		return plan{drop: true}
	}
	ff := p.faults[s]
	var pl plan
	if ff.Delay > 0 && ff.DelayBy > 0 && rng.Float64() < ff.Delay {
		pl.delay = ff.DelayBy
		fl.Delayed++
		p.notifyLocked()
	}
	if ff.Duplicate > 0 && rng.Float64() < ff.Duplicate {
		pl.duplicate = true
	}
	if ff.Replay > 0 {
		// A frame is remembered only while Replay is set; when no frame is
		// that far back yet, nothing is replayed.
		pl.replayBack = max(ff.ReplayBack, 1)
		pl.replay = rng.Float64() < ff.Replay
	}
	return pl
}
