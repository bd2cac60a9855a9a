package mtproto

import (
	"io"
	"time"

	"github.com/gotd/td/crypto"
	"github.com/gotd/td/tg"

	"github.com/tlsched/tlsched/mtproto/spec"
)

// Protocol limits.
const (
	// MaxContainerMessages is the protocol's cap on messages in one
	// msg_container (MTProto, "Service Messages": containers hold at most
	// 1024). It is spec.MaxContainerMessages.
	MaxContainerMessages = spec.MaxContainerMessages
	// MaxAckIDs is the cap on ids in one msgs_ack, msg_resend_req or
	// msgs_state_req (MTProto, "Service Messages about Messages": 8192). It
	// is spec.MaxAckIDs.
	MaxAckIDs = spec.MaxAckIDs
	// MaxMessageBytes is the largest message body the server accepts
	// (MTProto: 1 MiB; gotd's proto.Message enforces the same bound).
	MaxMessageBytes = 1 << 20
)

// Config configures a Session. The zero value is usable: every field has a
// documented default.
type Config struct {
	// MaxMessages caps the messages in one container, acks and service
	// messages included. Default 1000 (TDLib's figure); values above
	// MaxContainerMessages are clamped to it.
	MaxMessages int
	// MaxBytes caps the encoded size of one frame's plaintext payload (the
	// container and its messages). A call larger than this is sent alone.
	// Default 1 MiB − 1 KiB (Telethon sends up to about 1 MiB per container).
	MaxBytes int

	// AckDelay is how long an acknowledgement of a server message may wait to
	// ride in a container with calls before NextDeadline asks for a Flush.
	// Default 1 s. MTProto asks for acks "in a timely manner"; gotd batches
	// for up to 15 s, TDLib for up to 30 s.
	AckDelay time.Duration
	// AckBatch is the number of pending acks that makes NextDeadline due at
	// once. Default 100 (TDLib's figure).
	AckBatch int

	// PingInterval is how long a connection may go without receiving
	// anything before the session sends ping_delay_disconnect. Default
	// 1 min (TDLib's and gotd's cadence). Negative disables every ping and
	// the silence check below (servers that do not answer pings).
	PingInterval time.Duration
	// PingDisconnectDelay is the disconnect_delay of each ping: the server
	// closes the connection if no further ping arrives within it. Default
	// 75 s (TDLib's and gotd's figure).
	PingDisconnectDelay time.Duration
	// BusyPingAfter is how long the session waits for anything from the
	// server, while an answer is awaited, before it pings sooner than
	// PingInterval. Default 4 s.
	BusyPingAfter time.Duration
	// DeadAfter is how long a connection may stay silent (nothing
	// received) while an answer, a ping's included, is awaited: past it,
	// Flush fails with ErrSilent and the owner reconnects. Default 12 s, so
	// that a silence is noticed within 15 s of its start (the ping after 4 s
	// has 8 s to come back).
	DeadAfter time.Duration
	// StateReqAfter is how long a call may stay unanswered on a live
	// connection before the session asks the server about it with
	// msgs_state_req (and resends it if the server never got it, or asks
	// for the answer again if the server has one). Default 30 s.
	StateReqAfter time.Duration

	// Layer is the API layer sent in invokeWithLayer. Default tg.Layer.
	Layer int
	// Init holds the initConnection parameters sent with the first call of
	// every session.
	Init InitConnection
	// NoInit disables the invokeWithLayer(initConnection(...)) wrapper, for
	// servers that do not expect it.
	NoInit bool

	// Rand is the source of padding, session ids and ping ids. Default
	// crypto.DefaultRand(). Inject a deterministic reader in tests.
	Rand io.Reader
}

// InitConnection holds the initConnection parameters. Empty fields get
// defaults that identify tlsched.
type InitConnection struct {
	APIID          int
	DeviceModel    string
	SystemVersion  string
	AppVersion     string
	SystemLangCode string
	LangPack       string
	LangCode       string
}

func (c Config) withDefaults() Config {
	if c.MaxMessages <= 0 {
		c.MaxMessages = 1000
	}
	if c.MaxMessages > MaxContainerMessages {
		c.MaxMessages = MaxContainerMessages
	}
	if c.MaxBytes <= 0 {
		c.MaxBytes = MaxMessageBytes - 1024
	}
	if c.MaxBytes > MaxMessageBytes {
		c.MaxBytes = MaxMessageBytes
	}
	if c.AckDelay <= 0 {
		c.AckDelay = time.Second
	}
	if c.AckBatch <= 0 {
		c.AckBatch = 100
	}
	if c.AckBatch > MaxAckIDs {
		c.AckBatch = MaxAckIDs
	}
	if c.PingInterval == 0 {
		c.PingInterval = time.Minute
	}
	if c.PingDisconnectDelay <= 0 {
		c.PingDisconnectDelay = 75 * time.Second
	}
	if c.BusyPingAfter <= 0 {
		c.BusyPingAfter = 4 * time.Second
	}
	if c.DeadAfter <= 0 {
		c.DeadAfter = 12 * time.Second
	}
	if c.StateReqAfter <= 0 {
		c.StateReqAfter = 30 * time.Second
	}
	if c.Layer == 0 {
		c.Layer = tg.Layer
	}
	if c.Rand == nil {
		c.Rand = crypto.DefaultRand()
	}
	i := &c.Init
	if i.DeviceModel == "" {
		i.DeviceModel = "tlsched"
	}
	if i.SystemVersion == "" {
		i.SystemVersion = "go"
	}
	if i.AppVersion == "" {
		i.AppVersion = "0.1"
	}
	if i.SystemLangCode == "" {
		i.SystemLangCode = "en"
	}
	if i.LangCode == "" {
		i.LangCode = "en"
	}
	return c
}
