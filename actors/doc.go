// Package actors runs tlsched on protoactor-go: a scheduler actor that
// drives scheduler.State, one DC actor per DC that owns a connection and an
// mtproto.Session, and the Client facade callers use.
//
// # The actors and what each owns
//
//   - Client (client.go, future.go): the facade. It encodes each request
//     once on the caller's goroutine, starts its span, holds the
//     BlockWhenFull semaphore, and hands calls to the scheduler actor
//     (submitMsg); a Future resolves when the scheduler actor finishes the
//     call. It is the only type that sees the whole Config. Its options,
//     one type for calls and batches, are in options.go; batches
//     (InvokeAll, InvokeAllAs, *MultiError) in batch.go; the tg.Invoker
//     middleware chain (Use) in middleware.go; the result hooks
//     (Config.OnResult, Client.OnResult) in resulthooks.go.
//   - The scheduler actor (scheduler_actor.go): owns scheduler.State and
//     every pending call from submission to its outcome, so nothing a
//     caller waits for is lost when a DC actor fails. It spawns a DC actor
//     on a DC's first batch, supervises it, sends it batches (batchMsg) and
//     turns its answers (resultsMsg) and losses (lostMsg) into outcomes.
//   - A DC actor (dc_actor.go): owns one DC's net.Conn, its dial and reader
//     goroutines, and the mtproto.Session. It packs each batch into one
//     container, writes frames, feeds read frames to the session, and on a
//     lost connection keeps the session for the next one and redials.
//   - dcTelemetry (dc_telemetry.go): a DC actor's spans and metrics per
//     connection, frame and container, beside the driving code.
//   - Updates (updates.go): the DC actors and the result hooks offer
//     Updates objects to a bounded queue drained by one goroutine that
//     calls Config.UpdateHandler; the actors never wait for it
//     (TestUpdateQueueOrderAndOverflow, examples/updates).
//   - Fleet (fleet.go): many accounts in one actor system. Each account's
//     scheduler actor is spawned as "account/NAME" and is the root of the
//     account's actors (its DC actors are its children), so a failure stays
//     in its account; its Client is a view of it, its Store the account's
//     namespace of FleetConfig.Store (BoltDB.Account). Idle stop
//     (Config.IdleTimeout, idle.go) closes an idle account's connections
//     until its next call. Packages built on actors keep a thing per
//     account with Fleet.AccountResource (fleet_resource.go), closed with
//     the account, and their records in the account's namespace with
//     BoltStore.Bucket (boltbucket.go): entitycache.ForAccount keeps each
//     account's entity cache so. Logging a fleet in (fleet_login.go): LoginAll
//     paces logins fleet-wide, waits out a FLOOD_WAIT for every account,
//     and skips keys logged in already (LoginStore); new connections of
//     accounts on the default dialer are paced fleet-wide (Config.connPace)
//     (TestFleetLoginAllPaced, TestFleetLoginAllHonoursFloodWait).
//
// The actors receive a dependency value (schedulerDeps, dcDeps in deps.go)
// built by Start (or Fleet.Add) from the Config, never the Client. Messages between them
// are plain structs in messages.go.
//
// # Where each rule lives
//
//   - Batching, limits, chains, flood gates, retries, migration: package
//     scheduler; the scheduler actor only calls Submit, Ready, Complete,
//     Lost and Cancel and arms a timer for NextDeadline.
//   - MTProto session rules (msg_id, seqno, salts, acks, resends,
//     bad_msg_notification): package mtproto; the DC actor only calls Pack,
//     Receive and Flush and arms a timer for NextDeadline.
//   - Reconnect pacing: reconnect.go (jittered backoff that only a
//     connection that carried answers for Config.HealthyAfter resets,
//     Config.TransportFloodWait after a transport -429, the per-DC dial rate
//     limit Config.DialLimits; TestReconnectBackoffResetsOnlyWhenHealthy,
//     TestReconnectTransportFlood, TestDialLimiter,
//     TestTransportFloodWaitsBeforeRedial). Restart pacing of a DC actor
//     that panicked: backoff.go (Config.RestartBackoff).
//   - Liveness: the session pings and reports a silent connection
//     (mtproto.ErrSilent from Flush), which the DC actor drops like any
//     lost one (TestSilentConnectionDetectedAndRecovered;
//     BenchmarkSilenceDetection measures it).
//   - Session continuity (dc_session.go): a lost connection keeps the
//     session and its calls; the next connection with the same key resumes
//     it (mtproto.Session.Resume asks the server about the calls in
//     flight), and a server that did not resume it gets a fresh session
//     with the calls resent (TestCutsAndDuplicatedFramesExactlyOnce,
//     TestTgsimDroppedConnections, TestKeyRejectedOnWorkingConnectionIsRetried).
//     Salts and the time offset are saved with the key (SessionStore) and
//     future salts refreshed (TestTimeOffsetAndSaltsKeptWithTheKey).
//   - What goes back to the scheduler: when the key is lost or replaced,
//     when the outage budget is spent with no connection open, and when a
//     DC actor restarts, its calls (dcActor.held) are reported as lostMsg,
//     split into calls never written and calls that may have run; the
//     scheduler sends them again with the same bytes, so random_id stays
//     the same and the server deduplicates, or fails them past the outage
//     budget (TestConnectionLossAndActorPanicLoseNothing).
//   - Outages: the DC actor tells the scheduler actor that its DC is down
//     (dcDownMsg, before the lostMsg), connected (dcConnectedMsg) and
//     answering (dcUpMsg, on the first frame of a connection); the policy
//     is scheduler/outage.go: calls wait for the DC without counting
//     attempts, and fail past Config.OutageTimeout
//     (TestOutageLossesDoNotCountAsAttempts,
//     TestUnreachableDCFailsCallsAsNotSent).
//   - Every future resolves: the scheduler actor fails its pending calls
//     when it restarts or stops (TestSchedulerCrashLeavesNoCallerWaiting),
//     all the calls of a message it panicked on
//     (TestPanicMidSubmitFailsWholeMessage); a panicking Config.OnResult is
//     logged and its call still resolves
//     (TestPanickingOnResultStillResolves); a submission racing Close is
//     processed or refused (TestSubmitRacingCloseNeverHangs). Supervision
//     of the scheduler actor (scheduler_supervisor.go): restarted at once
//     on a panic, at most 10 times within 10 s; past that, every call held,
//     handed over or submitted later fails with ErrSchedulerStopped and
//     Close returns (TestSchedulerFailingForGoodFailsEveryCall,
//     TestSchedulerStoppedUnexpectedlyResolvesCalls);
//     under cuts, silence, salt rotation, a clock jump and repeated frames
//     every call is answered exactly once (TestSoak, TestSoakTgtest,
//     TestLostAnswerRecovered, TestResumeAfterSilenceKeepsAsking).
//   - Auth keys: the Store (store.go), loaded by the DC actor before a dial
//     and saved after a key exchange. The -404 policy is authkey.go: a -404
//     on a connection that carried answers gets one reconnect with the same
//     key (TestKeyRejectedOnWorkingConnectionIsRetried); a key rejected on
//     a fresh connection is replaced on the next dial
//     (TestForgottenKeyIsReplaced), unless Config.SessionFile says it
//     belongs to a logged-in account: then it is kept and calls fail with
//     *AuthKeyLostError (TestLoggedInKeyIsNeverReplaced). Records are named
//     by DC id and the server's key fingerprints, names from before by
//     address are migrated on use (storenames.go: TestServerIdentity,
//     TestLegacyStoreNamesMigrate); which Store a Config without one gets is
//     withDefaults' (TestDefaultStore). The default store is bbolt
//     (boltdb.go: one file, many accounts, format version, group commit;
//     boltstore.go: one account's records), with FileStore's JSON files
//     migrated on open (storemigrate.go: TestMigrateJSONSessionOnOpen,
//     TestJSONSessionFileMigratedOnStart); accounts of one file are apart
//     (TestBoltStoreAccountsIsolated).
//   - Sessions: Client.Login (login.go) and the account file beside a
//     session file (account.go); the home DC is homedc.go's
//     (TestLoginBotSessionKeepsKey, TestLoginUserByPhone,
//     TestLoginUserWithPassword).
//   - Defaults: Config.withDefaults (config.go).
//
// # Future errors
//
// Every failed call is one of three kinds, told apart with errors.Is/As:
//   - answered by the server: its typed RPC error (tl.Typed: a
//     *tgerr.Error, *tl.MigrateError, *tl.FloodWaitError);
//   - not run: errors.Is(err, scheduler.ErrNotSent). It never left this
//     process, or the server refused it without running it; it is safe to
//     send again;
//   - may have run: errors.Is(err, scheduler.ErrMayHaveRun). It was written
//     to a connection and no answer came.
//
// The errors of the last two kinds: *scheduler.OutageError (its DC stayed
// unreachable for Config.OutageTimeout; it wraps the last dial or
// transport error, or an *AuthKeyLostError), *scheduler.LostError (lost
// too often outside an outage), *scheduler.CanceledError (cancelled; it
// wraps context.Canceled or context.DeadlineExceeded),
// *scheduler.ChainBrokenError (its predecessor failed; the predecessor's
// error is its Err field, not unwrapped), *tl.FloodWaitError when the wait
// exceeds the call's flood budget, scheduler.ErrQueueFull,
// ErrSchedulerRestarted (may have run), and an error matching
// ErrSchedulerStopped (may have run if the scheduler actor held the call
// when it failed for good, not sent if it was handed over after).
// ErrClosed is returned by Go itself.
//
// A batch (InvokeAll, InvokeAllAs) in which any call failed returns a
// *MultiError, whatever its size (a batch of one included), with each
// call's own error by index; errors.Is and errors.As reach them through it
// (TestBatchErrorSameShapeForAnySize, TestMultiErrorUnwraps).
//
// # Ordering and cancellation
//
//   - A call submitted with After(f) is run by the server only after f's
//     call succeeded, and never if it failed or was cancelled, through
//     lost connections, flood waits, slow predecessors and new sessions: it
//     is wrapped in invokeAfterMsg after the predecessor's current attempt,
//     or held until the predecessor's answer, never sent unwrapped before
//     it (scheduler/chains.go; TestSchedulerProperties, the chain scripts,
//     TestAfterFollowsThePredecessorsOutcome, and tlworker's chain test
//     through the fault proxy).
//   - A call cancelled (Future.Cancel, or the end of the context given to
//     Go) before it was sent is never sent; one cancelled while in flight
//     is never sent again, and its outcome says it may have run
//     (TestCancelledInFlightIsNeverSentAgain). Future.Wait's context bounds
//     that wait only (TestWaitEndsWithoutCancellingAndDeadlinesStay).
package actors
