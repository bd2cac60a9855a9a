package tgsim

import (
	"crypto/rsa"
	"io"
	"time"
)

// Config configures a Server. The zero value is useful: DCs 1, 2 and 3, a
// fresh 2048-bit RSA key, a few milliseconds of latency per call, Telegram's
// bot limits, salts rotating every 30 minutes.
type Config struct {
	// DCs lists the DC ids to serve, each on its own 127.0.0.1 listener.
	// Default 1, 2, 3.
	DCs []int
	// BasePort, if set, makes DC id listen on 127.0.0.1:BasePort+id (a
	// fixed address for a README to name); 0 takes free ports.
	BasePort int
	// Key is the server's RSA key. Default: a fresh 2048-bit key.
	Key *rsa.PrivateKey
	// Now is the server's clock (msg_id windows, salts, the flood model).
	// Default time.Now. Timers (latency, MSG_WAIT_TIMEOUT, ping disconnects)
	// use real time.
	Now func() time.Time
	// Rand feeds key exchanges, salts and padding. Default crypto/rand.
	Rand io.Reader

	// Latency is the time a call takes before its result is ready. Default
	// 2 ms plus up to 3 ms of jitter. Use NoLatency to answer at once.
	Latency Latency
	// MethodLatency overrides Latency per method name ("messages.sendMessage").
	MethodLatency map[string]Latency
	// GzipThreshold is the size above which a result is sent gzip-packed.
	// Default 512 bytes; negative disables.
	GzipThreshold int
	// AckDelay is how long the server holds acknowledgements of content
	// messages that have no result yet before sending them alone. Default 50 ms.
	AckDelay time.Duration
	// SaltPeriod is how long one server salt is current; the previous one is
	// still accepted for another period. Default 30 minutes.
	SaltPeriod time.Duration
	// WaitTimeout is how long invokeAfterMsg waits, from the dependent's
	// arrival, for the result of the calls it awaits (running or not yet
	// arrived) before answering MSG_WAIT_TIMEOUT. Default 500 ms.
	WaitTimeout time.Duration
	// MaxFrame is the largest frame accepted; a bigger one closes the
	// connection. Default 1 MiB + 1 KiB.
	MaxFrame int

	// World sizes the simulated world.
	World WorldConfig
	// Flood is the flood model.
	Flood FloodConfig
	// RequireLogin makes a new auth key unauthorized until it logs in
	// (auth.importBotAuthorization, auth.signIn or auth.importAuthorization);
	// methods that need an account then answer 401 AUTH_KEY_UNREGISTERED. By
	// default a new key acts as the first bot (Server.Bot), so clients need
	// no login.
	RequireLogin bool
	// Faults injects failures; change them at run time with SetFaults.
	Faults Faults
	// ConnRate limits connections per auth key (transport error -429).
	// Default: no limit.
	ConnRate ConnRate
	// AddrConnRate limits new connections per client IP address, as
	// Telegram does ("Transport errors": -429 when too many connections
	// are established to the same IP in too short a time): the first frame
	// (key exchange or encrypted) of a connection beyond the budget is
	// answered with transport error -429 and the connection is closed. The
	// budget is a token bucket (burst N, refilled at N per Per). Every
	// tgsim client comes from 127.0.0.1, so it is the budget of the whole
	// process that dials. Telegram publishes no figure; set it to test that
	// a fleet paces its connections. Default: no limit.
	AddrConnRate Rate

	// Logf, if set, receives one line per notable event: listeners, login
	// codes, failing connections. It may be called with the world locked
	// (login codes, requests that do not decode), so it must not call back
	// into the Server.
	Logf func(format string, args ...any)
}

// Latency is how long a call takes: Base plus a uniform random part in
// [0, Jitter).
type Latency struct {
	Base   time.Duration
	Jitter time.Duration
}

// NoLatency answers calls as soon as they are read.
var NoLatency = Latency{Base: -1}

// WorldConfig sizes the world. Zero values take the defaults.
type WorldConfig struct {
	// Users is the number of ordinary users (@user1 … @userN, phones
	// +99966…). Default 1000.
	Users int
	// Groups is the number of basic groups. Default 20.
	Groups int
	// Megagroups is the number of supergroups. Default 20.
	Megagroups int
	// Channels is the number of broadcast channels. Default 5.
	Channels int
	// BotDC is the first bot's home DC. Default: the second DC served (2
	// by default), so a client that starts on DC 1 meets USER_MIGRATE.
	BotDC int
	// Bots is the number of bot accounts (Server.Bots), for fleets: ids
	// 7000000001 on, a token each, the i-th (from 0) at home on the i-th DC
	// of DCs after BotDC (in turn), each with its own flood budgets.
	// Default 1: the bot of Server.Bot and Server.BotToken.
	Bots int
}

// Faults are failures injected on purpose. The zero value injects none.
type Faults struct {
	// DropAfterFrames closes each connection after it has received this many
	// frames (0: never).
	DropAfterFrames int
	// DropProbability closes a connection after a received frame with this
	// probability.
	DropProbability float64
	// ReplyDelay holds every outgoing frame for this long.
	ReplyDelay time.Duration
	// Reorder shuffles the messages of each outgoing flush.
	Reorder bool
	// ClockSkew shifts the server's clock: msg_id checks, server msg_ids and
	// salts all see Now()+ClockSkew. A change at run time is a clock jump:
	// the next frame is checked against the new time.
	ClockSkew time.Duration

	// Blackhole makes every connection silent while it is set, existing and
	// new ones alike: the socket stays open, frames read are discarded
	// unprocessed (key exchange included), and nothing is written. What
	// sessions queued meanwhile goes out once it is cleared, on connections
	// still open.
	Blackhole bool
	// DropResults is the probability that a call's rpc_result is lost: the
	// call ran (a sent message is stored) but its answer is never sent. The
	// call's msgs_state_info byte says it was answered.
	DropResults float64
	// DuplicateFrames is the probability that an encrypted frame is written
	// twice, byte for byte.
	DuplicateFrames float64
	// ReplayFrames is the probability that, after a frame, one of the last
	// frames already sent on the connection is written again, byte for
	// byte (a replay the client must ignore).
	ReplayFrames float64
	// DetailedInfo is the probability that a finished call's answer is not
	// sent but announced with msg_detailed_info{msg_id, answer_msg_id,
	// bytes, status}, as Telegram does for answers it already generated; the
	// client fetches it with msg_resend_req{answer_msg_id}.
	DetailedInfo float64
	// StateReqs is the probability that a flush which leaves content
	// messages unacknowledged also asks the client about them with
	// msgs_state_req (faults_state.go); the client answers msgs_state_info.
	StateReqs float64
	// PongInResult answers ping and ping_delay_disconnect with pong wrapped
	// in rpc_result (req_msg_id = the ping's msg_id) instead of a bare pong;
	// Telegram does both depending on the path.
	PongInResult bool
	// NotFoundKeys lists auth key ids (crypto.AuthKey.ID) the server acts
	// as if it had forgotten: their frames get transport error -404 and the
	// connection stays open. The key is back once it leaves the list.
	NotFoundKeys [][8]byte
	// DropUpdates is the probability that an update is not pushed to the
	// account's connected sessions (updates.go): its pts is spent all the
	// same, so a client that tracks pts sees a gap with the next update
	// and recovers the message with updates.getDifference.
	DropUpdates float64
}

// ConnRate limits how fast one auth key may open connections on a DC, as
// Telegram limits connection floods: the first encrypted frame of a
// connection beyond N within Window is answered with transport error -429
// and the connection is closed. Telegram counts per client address; every
// tgsim client comes from 127.0.0.1, so tgsim counts per auth key (on the
// key's DC). The zero value sets no limit.
type ConnRate struct {
	N      int
	Window time.Duration
}

func (c Config) withDefaults() Config {
	if len(c.DCs) == 0 {
		c.DCs = []int{1, 2, 3}
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Latency == (Latency{}) {
		c.Latency = Latency{Base: 2 * time.Millisecond, Jitter: 3 * time.Millisecond}
	}
	if c.GzipThreshold == 0 {
		c.GzipThreshold = 512
	}
	if c.AckDelay <= 0 {
		c.AckDelay = 50 * time.Millisecond
	}
	if c.SaltPeriod <= 0 {
		c.SaltPeriod = 30 * time.Minute
	}
	if c.WaitTimeout <= 0 {
		c.WaitTimeout = 500 * time.Millisecond
	}
	if c.MaxFrame <= 0 {
		c.MaxFrame = 1<<20 + 1<<10
	}
	if c.World.Users <= 0 {
		c.World.Users = 1000
	}
	if c.World.Groups <= 0 {
		c.World.Groups = 20
	}
	if c.World.Megagroups <= 0 {
		c.World.Megagroups = 20
	}
	if c.World.Channels <= 0 {
		c.World.Channels = 5
	}
	if c.World.Bots <= 0 {
		c.World.Bots = 1
	}
	if c.World.BotDC == 0 {
		c.World.BotDC = c.DCs[0]
		if len(c.DCs) > 1 {
			c.World.BotDC = c.DCs[1]
		}
	}
	c.Flood = c.Flood.withDefaults()
	return c
}
