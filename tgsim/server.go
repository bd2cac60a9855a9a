package tgsim

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gotd/td/crypto"
	"github.com/gotd/td/exchange"
)

// Server is a running simulator: one listener per DC, a shared world.
type Server struct {
	cfg     Config
	key     exchange.PrivateKey
	cipher  crypto.Cipher
	secret  [32]byte // derives salts and access hashes
	dcs     []*dcServer
	world   *world
	flood   *floodModel
	count   *counters
	addrs   *addrLimiter // Config.AddrConnRate
	faults  atomic.Pointer[Faults]
	pushMu  sync.Mutex   // orders pushed updates (updates.go)
	saltGen atomic.Int64 // bumped by RotateSalts
	// deactivated maps deactivated accounts to the error their calls get
	// (Deactivate).
	deactivated sync.Map

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu    sync.Mutex
	conns map[*conn]struct{}
}

// DC is one simulated DC.
type DC struct {
	ID   int
	Addr string // 127.0.0.1:port
}

// dcServer is one DC: its listener and the auth keys created on it.
type dcServer struct {
	id  int
	srv *Server
	ln  net.Listener

	mu   sync.RWMutex
	keys map[[8]byte]*authKey
}

// Start listens on 127.0.0.1 for every DC of cfg and serves until Close.
func Start(cfg Config) (*Server, error) {
	cfg = cfg.withDefaults()
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	if cfg.Key == nil {
		k, err := rsa.GenerateKey(cfg.Rand, 2048)
		if err != nil {
			return nil, fmt.Errorf("tgsim: generate RSA key: %w", err)
		}
		cfg.Key = k
	}
	seen := map[int]bool{}
	for _, id := range cfg.DCs {
		if id <= 0 || seen[id] {
			return nil, fmt.Errorf("tgsim: DC ids must be positive and distinct, got %v", cfg.DCs)
		}
		seen[id] = true
	}
	if !seen[cfg.World.BotDC] {
		return nil, fmt.Errorf("tgsim: bot home DC %d is not one of the DCs %v", cfg.World.BotDC, cfg.DCs)
	}
	s := &Server{
		cfg:    cfg,
		key:    exchange.PrivateKey{RSA: cfg.Key},
		cipher: crypto.NewServerCipher(cfg.Rand),
		flood:  newFloodModel(cfg.Flood),
		count:  newCounters(),
		addrs:  &addrLimiter{rate: cfg.AddrConnRate},
		conns:  map[*conn]struct{}{},
	}
	if _, err := cfg.Rand.Read(s.secret[:]); err != nil {
		return nil, fmt.Errorf("tgsim: random: %w", err)
	}
	f := cfg.Faults
	f.NotFoundKeys = slices.Clone(f.NotFoundKeys)
	s.faults.Store(&f)
	s.world = newWorld(s)
	s.ctx, s.cancel = context.WithCancel(context.Background())
	for _, id := range cfg.DCs {
		addr := "127.0.0.1:0"
		if cfg.BasePort > 0 {
			addr = fmt.Sprintf("127.0.0.1:%d", cfg.BasePort+id)
		}
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("tgsim: listen for DC %d: %w", id, err)
		}
		d := &dcServer{id: id, srv: s, ln: ln, keys: map[[8]byte]*authKey{}}
		s.dcs = append(s.dcs, d)
		s.logf("tgsim: DC %d listening on %s", id, ln.Addr())
	}
	for _, d := range s.dcs {
		s.wg.Add(1)
		go d.accept()
	}
	return s, nil
}

// Close stops the listeners, closes every connection and waits for the
// server's goroutines. Safe to call more than once.
func (s *Server) Close() error {
	s.cancel()
	for _, d := range s.dcs {
		_ = d.ln.Close()
	}
	s.mu.Lock()
	for c := range s.conns {
		c.close()
	}
	s.mu.Unlock()
	s.wg.Wait()
	return nil
}

// DCs lists the DCs and their addresses, in the order of Config.DCs.
func (s *Server) DCs() []DC {
	out := make([]DC, len(s.dcs))
	for i, d := range s.dcs {
		out[i] = DC{ID: d.id, Addr: d.ln.Addr().String()}
	}
	return out
}

// DCAddrs returns the address of every DC by id: what a client's DC map
// (actors.Config.DCs) takes.
func (s *Server) DCAddrs() map[int]string {
	out := make(map[int]string, len(s.dcs))
	for _, d := range s.dcs {
		out[d.id] = d.ln.Addr().String()
	}
	return out
}

// Addr returns the address of DC id, or "" if it is not served.
func (s *Server) Addr(id int) string {
	if d := s.dc(id); d != nil {
		return d.ln.Addr().String()
	}
	return ""
}

// PublicKey is the server's RSA public key, for clients' key exchanges.
func (s *Server) PublicKey() exchange.PublicKey { return s.key.Public() }

// PublicKeyPEM is the server's RSA public key as a PKCS#1 PEM block, the form
// Telegram publishes its keys in.
func (s *Server) PublicKeyPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(&s.cfg.Key.PublicKey)})
}

// Counters returns a snapshot of the server's counters.
func (s *Server) Counters() Counters { return s.count.snapshot() }

// AccountCounters returns a snapshot of one account's counters (zero, with
// empty maps, for an account the server has seen nothing of). The maps are
// the caller's.
func (s *Server) AccountCounters(id int64) AccountCounters { return s.count.accountSnapshot(id) }

// SetFaults replaces the injected faults; connections see the change at
// their next frame, and their writers are woken (so what a Blackhole held
// goes out once it clears).
func (s *Server) SetFaults(f Faults) {
	f.NotFoundKeys = slices.Clone(f.NotFoundKeys)
	s.faults.Store(&f)
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		c.wake()
	}
}

// RotateSalts makes every salt handed out so far stale at once: the next
// frame of every session gets bad_server_salt with a new salt.
func (s *Server) RotateSalts() { s.saltGen.Add(1) }

// DropConnections closes every open connection, as a network failure would.
// Auth keys and sessions survive.
func (s *Server) DropConnections() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		c.close()
	}
}

// now is the server's clock with the injected skew.
func (s *Server) now() time.Time { return s.cfg.Now().Add(s.faults.Load().ClockSkew) }

func (s *Server) logf(format string, args ...any) {
	if s.cfg.Logf != nil {
		s.cfg.Logf(format, args...)
	}
}

func (s *Server) dc(id int) *dcServer {
	for _, d := range s.dcs {
		if d.id == id {
			return d
		}
	}
	return nil
}

func (d *dcServer) accept() {
	defer d.srv.wg.Done()
	for {
		raw, err := d.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) || d.srv.ctx.Err() != nil {
				return
			}
			// A failed accept (out of descriptors, say) must not stop the DC.
			d.srv.logf("tgsim: DC %d accept: %v", d.id, err)
			select {
			case <-time.After(10 * time.Millisecond):
			case <-d.srv.ctx.Done():
				return
			}
			continue
		}
		d.srv.count.connections.Add(1)
		c := newConn(d, raw)
		if !d.srv.track(c) {
			_ = raw.Close()
			return
		}
		d.srv.wg.Add(1)
		go c.serve()
	}
}

func (s *Server) track(c *conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ctx.Err() != nil {
		return false
	}
	s.conns[c] = struct{}{}
	return true
}

func (s *Server) untrack(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

func (d *dcServer) lookup(id [8]byte) *authKey {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.keys[id]
}

func (d *dcServer) addKey(k crypto.AuthKey, salt int64) *authKey {
	s := d.srv
	ak := &authKey{
		key:          k,
		dc:           d,
		sessions:     map[int64]*session{},
		initialSalt:  salt,
		initialUntil: s.now().Add(s.cfg.SaltPeriod),
		saltGen:      s.saltGen.Load(),
	}
	if !s.cfg.RequireLogin {
		ak.user = s.world.bot.id
	}
	d.mu.Lock()
	d.keys[k.ID] = ak
	d.mu.Unlock()
	return ak
}

// PrepareKey creates an auth key on DC dc as a key exchange would, without
// one, and returns it with a server salt valid for it: tests and benchmarks
// of fleets give it to clients as a saved key (mtproto.DialConfig.AuthKey
// and Salt), sparing each of thousands of accounts the exchange's CPU cost.
// The key is unauthorized under Config.RequireLogin, else it acts as Bot.
func (s *Server) PrepareKey(dc int) (crypto.AuthKey, int64, error) {
	d := s.dc(dc)
	if d == nil {
		return crypto.AuthKey{}, 0, fmt.Errorf("tgsim: PrepareKey: DC %d is not served", dc)
	}
	var raw crypto.Key
	var sb [8]byte
	if _, err := io.ReadFull(s.cfg.Rand, raw[:]); err != nil {
		return crypto.AuthKey{}, 0, fmt.Errorf("tgsim: PrepareKey: %w", err)
	}
	if _, err := io.ReadFull(s.cfg.Rand, sb[:]); err != nil {
		return crypto.AuthKey{}, 0, fmt.Errorf("tgsim: PrepareKey: %w", err)
	}
	k := raw.WithID()
	salt := int64(binary.LittleEndian.Uint64(sb[:]))
	d.addKey(k, salt)
	s.count.preparedKeys.Add(1)
	return k, salt, nil
}

// PrepareKeyAs is PrepareKey for a key logged in as account id (a bot of
// WorldConfig.Bots or a user), whatever Config.RequireLogin, as after a
// login: a benchmark gives each account of a fleet a key of its own, so
// each spends its own flood budgets. The login is not counted in
// AccountCounters.Logins. An id the world does not have is an error.
func (s *Server) PrepareKeyAs(dc int, id int64) (crypto.AuthKey, int64, error) {
	s.world.mu.Lock()
	known := s.world.users[id] != nil
	s.world.mu.Unlock()
	if !known {
		return crypto.AuthKey{}, 0, fmt.Errorf("tgsim: PrepareKeyAs: no account %d", id)
	}
	k, salt, err := s.PrepareKey(dc)
	if err != nil {
		return crypto.AuthKey{}, 0, err
	}
	s.dc(dc).lookup(k.ID).setAccount(id)
	return k, salt, nil
}

func itoa(i int) string { return strconv.Itoa(i) }
