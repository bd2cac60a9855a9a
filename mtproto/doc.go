// Package mtproto is the client side of an MTProto 2.0 session as a pure state
// machine, in the spirit of etcd's raft package: it owns no goroutines,
// sockets or timers. The owner (an actor, a test driver) gives it the calls to
// send and the frames it read, together with the current time, and gets back
// encrypted frames to write and events to act on.
//
//	s, _ := mtproto.New(cfg, key, salt)
//	out, _ := s.Pack(now, calls)      // frames to write, one per container
//	rcv, err := s.Receive(now, frame) // rcv.Results routed to calls by req_msg_id
//	out, err = s.Flush(now)           // resends, acks, pings, when NextDeadline() passes
//	                                  // (errors.Is(err, ErrSilent): reconnect, then s.Resume(now))
//
// The session packs many calls into one msg_container, wraps the first call of
// a session in invokeWithLayer(initConnection(...)) and a call that names a
// predecessor in invokeAfterMsg, and recovers transparently from what servers
// do to a session: bad_server_salt, bad_msg_notification, new_session_created,
// msg_detailed_info, msg_resend_req, msgs_state_req; it refuses replayed
// and out-of-window server messages, and notices a silent connection. A
// session outlives its connections: after a reconnect, Resume asks the
// server what became of the calls in flight and resends only those it never
// got. Every call is either answered by exactly
// one Result event or stays in the set returned by Unanswered, so a new
// connection can resend it.
//
// TL encoding, crypto and transport codecs are github.com/gotd/td's; this
// package adds the session rules on top of them.
//
// # Where each rule lives
//
// The protocol's numbers (bad_msg codes, container and ack limits, the
// msg_id window) are named once in package mtproto/spec, shared with the
// simulator. In this package:
//
//   - a new bad_msg_notification code: one row in badmsg.go (code, meaning,
//     action, resend reason); handle_bad_msg.go applies the actions and
//     BadMsgError.Meaning reads the same row.
//   - a new service message from the server: one case in dispatch
//     (receive.go), which only routes, and one handle_*.go file:
//     handle_container.go, handle_gzip.go, handle_rpc_result.go (routing by
//     req_msg_id) with handle_answer.go (a call's Result, the
//     initConnection rules), handle_ack.go, handle_salt.go (bad_server_salt,
//     future_salts), handle_new_session.go, handle_pong.go,
//     handle_resend_req.go, handle_detailed_info.go.
//   - why calls are resent: the ResendReason constants in events.go.
//   - packing: msg_id and seqno, containers, outgoing acks and resend
//     requests, salt choice in pack.go; the invokeWithLayer and
//     invokeAfterMsg wrappers in wrap.go; limits and defaults in config.go.
//   - session lifetime (new session, future salt requests) in session.go;
//     dialling in dial.go.
//   - liveness (idle and busy pings, the silence check behind ErrSilent,
//     the time window of server msg_ids, Resume on a new connection) in
//     liveness.go; the replay window over server msg_ids in replay.go; the
//     msg_id ranges of sent frames (for new_session_created) in frames.go;
//     asking the server about calls (msgs_state_req, msgs_state_info,
//     msg_resend_ans_req) in handle_state_info.go, answering its own
//     msgs_state_req in handle_state_req.go; future salts (RefreshSalts,
//     FutureSalts, SetFutureSalts) in salts.go.
//   - the key exchange: gotd's, or with DialConfig.Primes set ours
//     (exchange.go, exchange_finish.go), whose only difference is that
//     dh_prime's primality check goes through the PrimeCache (primes.go).
package mtproto
