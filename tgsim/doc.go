// Package tgsim is a local Telegram-like MTProto server for tests, benchmarks
// and the demo.
//
// It listens on 127.0.0.1, one listener per DC, performs the real key
// exchange and encryption (gotd's exchange, crypto and transport packages),
// and enforces the server side of MTProto the way Telegram does: msg_id
// windows and divisibility, seqno parity and order, container rules, rotating
// salts with bad_server_salt, new_session_created, acknowledgements,
// msg_resend_req, pings with ping_delay_disconnect and get_future_salts.
//
// Calls run concurrently with a per-method latency, so results come back out
// of order and are sent together in containers; large results are
// gzip-packed. invokeWithLayer(initConnection(...)) is required on a new key,
// invokeAfterMsg/invokeAfterMsgs make a call wait for another's result
// (MSG_WAIT_FAILED when it failed, MSG_WAIT_TIMEOUT when no result appeared
// within Config.WaitTimeout, whether the awaited call runs or has not
// arrived), a small world of users, bots, groups and channels answers the
// common methods with per-account access hashes, a flood model after Telegram's published bot limits answers
// FLOOD_WAIT_X, accounts live on a home DC (USER_MIGRATE_X), and faults can
// be injected (Faults, Config.ConnRate, ForgetSessions, RotateSalts).
// Counters say what the server saw, in all and per account
// (AccountCounters).
//
// # Fleets
//
// WorldConfig.Bots makes many bot accounts (Bots): each has its own token,
// a home DC taken in turn over the DCs (USER_MIGRATE_X elsewhere) and its
// own flood budgets, as every budget is keyed by account. Logging a fleet
// in meets Telegram-like limits: FloodConfig.Logins bounds
// auth.importBotAuthorization calls per client address (30/s with a burst of
// 30 by default, tgsim's choice: Telegram publishes no figure) and
// FloodConfig.TokenLogins, when set, logins per token; Config.AddrConnRate
// bounds new connections per client address (transport error -429).
// Clients come from 127.0.0.1 unless they bind another loopback address
// (127.0.0.2, …), so the per-address budgets are mostly the server's. An
// auth key used at once from two source IPs is revoked as Telegram does:
// every call under it gets 406 AUTH_KEY_DUPLICATED (dupcheck.go;
// Counters.DuplicatedKeys). PrepareKey makes auth keys without a key exchange, so tests of
// thousands of accounts do not spend seconds of CPU on exchanges.
//
// Start one with Start; Close stops it and waits for its goroutines.
//
// # Where the rules live
//
// To add a method: one entry in its subject's table (helpMethods in
// methods_help.go, authMethods in methods_auth.go, usersMethods,
// contactsMethods, channelsMethods, messagesMethods, updatesMethods), made
// by handle with who may call it (anyone, loggedIn, atHome) and its flood
// class (noFlood, perMethod, perSend), and its handler beside it:
//
//	handle(atHome, perMethod, (*world).getUsers),
//
//	func (w *world) getUsers(r *request, req *tg.UsersGetUsersRequest) (bin.Encoder, error)
//
// The name and type id come from the request type; the handler gets the
// request decoded and the world locked, and r.acct set when the method
// needs an account. Methods() lists the registry. A new subject file adds
// its table to the registry in registry.go.
//
//   - registry.go: the registry, handle (the generic decode wrapper),
//     access and flood classes, Methods.
//   - route.go: world.invoke, the router: unknown and unsimulated methods,
//     AUTH_KEY_UNREGISTERED, then under the world lock USER_MIGRATE_X, the
//     flood budget, the handler and the encoding of its result.
//   - methods_*.go: the handlers, one file per subject.
//   - flood.go: the flood model (token buckets, penalties for ignored
//     waits) and which budgets a call spends (methodChecks, sendChecks,
//     paidChecks); limits a client cannot know in advance (per-chat
//     variation, escalating waits, PEER_FLOOD for new private chats of
//     user accounts), and IdealFinish, the bound goodput is measured
//     against.
//   - methods_auth.go: logins, and the login budgets they spend (Logins,
//     TokenLogins).
//   - world.go, peers.go, accounts.go: the world's state (bots and their
//     tokens: world.addBots); input peers and
//     per-account access hashes; what tests and the CLI see of it
//     (HistoryLen, HistoryTexts).
//   - updates.go: each account's common pts sequence, messages from
//     other users (SendAs) pushed to its connected sessions (Faults.DropUpdates
//     drops some), updates.getDifference (methods_updates.go has getState).
//   - randomid.go: random_id deduplicated per account and peer; a repeat
//     read while the first copy runs gets 500 RANDOM_ID_DUPLICATE.
//
// The protocol side, per received frame (conn.go decrypts it):
//
//   - receive.go: salt, replays, containers, new_session_created, then
//     each message to a service handler or to query.
//   - msgcheck.go: msg_id window and divisibility, seqno parity and order,
//     bad_msg_notification. The codes and limits are mtproto/spec's.
//   - container.go: what makes a received msg_container invalid.
//   - replay.go: the window of msg_ids remembered against replays.
//   - service.go: serviceHandlers, one handler per service message type
//     (acks, pings, future salts, resend and state requests, drop answer,
//     destroy session). To handle a new one: a row and its handler there.
//   - calls.go: an RPC query's life: invoke wrappers peeled,
//     initConnection required, invokeAfterMsg waits (await: the one rule
//     for MSG_WAIT_FAILED and MSG_WAIT_TIMEOUT), latency, its result.
//   - outq.go: the outgoing queue: content, service and notice messages
//     (seqno parity, msg_id ≡1 or ≡3 mod 4), acks, containers, what is kept
//     for msg_resend_req.
//   - session.go, authkey.go: sessions of an auth key (ForgetSessions);
//     salts (RotateSalts in server.go).
//   - conn.go, server.go: connections, key exchange, listeners, SetFaults.
//   - dupcheck.go: an auth key used at once from two IPs
//     (AUTH_KEY_DUPLICATED).
//   - faults_conn.go: faults on connections and frames: Blackhole,
//     DuplicateFrames, ReplayFrames, NotFoundKeys (-404), Config.ConnRate
//     and Config.AddrConnRate (-429).
//   - faults_results.go: faults on answers: DropResults, DetailedInfo
//     (msg_detailed_info), and answers of forgotten sessions.
//   - faults_state.go: the server asking the client with msgs_state_req
//     (StateReqs) and applying its msgs_state_info.
package tgsim
