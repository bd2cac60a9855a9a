// Package faultproxy is a fault-injecting TCP proxy for tests: put it between
// an MTProto client and a server (tgsim, gotd's tgtest) to prove that
// connections never hang and calls survive the faults of a real network.
//
// # Contract
//
// Start listens on 127.0.0.1 (port chosen by the system) and, for each
// connection accepted, dials the target and forwards both ways until either
// side closes, a fault cuts the connection, or Close. Close closes every
// connection and returns only when every goroutine the proxy started has
// ended.
//
// The proxy speaks MTProto's "intermediate" transport, as gotd's
// codec.Intermediate: the client first sends the 4-byte tag 0xeeeeeeee, then
// every packet, in both directions, is a 4-byte little-endian length n
// followed by n bytes (https://core.telegram.org/mtproto/mtproto-transports#intermediate).
// It parses that framing so that faults can act on whole frames. A stream
// that breaks it (another tag, a length of 0 or over 16 MiB, as gotd's
// codec refuses) is closed and counted in Stats.BadStreams. Quick acks (a
// length with its top bit set) are not supported.
//
// Every fault can be set and changed at run time from any goroutine:
//
//   - Cut closes every open connection, both sockets, at once. CutAfter arms
//     a cut after a random number of bytes drawn from a range, mid-frame
//     included, on open and new connections or on the next one only.
//   - Silence stops forwarding in one or both directions while both sockets
//     stay open. Frames read meanwhile are discarded, not held (as when a NAT
//     entry expires); see Silence for the client's tag.
//   - Refuse accepts new connections and closes them at once, and cuts the
//     open ones: an outage.
//   - SetFrameFaults duplicates, replays or delays frames in either
//     direction, each with a probability.
//
// A test that proves calls survive cuts and duplicated answers might read:
//
//	p, err := faultproxy.Start(srv.Addr(), faultproxy.Config{Seed: 1})
//	if err != nil {
//		t.Fatal(err)
//	}
//	defer p.Close()
//	// Every connection dies somewhere in its first 5000 bytes.
//	p.CutAfter(faultproxy.CutRule{Min: 100, Max: 5000})
//	p.SetFrameFaults(faultproxy.ServerToClient, faultproxy.FrameFaults{Duplicate: 0.05})
//	// ... point the client (transport.Intermediate) at p.Addr(), make calls ...
//	if err := p.WaitFor(ctx, func(s faultproxy.Stats) bool { return s.Cuts >= 3 }); err != nil {
//		t.Fatal(err)
//	}
//
// # Determinism
//
// Random choices come from generators seeded by Config.Seed and a
// connection's sequence number (1, 2, ... in accept order): one per
// direction for frame faults, one for cut offsets. Given a seed, the same
// frames on the same connection, under the same settings, meet the same
// faults, whatever the timing of the other direction.
//
// # Observing
//
// Stats returns counters (connections, cuts, frames and bytes each way,
// frames dropped, duplicated, replayed, delayed). WaitFor and WaitConns
// block until the counters satisfy a condition, so tests synchronise on
// events rather than sleeps.
//
// # Where the rules live
//
// proxy.go holds the listener and lifecycle, conn.go one proxied connection
// and its byte budget, frames.go the framing and the per-frame faults,
// faults.go the fault setters, stats.go the counters and waiting.
package faultproxy
