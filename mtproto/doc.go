// Package mtproto is the client side of an MTProto 2.0 session as a pure state
// machine, in the spirit of etcd's raft package: it owns no goroutines,
// sockets or timers. The owner (an actor, a test driver) gives it the calls to
// send and the frames it read, together with the current time, and gets back
// encrypted frames to write and events to act on.
//
//	s, _ := mtproto.New(cfg, key, salt)
//	out, _ := s.Pack(now, calls)      // frames to write, one per container
//	rcv, err := s.Receive(now, frame) // rcv.Results routed to calls by req_msg_id
//	out, _ = s.Flush(now)             // resends, acks, pings, when NextDeadline() passes
//
// The session packs many calls into one msg_container, wraps the first call of
// a session in invokeWithLayer(initConnection(...)) and a call that names a
// predecessor in invokeAfterMsg, and recovers transparently from what servers
// do to a session: bad_server_salt, bad_msg_notification, new_session_created,
// msg_detailed_info, msg_resend_req. Every call is either answered by exactly
// one Result event or stays in the set returned by Unanswered, so a new
// connection can resend it.
//
// TL encoding, crypto and transport codecs are github.com/gotd/td's; this
// package adds the session rules on top of them.
package mtproto
