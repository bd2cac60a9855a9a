package mtproto

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/gotd/td/crypto"
	"github.com/gotd/td/exchange"
	"github.com/gotd/td/transport"
)

// DialConfig says how to reach one DC and with which key.
type DialConfig struct {
	// Addr is host:port of the DC.
	Addr string
	// DC is the DC id sent in the key exchange (p_q_inner_data_dc).
	DC int
	// Protocol is the transport codec. Default transport.Intermediate.
	Protocol *transport.Protocol
	// PublicKeys are the server's RSA keys for a key exchange. Required
	// unless AuthKey is set.
	PublicKeys []exchange.PublicKey
	// AuthKey, when non-zero, is a saved key to reuse: no key exchange.
	AuthKey crypto.AuthKey
	// Salt goes with a saved AuthKey; the server corrects a stale one with
	// bad_server_salt.
	Salt int64
	// Dialer opens the TCP connection. Default: a net.Dialer with a 10 s
	// timeout.
	Dialer interface {
		DialContext(ctx context.Context, network, addr string) (net.Conn, error)
	}
	// ExchangeTimeout bounds each step of the key exchange. Default 30 s.
	ExchangeTimeout time.Duration
	// Rand feeds the key exchange. Default crypto.DefaultRand().
	Rand io.Reader
	// Primes, when set, holds the DH primes verified by earlier key
	// exchanges: an exchange whose dh_prime is in it skips the primality
	// check (the cheap checks still run), and a prime that passes the check
	// is added. Share one cache among dials; see PrimeCache for persisting
	// it. Nil: every exchange checks the prime in full (gotd's exchange).
	Primes *PrimeCache
}

// Conn is an MTProto transport connection with the key that goes with it.
type Conn struct {
	transport.Conn
	AuthKey crypto.AuthKey
	Salt    int64
	// Exchanged reports that AuthKey was created by this dial.
	Exchanged bool
}

// Dial opens TCP to cfg.Addr, performs the transport codec handshake and,
// unless cfg.AuthKey is set, the DH key exchange. Cancelling ctx aborts the
// dial and the exchange.
func Dial(ctx context.Context, cfg DialConfig) (*Conn, error) {
	if cfg.AuthKey.Value.Zero() && len(cfg.PublicKeys) == 0 {
		return nil, fmt.Errorf("dial dc %d: no auth key and no server public key for a key exchange", cfg.DC)
	}
	proto := transport.Intermediate
	if cfg.Protocol != nil {
		proto = *cfg.Protocol
	}
	if cfg.Dialer == nil {
		cfg.Dialer = &net.Dialer{Timeout: 10 * time.Second}
	}
	if cfg.ExchangeTimeout <= 0 {
		cfg.ExchangeTimeout = 30 * time.Second
	}
	if cfg.Rand == nil {
		cfg.Rand = crypto.DefaultRand()
	}

	raw, err := cfg.Dialer.DialContext(ctx, "tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("dial dc %d at %s: %w", cfg.DC, cfg.Addr, err)
	}
	conn, err := proto.Handshake(raw)
	if err != nil {
		_ = raw.Close()
		return nil, fmt.Errorf("dial dc %d at %s: transport handshake: %w", cfg.DC, cfg.Addr, err)
	}
	out := &Conn{Conn: conn, AuthKey: cfg.AuthKey, Salt: cfg.Salt}
	if !cfg.AuthKey.Value.Zero() {
		return out, nil
	}

	// The exchange only honours deadlines; closing the socket is what
	// interrupts it on cancellation.
	stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
	key, salt, err := exchangeKey(ctx, conn, cfg)
	if !stop() || err != nil {
		_ = conn.Close()
		if err == nil || ctx.Err() != nil {
			err = errors.Join(ctx.Err(), err)
		}
		return nil, fmt.Errorf("dial dc %d at %s: key exchange: %w", cfg.DC, cfg.Addr, err)
	}
	out.AuthKey = key
	out.Salt = salt
	out.Exchanged = true
	return out, nil
}

// exchangeKey runs the key exchange: ours when cfg.Primes is set (it can
// skip the primality check), gotd's otherwise.
func exchangeKey(ctx context.Context, conn transport.Conn, cfg DialConfig) (crypto.AuthKey, int64, error) {
	if cfg.Primes != nil {
		x := &keyExchange{conn: conn, rand: cfg.Rand, timeout: cfg.ExchangeTimeout, dc: cfg.DC, keys: cfg.PublicKeys, primes: cfg.Primes}
		return x.run(ctx)
	}
	res, err := exchange.NewExchanger(conn, cfg.DC).
		WithRand(cfg.Rand).
		WithTimeout(cfg.ExchangeTimeout).
		Client(cfg.PublicKeys).
		Run(ctx)
	return res.AuthKey, res.ServerSalt, err
}
