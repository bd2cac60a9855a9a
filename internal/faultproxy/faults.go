package faultproxy

import "time"

// Direction selects one or both directions of a connection. The zero value
// is neither.
type Direction uint8

// Directions.
const (
	// ClientToServer is the stream from the client, through the proxy, to
	// the target.
	ClientToServer Direction = 1 << iota
	// ServerToClient is the stream from the target back to the client.
	ServerToClient
	// Both is both streams.
	Both = ClientToServer | ServerToClient
)

// String returns "none", "client->server", "server->client" or "both".
func (d Direction) String() string {
	switch d & Both {
	case ClientToServer:
		return "client->server"
	case ServerToClient:
		return "server->client"
	case Both:
		return "both"
	}
	return "none"
}

// Cut closes every open connection now, both sockets (the client and the
// target see EOF), and returns how many it closed; each counts in
// Stats.Cuts. New connections are not affected (TestCutClosesBothSides).
func (p *Proxy) Cut() int {
	p.mu.Lock()
	open := p.openLocked()
	p.mu.Unlock()
	for _, c := range open {
		c.shut(true)
	}
	return len(open)
}

// CutRule arms cuts at a random byte offset; see CutAfter. The zero CutRule
// cuts every connection, open or new, before its first byte.
type CutRule struct {
	// Min and Max bound the number of bytes forwarded before the cut,
	// inclusive; the offset is drawn uniformly (Max below Min means Min).
	// Bytes count whatever the proxy writes in the directions Dir: the
	// 4-byte length prefixes, the client's tag, duplicated and replayed
	// frames. The cut may fall inside a frame.
	Min, Max int64
	// Dir selects the directions whose bytes count; zero means Both. With
	// Both the two directions share one budget, and the close may also
	// truncate a write in flight in the other direction, so only the sum
	// written is bounded by the offset.
	Dir Direction
	// NextOnly applies the rule to the next connection accepted only, then
	// forgets it; open connections are untouched. Otherwise the rule
	// applies to every open connection (counting from now) and to every
	// new one (counting from its first byte) until StopCuts.
	NextOnly bool
}

// CutAfter arms r: a connection it applies to is cut (both sockets closed,
// counted in Stats.Cuts) as soon as the proxy has written the drawn number
// of bytes on it; zero cuts at once. Each connection draws its own offset
// from the seeded generator (see the package doc). A later CutAfter
// replaces the rule of the same kind (NextOnly or not) and rearms open
// connections if it applies to them. Tests: TestCutAfterServerToClient,
// TestCutAfterClientToServer, TestCutAfterNextOnlyAndOpen.
func (p *Proxy) CutAfter(r CutRule) {
	p.mu.Lock()
	if r.NextOnly {
		p.cutNext = &r
		p.mu.Unlock()
		return
	}
	p.cutEvery = &r
	var due []*conn
	for c := range p.conns {
		if c.armLocked(r) {
			due = append(due, c)
		}
	}
	p.mu.Unlock()
	for _, c := range due {
		c.shut(true)
	}
}

// StopCuts disarms every CutAfter rule and every budget on open
// connections.
func (p *Proxy) StopCuts() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cutEvery, p.cutNext = nil, nil
	for c := range p.conns {
		c.cut = budget{}
	}
}

// Silence stops forwarding in the directions d, on open and new
// connections alike, while every socket stays open; Silence(0) resumes.
// Frames read while their direction is silent are discarded whole (as a NAT
// entry that expired loses them) and counted in Flow.Dropped; a frame
// already being written or delayed is not stopped. The client's tag,
// though, is held rather than discarded and written before the first frame
// forwarded, so that a connection opened during silence is well-formed
// once it ends (TestSilence).
func (p *Proxy) Silence(d Direction) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.silence = d & Both
}

// silenced reports whether stream s is silent now.
func (p *Proxy) silenced(s stream) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.silence&s.dir() != 0
}

// Refuse, while on, models an outage: every connection accepted is closed
// at once (the client's dial succeeds, then it reads EOF; the target is not
// dialled), counted in Stats.Refused; turning it on also cuts every open
// connection, as Cut, and returns how many. Refuse(false) accepts again
// (TestRefuse).
func (p *Proxy) Refuse(on bool) int {
	p.mu.Lock()
	p.refuse = on
	p.mu.Unlock()
	if !on {
		return 0
	}
	return p.Cut()
}

// FrameFaults are faults on whole frames of one direction, each drawn per
// frame with its probability (0 never, 1 always) from the connection's
// seeded generator. The zero value injects nothing. Tests:
// TestFrameFaultsExact, TestFrameFaultsSeeded, TestDelayKeepsOrder,
// TestDuplicateClientToServer.
type FrameFaults struct {
	// Duplicate is the probability that a frame is written twice in a row
	// (counted in Flow.Duplicated).
	Duplicate float64
	// Replay is the probability that, after a frame, the frame forwarded
	// ReplayBack frames before it is written again (Flow.Replayed). Frames
	// are remembered only while Replay is set, and only original frames,
	// not copies, so nothing is replayed until ReplayBack frames have gone
	// by.
	Replay float64
	// ReplayBack is how many frames back a replay reaches; zero means 1,
	// the previous frame.
	ReplayBack int
	// Delay is the probability that a frame waits DelayBy before it is
	// written (Flow.Delayed). As on TCP, the frames behind it wait too:
	// order is kept.
	Delay float64
	// DelayBy is the wait of a delayed frame.
	DelayBy time.Duration
}

// SetFrameFaults sets the frame faults of the directions d, for open and new
// connections, from the next frame read; the zero FrameFaults clears them.
// A frame gets, in order: its delay, itself, its duplicate, its replay.
func (p *Proxy) SetFrameFaults(d Direction, f FrameFaults) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if d&ClientToServer != 0 {
		p.faults[toServer] = f
	}
	if d&ServerToClient != 0 {
		p.faults[toClient] = f
	}
}
