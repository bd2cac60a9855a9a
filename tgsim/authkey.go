package tgsim

import (
	"crypto/sha256"
	"encoding/binary"
	"sync"
	"time"

	"github.com/gotd/td/crypto"
	"github.com/gotd/td/mt"
)

// authKey is one auth key created on one DC, and what hangs off it: the
// account it is logged in as, whether initConnection was seen, its sessions.
type authKey struct {
	key crypto.AuthKey
	dc  *dcServer

	// The salt of the key exchange is valid until initialUntil unless salts
	// were rotated since (saltGen).
	initialSalt  int64
	initialUntil time.Time
	saltGen      int64

	mu       sync.Mutex
	user     int64 // logged-in account, 0 for none
	inited   bool  // initConnection seen
	sessions map[int64]*session
	// connTimes are when the key's recent connections opened (ConnRate).
	connTimes []time.Time
	// users are the open connections that have sent a frame under the
	// key, by source IP (dupcheck.go).
	users      map[*conn]string
	duplicated bool // used at once from two IPs: every call gets 406
}

func (k *authKey) account() int64 {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.user
}

func (k *authKey) setAccount(id int64) {
	k.mu.Lock()
	k.user = id
	k.mu.Unlock()
}

// Salts: MTProto lets the server pick salts per auth key and change them
// over time; a client learns them from new_session_created,
// bad_server_salt or get_future_salts. tgsim derives the salt of each
// period from a secret, so nothing is stored per key.

func (s *Server) period(now time.Time) int64 {
	return now.UnixNano() / int64(s.cfg.SaltPeriod)
}

func (s *Server) saltFor(k *authKey, gen, period int64) int64 {
	var b [8 + 8 + 8]byte
	copy(b[:8], k.key.ID[:])
	binary.LittleEndian.PutUint64(b[8:], uint64(gen))
	binary.LittleEndian.PutUint64(b[16:], uint64(period))
	h := sha256.New()
	h.Write(s.secret[:])
	h.Write(b[:])
	return int64(binary.LittleEndian.Uint64(h.Sum(nil)))
}

// currentSalt is the salt the server hands out now.
func (s *Server) currentSalt(k *authKey, now time.Time) int64 {
	return s.saltFor(k, s.saltGen.Load(), s.period(now))
}

// saltValid: the current and the previous period's salts are accepted, and
// the key exchange's salt during the first period (MTProto: a salt stays
// valid for a while after the next one is announced).
func (s *Server) saltValid(k *authKey, salt int64, now time.Time) bool {
	gen, p := s.saltGen.Load(), s.period(now)
	if salt == s.saltFor(k, gen, p) || salt == s.saltFor(k, gen, p-1) {
		return true
	}
	return gen == k.saltGen && salt == k.initialSalt && now.Before(k.initialUntil)
}

// maxFutureSalts caps the salts of one future_salts answer (MTProto
// "Service Messages": get_future_salts returns at most 64).
const maxFutureSalts = 64

// futureSalts answers get_future_salts with n salts from the current one on.
func (s *Server) futureSalts(k *authKey, now time.Time, reqMsgID int64, n int) *mt.FutureSalts {
	n = min(max(n, 1), maxFutureSalts)
	gen, p := s.saltGen.Load(), s.period(now)
	out := &mt.FutureSalts{ReqMsgID: reqMsgID, Now: int(now.Unix())}
	per := int64(s.cfg.SaltPeriod)
	for i := int64(0); i < int64(n); i++ {
		since := time.Unix(0, (p+i)*per)
		out.Salts = append(out.Salts, mt.FutureSalt{
			ValidSince: int(since.Unix()),
			ValidUntil: int(since.Add(2 * s.cfg.SaltPeriod).Unix()),
			Salt:       s.saltFor(k, gen, p+i),
		})
	}
	return out
}
