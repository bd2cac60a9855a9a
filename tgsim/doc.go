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
// invokeAfterMsg/invokeAfterMsgs make a call wait for another (with
// MSG_WAIT_FAILED and MSG_WAIT_TIMEOUT), a small world of users, a bot,
// groups and channels answers the common methods with per-account access
// hashes, a flood model after Telegram's published bot limits answers
// FLOOD_WAIT_X, accounts live on a home DC (USER_MIGRATE_X), and faults can
// be injected. Counters say what the server saw.
//
// Start one with Start; Close stops it and waits for its goroutines.
package tgsim
