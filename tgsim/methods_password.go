package tgsim

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math/big"

	"github.com/gotd/td/bin"
	"github.com/gotd/td/crypto/srp"
	"github.com/gotd/td/tg"
	"github.com/gotd/td/tgerr"
)

// Two-step verification. A user with a password (Server.SetPassword) who
// signs in with the right code gets 401 SESSION_PASSWORD_NEEDED, and the
// auth key waits for the password: account.getPassword hands out the SRP
// parameters and the server's B, auth.checkPassword checks the client's A
// and M1 and logs the key in. The client side is gotd's (telegram/auth);
// gotd has no server side, so it is here, after the formulas of
// core.telegram.org/api/srp (the verifier v comes from gotd's srp.NewHash,
// as a client setting a password makes it).

var passwordMethods = []method{
	handle(anyone, noFlood, (*world).getPassword),
	handle(anyone, noFlood, (*world).checkPassword),
}

// srpG and srpP are the SRP group: Telegram's 2048-bit safe prime with
// generator 3 (what help.getConfig-era clients are given).
var (
	srpG = 3
	srpP = func() *big.Int {
		p, _ := new(big.Int).SetString("C71CAEB9C6B1C9048E6C522F70F13F73980D40238E3E21C14934D037563D930F"+
			"48198A0AA7C14058229493D22530F4DBFA336F6E0AC925139543AED44CCE7C37"+
			"20FD51F69458705AC68CD4FE6B6B13ABDC9746512969328454F18FAF8C595F64"+
			"2477FE96BB2A941D5BCD1D4AC8CC49880708FA9B378E3C4F3A9060BEE67CF9A4"+
			"A4A695811051907E162753B56B0F6B410DBA74D8A84B2A14B3144E0EF1284754"+
			"FD17ED950D5965B4B9DD46582DB1178D169C6BC465B0D6FF9CA3928FEF5B9AE4"+
			"E418FC15E83EBEA0F87FA9FF5EED70050DED2849F47BF959D956850CE929851F"+
			"0D8115F635B105EE2E4E15D04B2454BF6F4FADF034B10403119CD8E3B92FCC5B", 16)
		return p
	}()
)

// twoStep is the world's two-step verification state, under world.mu.
type twoStep struct {
	passwords map[int64]srpVerifier // by user
	awaiting  map[*authKey]int64    // keys signed in by code, waiting for the password
	sessions  map[int64]srpExchange // by srp_id
}

type srpVerifier struct {
	salt1, salt2 []byte
	v            *big.Int
}

// srpExchange is one account.getPassword's server secret b and public B.
type srpExchange struct {
	user int64
	b, B *big.Int
}

// SetPassword gives a user a two-step verification password ("" removes
// it). It costs a PBKDF2 of 100,000 rounds.
func (s *Server) SetPassword(userID int64, password string) error {
	var v srpVerifier
	if password != "" {
		salt1, salt2 := make([]byte, 8), make([]byte, 16)
		_, _ = rand.Read(salt1)
		_, _ = rand.Read(salt2)
		hash, newSalt1, err := srp.NewSRP(rand.Reader).NewHash([]byte(password), srp.Input{Salt1: salt1, Salt2: salt2, G: srpG, P: srpP.Bytes()})
		if err != nil {
			return err
		}
		v = srpVerifier{salt1: newSalt1, salt2: salt2, v: new(big.Int).SetBytes(hash)}
	}
	w := s.world
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.users[userID] == nil {
		return fmt.Errorf("tgsim: no user %d", userID)
	}
	if w.pw.passwords == nil {
		w.pw = twoStep{passwords: map[int64]srpVerifier{}, awaiting: map[*authKey]int64{}, sessions: map[int64]srpExchange{}}
	}
	if password == "" {
		delete(w.pw.passwords, userID)
	} else {
		w.pw.passwords[userID] = v
	}
	return nil
}

// needsPassword says whether u must prove a password after its code, and
// if so makes the request's key wait for it.
func (w *world) needsPassword(r *request, u *user) bool {
	if _, ok := w.pw.passwords[u.id]; !ok {
		return false
	}
	w.pw.awaiting[r.key] = u.id
	return true
}

func (w *world) getPassword(r *request, _ *tg.AccountGetPasswordRequest) (bin.Encoder, error) {
	random := make([]byte, 32)
	_, _ = rand.Read(random)
	res := &tg.AccountPassword{NewAlgo: &tg.PasswordKdfAlgoUnknown{}, NewSecureAlgo: &tg.SecurePasswordKdfAlgoUnknown{}, SecureRandom: random}
	uid, ok := w.pw.awaiting[r.key]
	if !ok {
		if r.key.account() == 0 {
			return nil, tgerr.New(401, "AUTH_KEY_UNREGISTERED")
		}
		uid = r.key.account()
	}
	pv, ok := w.pw.passwords[uid]
	if !ok {
		return res, nil
	}
	b := randBig()
	g := big.NewInt(int64(srpG))
	// B = (k·v + g^b) mod p, k = H(p | g)
	k := new(big.Int).SetBytes(srpHash(pad256(srpP), pad256(g)))
	B := new(big.Int).Mul(k, pv.v)
	B.Add(B, new(big.Int).Exp(g, b, srpP)).Mod(B, srpP)
	var idb [8]byte
	_, _ = rand.Read(idb[:])
	id := int64(binary.LittleEndian.Uint64(idb[:]) >> 1)
	w.pw.sessions[id] = srpExchange{user: uid, b: b, B: B}
	res.HasPassword = true
	res.CurrentAlgo = &tg.PasswordKdfAlgoSHA256SHA256PBKDF2HMACSHA512iter100000SHA256ModPow{Salt1: pv.salt1, Salt2: pv.salt2, G: srpG, P: pad256(srpP)}
	res.SRPB = pad256(B)
	res.SRPID = id
	return res, nil
}

func (w *world) checkPassword(r *request, req *tg.AuthCheckPasswordRequest) (bin.Encoder, error) {
	in, ok := req.Password.(*tg.InputCheckPasswordSRP)
	if !ok {
		return nil, tgerr.New(400, "PASSWORD_HASH_INVALID")
	}
	ex, ok := w.pw.sessions[in.SRPID]
	if !ok {
		return nil, tgerr.New(400, "SRP_ID_INVALID")
	}
	delete(w.pw.sessions, in.SRPID) // one try per getPassword, as Telegram
	pv, ok := w.pw.passwords[ex.user]
	if !ok {
		return nil, tgerr.New(400, "SRP_ID_INVALID")
	}
	A := new(big.Int).SetBytes(in.A)
	if A.Sign() <= 0 || A.Cmp(srpP) >= 0 {
		return nil, tgerr.New(400, "SRP_A_INVALID")
	}
	g := big.NewInt(int64(srpG))
	// u = H(A | B); S = (A · v^u)^b mod p; K = H(S)
	u := new(big.Int).SetBytes(srpHash(pad256(A), pad256(ex.B)))
	S := new(big.Int).Exp(pv.v, u, srpP)
	S.Mul(S, A).Mod(S, srpP).Exp(S, ex.b, srpP)
	K := srpHash(pad256(S))
	// M1 = H(H(p) xor H(g) | H(salt1) | H(salt2) | A | B | K)
	hp, hg := sha256.Sum256(pad256(srpP)), sha256.Sum256(pad256(g))
	for i := range hp {
		hp[i] ^= hg[i]
	}
	m1 := srpHash(hp[:], srpHash(pv.salt1), srpHash(pv.salt2), pad256(A), pad256(ex.B), K)
	if string(m1) != string(in.M1) {
		return nil, tgerr.New(400, "PASSWORD_HASH_INVALID")
	}
	delete(w.pw.awaiting, r.key)
	return w.login(r, w.users[ex.user]), nil
}

func srpHash(parts ...[]byte) []byte {
	h := sha256.New()
	for _, p := range parts {
		h.Write(p)
	}
	return h.Sum(nil)
}

// pad256 is x big-endian in 256 bytes (SRP pads every number to 2048 bits).
func pad256(x *big.Int) []byte {
	b := make([]byte, 256)
	return x.FillBytes(b)
}

// randBig is a random 2048-bit secret.
func randBig() *big.Int {
	b := make([]byte, 256)
	_, _ = rand.Read(b)
	return new(big.Int).SetBytes(b)
}
