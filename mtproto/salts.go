package mtproto

import (
	"time"

	"github.com/gotd/td/mt"
)

// Server salts. MTProto, "Service Messages": the server changes the salt it
// wants about every hour and tells, through get_future_salts, which salts
// will be valid when; a client that knows them switches on time and never
// pays a bad_server_salt round trip. The session switches by itself
// (currentSalt, pack.go); RefreshSalts asks for more before they run out,
// and FutureSalts/SetFutureSalts carry them across restarts with the key.

// ServerSalt is one salt and the server-time window in which it is valid.
type ServerSalt struct {
	Salt                   int64
	ValidSince, ValidUntil time.Time
}

// Salt refresh policy: ask when no known salt stays valid for another
// saltsAhead, at most once per saltsRetry, for saltsAsk salts.
const (
	saltsAhead = 30 * time.Minute
	saltsRetry = 5 * time.Minute
	saltsAsk   = 32
)

// RefreshSalts queues get_future_salts if no known salt stays valid for
// another 30 minutes of server time and the session did not ask within the
// last 5 minutes. It reports whether it queued the request. Owners call it
// with Flush (the DC actor does so when a connection opens and at every
// timer); a server that ignores the request costs one ask per 5 minutes.
func (s *Session) RefreshSalts(now time.Time) bool {
	if !s.saltsAskedAt.IsZero() && now.Sub(s.saltsAskedAt) < saltsRetry {
		return false
	}
	server := now.Add(s.timeOffset)
	if n := len(s.future); n > 0 && time.Unix(int64(s.future[n-1].ValidUntil), 0).After(server.Add(saltsAhead)) {
		return false
	}
	s.saltsAskedAt = now
	s.RequestFutureSalts(saltsAsk)
	return true
}

// FutureSalts returns the salts learned from future_salts that are still
// valid or to come, for persistence with the key.
func (s *Session) FutureSalts() []ServerSalt {
	out := make([]ServerSalt, len(s.future))
	for i, f := range s.future {
		out[i] = ServerSalt{Salt: f.Salt, ValidSince: time.Unix(int64(f.ValidSince), 0), ValidUntil: time.Unix(int64(f.ValidUntil), 0)}
	}
	return out
}

// SetFutureSalts restores salts saved with FutureSalts; the session uses
// each while it is valid by the server's clock (see SetTimeOffset).
func (s *Session) SetFutureSalts(salts []ServerSalt) {
	s.future = s.future[:0]
	for _, f := range salts {
		s.future = append(s.future, mt.FutureSalt{Salt: f.Salt, ValidSince: int(f.ValidSince.Unix()), ValidUntil: int(f.ValidUntil.Unix())})
	}
}
