package tgsim

import (
	"maps"
	"sync"
	"sync/atomic"
)

// Counters is a snapshot of what the server saw and did, across all DCs.
type Counters struct {
	Connections  int64 // connections accepted
	KeyExchanges int64 // auth keys created by key exchanges
	PreparedKeys int64 // auth keys created by PrepareKey
	Drops        int64 // connections closed by injected faults
	NewSessions  int64 // new_session_created sent

	FramesIn      int64 // encrypted frames received
	ContainersIn  int64 // msg_container received
	MessagesIn    int64 // messages received (container contents counted one by one)
	FramesOut     int64 // encrypted frames sent
	ContainersOut int64 // msg_container sent
	MessagesOut   int64 // messages sent
	GzippedOut    int64 // results sent gzip-packed
	AcksOut       int64 // message ids acknowledged with msgs_ack
	AcksIn        int64 // message ids the clients acknowledged
	Resent        int64 // messages resent on msg_resend_req
	Pings         int64 // ping and ping_delay_disconnect answered

	Calls           map[string]int64 // RPC calls by method name, counted when they run
	FloodWaits      map[string]int64 // FLOOD_WAIT answers by method
	FloodSeconds    int64            // sum of X over FLOOD_WAIT_X answers
	IgnoredWaits    int64            // calls made inside a wait already announced (penalised)
	Duplicates      int64            // message sends suppressed by random_id
	OrderingWaits   int64            // calls that waited for invokeAfterMsg(s)
	Migrations      int64            // 303 *_MIGRATE answers
	Errors          map[string]int64 // errors by type: "bad_msg_16", "bad_server_salt", "FLOOD_WAIT", "PEER_ID_INVALID", "decrypt", …
	MessagesStored  int64            // messages in the world's histories
	UnknownAuthKeys int64            // frames with an unknown auth key (answered -404)
	DuplicatedKeys  int64            // auth keys revoked for use from two IPs at once (406 AUTH_KEY_DUPLICATED)

	BlackholedFrames int64 // frames discarded unread under Faults.Blackhole
	DroppedResults   int64 // answers generated but not sent (Faults.DropResults, forgotten sessions)
	DuplicatedFrames int64 // frames written twice (Faults.DuplicateFrames)
	ReplayedFrames   int64 // older frames written again (Faults.ReplayFrames)
	DetailedInfos    int64 // answers announced with msg_detailed_info (Faults.DetailedInfo)
	StateReqsOut     int64 // msgs_state_req the server sent (Faults.StateReqs)
	StateInfosIn     int64 // msgs_state_info answers the clients sent to them
	RandomIDBusy     int64 // sends refused with RANDOM_ID_DUPLICATE (first copy still running)
	PaidSends        int64 // sends with allow_paid_floodskip (FloodConfig.Paid)
	PeerFloods       int64 // PEER_FLOOD answers (FloodConfig.NewPrivateChats)
	UpdatesPushed    int64 // updates queued to connected sessions (SendAs)
	UpdatesDropped   int64 // updates not pushed (Faults.DropUpdates); getDifference still has them
}

// counters is the live form of Counters.
type counters struct {
	connections, keyExchanges, drops, newSessions         atomic.Int64
	framesIn, containersIn, messagesIn                    atomic.Int64
	framesOut, containersOut, messagesOut, gzippedOut     atomic.Int64
	acksOut, acksIn, resent, pings                        atomic.Int64
	floodSeconds, ignoredWaits, duplicates, orderingWaits atomic.Int64
	migrations, messagesStored, unknownKeys               atomic.Int64
	blackholed, droppedResults, duplicatedFrames          atomic.Int64
	replayedFrames, detailedInfos, randomIDBusy           atomic.Int64
	stateReqsOut, stateInfosIn                            atomic.Int64
	paidSends, peerFloods, preparedKeys                   atomic.Int64
	updatesPushed, updatesDropped, duplicatedKeys         atomic.Int64

	mu         sync.Mutex
	calls      map[string]int64
	floodWaits map[string]int64
	errors     map[string]int64
	accounts   map[int64]*AccountCounters // made on an account's first event
}

// AccountCounters is what the server saw of one account (Server.AccountCounters).
type AccountCounters struct {
	Calls          map[string]int64 // calls made under keys logged in as the account, by method, counted when they run
	FloodWaits     map[string]int64 // FLOOD_WAIT answers to the account, by method
	FloodSeconds   int64            // sum of X over those FLOOD_WAIT_X
	MessagesStored int64            // messages its sends stored (repeats suppressed by random_id not counted)
	Logins         int64            // keys logged in as the account (auth.importBotAuthorization, auth.signIn, auth.importAuthorization)
}

func newCounters() *counters {
	return &counters{calls: map[string]int64{}, floodWaits: map[string]int64{}, errors: map[string]int64{}, accounts: map[int64]*AccountCounters{}}
}

// account returns the live counters of account id. c.mu is held.
func (c *counters) account(id int64) *AccountCounters {
	a := c.accounts[id]
	if a == nil {
		a = &AccountCounters{Calls: map[string]int64{}, FloodWaits: map[string]int64{}}
		c.accounts[id] = a
	}
	return a
}

// call counts a call of method made by account (0: a key not logged in).
func (c *counters) call(account int64, method string) {
	c.mu.Lock()
	c.calls[method]++
	if account != 0 {
		c.account(account).Calls[method]++
	}
	c.mu.Unlock()
}

// stored counts a message account's send stored.
func (c *counters) stored(account int64) {
	c.mu.Lock()
	c.account(account).MessagesStored++
	c.mu.Unlock()
}

// login counts a key logged in as account.
func (c *counters) login(account int64) {
	c.mu.Lock()
	c.account(account).Logins++
	c.mu.Unlock()
}

func (c *counters) accountSnapshot(id int64) AccountCounters {
	c.mu.Lock()
	defer c.mu.Unlock()
	a := c.accounts[id]
	if a == nil {
		return AccountCounters{Calls: map[string]int64{}, FloodWaits: map[string]int64{}}
	}
	out := *a
	out.Calls, out.FloodWaits = maps.Clone(a.Calls), maps.Clone(a.FloodWaits)
	return out
}

func (c *counters) err(typ string) {
	c.mu.Lock()
	c.errors[typ]++
	c.mu.Unlock()
}

// flood counts a FLOOD_WAIT_seconds answered to account (0: none logged
// in) for method.
func (c *counters) flood(account int64, method string, seconds int) {
	c.floodSeconds.Add(int64(seconds))
	c.mu.Lock()
	c.floodWaits[method]++
	c.errors["FLOOD_WAIT"]++
	if account != 0 {
		a := c.account(account)
		a.FloodWaits[method]++
		a.FloodSeconds += int64(seconds)
	}
	c.mu.Unlock()
}

func (c *counters) snapshot() Counters {
	c.mu.Lock()
	defer c.mu.Unlock()
	return Counters{
		Connections: c.connections.Load(), KeyExchanges: c.keyExchanges.Load(), PreparedKeys: c.preparedKeys.Load(),
		Drops: c.drops.Load(), NewSessions: c.newSessions.Load(),
		FramesIn: c.framesIn.Load(), ContainersIn: c.containersIn.Load(), MessagesIn: c.messagesIn.Load(),
		FramesOut: c.framesOut.Load(), ContainersOut: c.containersOut.Load(), MessagesOut: c.messagesOut.Load(),
		GzippedOut: c.gzippedOut.Load(), AcksOut: c.acksOut.Load(), AcksIn: c.acksIn.Load(),
		Resent: c.resent.Load(), Pings: c.pings.Load(),
		Calls: maps.Clone(c.calls), FloodWaits: maps.Clone(c.floodWaits),
		FloodSeconds: c.floodSeconds.Load(), IgnoredWaits: c.ignoredWaits.Load(),
		Duplicates: c.duplicates.Load(), OrderingWaits: c.orderingWaits.Load(),
		Migrations: c.migrations.Load(), Errors: maps.Clone(c.errors),
		MessagesStored: c.messagesStored.Load(), UnknownAuthKeys: c.unknownKeys.Load(),
		BlackholedFrames: c.blackholed.Load(), DroppedResults: c.droppedResults.Load(),
		DuplicatedFrames: c.duplicatedFrames.Load(), ReplayedFrames: c.replayedFrames.Load(),
		DetailedInfos: c.detailedInfos.Load(), StateReqsOut: c.stateReqsOut.Load(), StateInfosIn: c.stateInfosIn.Load(), RandomIDBusy: c.randomIDBusy.Load(),
		PaidSends: c.paidSends.Load(), PeerFloods: c.peerFloods.Load(),
		UpdatesPushed: c.updatesPushed.Load(), UpdatesDropped: c.updatesDropped.Load(),
		DuplicatedKeys: c.duplicatedKeys.Load(),
	}
}
