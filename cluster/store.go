package cluster

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gotd/td/crypto"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/tlsched/tlsched/actors"
	"github.com/tlsched/tlsched/mtproto"
)

// Store keeps one account's state in etcd, where every member reaches it
// (the store contract of actors.Store, SessionStore, HomeDCStore,
// LimitsStore, LoginStore and PrimeStore; bbolt stays the single-process
// default). Under Prefix:
//
//	accounts/ACCOUNT/keys/DC  sealed: the DC's auth key, salt and session state
//	accounts/ACCOUNT/homedc   the home DC
//	accounts/ACCOUNT/limits   the pacer's learned limits (JSON)
//	accounts/ACCOUNT/login    who the home DC's key is logged in as (JSON)
//	primes/SHA256             verified DH primes, shared by every account
//
// Auth keys and salts are sealed (Sealer): etcd holds no key material in
// the clear. Writes are fenced by the account's Ownership: each goes in a
// transaction that compares the ownership key's create revision, so once
// another member owns the account a late write of this one is refused
// (ErrFenced) instead of overwriting the new owner's key. Reads are not
// fenced. Primes are public numbers and are written by anyone.
type Store struct {
	cli     *clientv3.Client
	seal    *Sealer
	own     *Ownership // nil: writes unfenced (tests, tools)
	base    string     // Prefix + "accounts/" + account + "/"
	primes  string     // Prefix + "primes/"
	timeout time.Duration
}

// StoreConfig configures a Store.
type StoreConfig struct {
	// Prefix is the cluster's key prefix ("/tlsched/NAME/"). Required.
	Prefix string
	// Account is the account's name. Required unless Owner is set.
	Account string
	// Sealer seals auth keys at rest. Required.
	Sealer *Sealer
	// Owner fences every write of the account's state; nil writes
	// unfenced.
	Owner *Ownership
	// Timeout bounds each etcd request; default 5 s.
	Timeout time.Duration
}

// ErrFenced means a write was refused because the account's ownership key
// is no longer this Store's Ownership (another member owns the account),
// or the Ownership was lost.
var ErrFenced = errors.New("cluster: the account has another owner now: write refused")

// NewStore returns the Store of one account over cli, which the caller
// keeps and closes.
func NewStore(cli *clientv3.Client, cfg StoreConfig) (*Store, error) {
	if cfg.Owner != nil && cfg.Account == "" {
		cfg.Account = cfg.Owner.Account()
	}
	switch {
	case cli == nil:
		return nil, errors.New("cluster: NewStore: nil etcd client")
	case cfg.Prefix == "" || cfg.Account == "":
		return nil, fmt.Errorf("cluster: NewStore: Prefix (%q) and Account (%q) are required", cfg.Prefix, cfg.Account)
	case strings.Contains(cfg.Account, "/"):
		return nil, fmt.Errorf("cluster: NewStore: account name %q contains '/'", cfg.Account)
	case cfg.Sealer == nil:
		return nil, errors.New("cluster: NewStore: a Sealer is required: auth keys are never stored in the clear")
	case cfg.Owner != nil && cfg.Owner.Account() != cfg.Account:
		return nil, fmt.Errorf("cluster: NewStore: the Owner is of account %q, not %q", cfg.Owner.Account(), cfg.Account)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Second
	}
	return &Store{
		cli: cli, seal: cfg.Sealer, own: cfg.Owner,
		base: cfg.Prefix + "accounts/" + cfg.Account + "/", primes: cfg.Prefix + "primes/",
		timeout: cfg.Timeout,
	}, nil
}

var (
	_ actors.Store        = (*Store)(nil)
	_ actors.SessionStore = (*Store)(nil)
	_ actors.HomeDCStore  = (*Store)(nil)
	_ actors.LimitsStore  = (*Store)(nil)
	_ actors.LoginStore   = (*Store)(nil)
	_ actors.PrimeStore   = (*Store)(nil)
)

// keyRecord is a DC's sealed record.
type keyRecord struct {
	Key          []byte       `json:"key"` // 256 bytes
	Salt         int64        `json:"salt"`
	Salts        []saltRecord `json:"salts,omitempty"`
	TimeOffsetMS int64        `json:"time_offset_ms,omitempty"`
}

type saltRecord struct {
	Salt       int64 `json:"salt"`
	ValidSince int64 `json:"since"`
	ValidUntil int64 `json:"until"`
}

type loginRecord struct {
	Account actors.Account `json:"account"`
	DC      string         `json:"dc"`
	KeyID   []byte         `json:"key_id"`
}

func (s *Store) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(s.cli.Ctx(), s.timeout)
}

func (s *Store) keyName(dc string) string { return s.base + "keys/" + dc }

// get returns a key's value and mod revision; nil when it has none.
func (s *Store) get(name string) ([]byte, int64, error) {
	ctx, cancel := s.ctx()
	defer cancel()
	r, err := s.cli.Get(ctx, name)
	if err != nil {
		return nil, 0, fmt.Errorf("cluster: read %s: %w", name, err)
	}
	if len(r.Kvs) == 0 {
		return nil, 0, nil
	}
	return r.Kvs[0].Value, r.Kvs[0].ModRevision, nil
}

// put writes name, fenced by the ownership and, when modRev > 0 (or
// modRev < 0: the key must not exist), by the key's own revision.
func (s *Store) put(name string, value []byte, modRev int64) error {
	var conds []clientv3.Cmp
	if err := s.lost(name); err != nil {
		return err
	}
	if s.own != nil {
		conds = append(conds, clientv3.Compare(clientv3.CreateRevision(s.own.key), "=", s.own.rev))
	}
	switch {
	case modRev > 0:
		conds = append(conds, clientv3.Compare(clientv3.ModRevision(name), "=", modRev))
	case modRev < 0:
		conds = append(conds, clientv3.Compare(clientv3.CreateRevision(name), "=", 0))
	}
	ctx, cancel := s.ctx()
	defer cancel()
	r, err := s.cli.Txn(ctx).If(conds...).Then(clientv3.OpPut(name, string(value))).Commit()
	if err != nil {
		return fmt.Errorf("cluster: write %s: %w", name, err)
	}
	if !r.Succeeded {
		if s.own != nil && !s.stillOwner() {
			return fmt.Errorf("%w (%s)", ErrFenced, name)
		}
		return fmt.Errorf("cluster: write %s: changed since it was read", name)
	}
	return nil
}

// lost refuses a write to name once the Ownership is lost, without asking
// etcd, which may be cut off (a partition ends ownerships): a write, or
// the read before it, must not hold up the account's stop.
func (s *Store) lost(name string) error {
	if s.own == nil {
		return nil
	}
	select {
	case <-s.own.Lost():
		return fmt.Errorf("%w (%s: the ownership was lost: %v)", ErrFenced, name, s.own.Err())
	default:
		return nil
	}
}

// stillOwner reports whether the ownership key is still this Store's.
func (s *Store) stillOwner() bool {
	_, rev, err := s.getCreateRev(s.own.key)
	return err == nil && rev == s.own.rev
}

func (s *Store) getCreateRev(name string) ([]byte, int64, error) {
	ctx, cancel := s.ctx()
	defer cancel()
	r, err := s.cli.Get(ctx, name)
	if err != nil || len(r.Kvs) == 0 {
		return nil, 0, err
	}
	return r.Kvs[0].Value, r.Kvs[0].CreateRevision, nil
}

// loadRecord reads and opens a DC's key record.
func (s *Store) loadRecord(dc string) (rec keyRecord, modRev int64, ok bool, err error) {
	name := s.keyName(dc)
	v, modRev, err := s.get(name)
	if err != nil || v == nil {
		return rec, 0, false, err
	}
	plain, err := s.seal.Open(name, v)
	if err != nil {
		return rec, 0, false, err
	}
	if err := json.Unmarshal(plain, &rec); err != nil {
		return rec, 0, false, fmt.Errorf("cluster: %s: %w", name, err)
	}
	if len(rec.Key) != 256 {
		return rec, 0, false, fmt.Errorf("cluster: %s: an auth key of %d bytes, not 256", name, len(rec.Key))
	}
	return rec, modRev, true, nil
}

func (s *Store) saveRecord(dc string, rec keyRecord, modRev int64) error {
	plain, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	name := s.keyName(dc)
	return s.put(name, s.seal.Seal(name, plain), modRev)
}

func authKeyOf(b []byte) crypto.AuthKey {
	var v crypto.Key
	copy(v[:], b)
	return v.WithID()
}

// Load implements actors.Store.
func (s *Store) Load(dc string) (crypto.AuthKey, int64, bool, error) {
	rec, _, ok, err := s.loadRecord(dc)
	if err != nil || !ok {
		return crypto.AuthKey{}, 0, false, err
	}
	return authKeyOf(rec.Key), rec.Salt, true, nil
}

// Save implements actors.Store: it replaces the DC's key, and forgets the
// session state of the key before.
func (s *Store) Save(dc string, key crypto.AuthKey, salt int64) error {
	return s.saveRecord(dc, keyRecord{Key: bytes.Clone(key.Value[:]), Salt: salt}, 0)
}

// LoadSession implements actors.SessionStore.
func (s *Store) LoadSession(dc string, keyID [8]byte) (actors.SessionState, bool, error) {
	rec, _, ok, err := s.loadRecord(dc)
	if err != nil || !ok || authKeyOf(rec.Key).ID != keyID {
		return actors.SessionState{}, false, err
	}
	st := actors.SessionState{Salt: rec.Salt, TimeOffset: time.Duration(rec.TimeOffsetMS) * time.Millisecond}
	for _, x := range rec.Salts {
		st.FutureSalts = append(st.FutureSalts, mtproto.ServerSalt{Salt: x.Salt, ValidSince: time.Unix(x.ValidSince, 0), ValidUntil: time.Unix(x.ValidUntil, 0)})
	}
	return st, true, nil
}

// SaveSession implements actors.SessionStore: it writes nothing when the
// key stored for dc is not keyID.
func (s *Store) SaveSession(dc string, keyID [8]byte, st actors.SessionState) error {
	if err := s.lost(s.keyName(dc)); err != nil {
		return err
	}
	rec, modRev, ok, err := s.loadRecord(dc)
	if err != nil || !ok || authKeyOf(rec.Key).ID != keyID {
		return err
	}
	rec.Salt, rec.TimeOffsetMS, rec.Salts = st.Salt, st.TimeOffset.Milliseconds(), rec.Salts[:0]
	for _, x := range st.FutureSalts {
		rec.Salts = append(rec.Salts, saltRecord{Salt: x.Salt, ValidSince: x.ValidSince.Unix(), ValidUntil: x.ValidUntil.Unix()})
	}
	return s.saveRecord(dc, rec, modRev)
}

// LoadHomeDC implements actors.HomeDCStore.
func (s *Store) LoadHomeDC() (string, bool, error) {
	v, _, err := s.get(s.base + "homedc")
	if err != nil || v == nil {
		return "", false, err
	}
	return string(v), true, nil
}

// SaveHomeDC implements actors.HomeDCStore.
func (s *Store) SaveHomeDC(dc string) error { return s.put(s.base+"homedc", []byte(dc), 0) }

// LoadLimits implements actors.LimitsStore.
func (s *Store) LoadLimits() (map[string]float64, error) {
	v, _, err := s.get(s.base + "limits")
	if err != nil || v == nil {
		return nil, err
	}
	var limits map[string]float64
	if err := json.Unmarshal(v, &limits); err != nil {
		return nil, fmt.Errorf("cluster: %slimits: %w", s.base, err)
	}
	return limits, nil
}

// SaveLimits implements actors.LimitsStore.
func (s *Store) SaveLimits(limits map[string]float64) error {
	v, err := json.Marshal(limits)
	if err != nil {
		return err
	}
	return s.put(s.base+"limits", v, 0)
}

// LoadLogin implements actors.LoginStore.
func (s *Store) LoadLogin() (actors.Account, bool, error) {
	v, _, err := s.get(s.base + "login")
	if err != nil || v == nil {
		return actors.Account{}, false, err
	}
	var rec loginRecord
	if err := json.Unmarshal(v, &rec); err != nil {
		return actors.Account{}, false, fmt.Errorf("cluster: %slogin: %w", s.base, err)
	}
	key, _, ok, err := s.Load(rec.DC)
	if err != nil || !ok || !bytes.Equal(key.ID[:], rec.KeyID) {
		return actors.Account{}, false, err
	}
	return rec.Account, true, nil
}

// SaveLogin implements actors.LoginStore. With no key stored for dc it
// records nothing and says so.
func (s *Store) SaveLogin(dc string, acc actors.Account) error {
	if err := s.lost(s.base + "login"); err != nil {
		return err
	}
	key, _, ok, err := s.Load(dc)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("cluster: login as %d: no key stored for dc %s", acc.UserID, dc)
	}
	v, err := json.Marshal(loginRecord{Account: acc, DC: dc, KeyID: key.ID[:]})
	if err != nil {
		return err
	}
	return s.put(s.base+"login", v, 0)
}

// LoadPrimes implements actors.PrimeStore.
func (s *Store) LoadPrimes() ([][]byte, error) {
	ctx, cancel := s.ctx()
	defer cancel()
	r, err := s.cli.Get(ctx, s.primes, clientv3.WithPrefix())
	if err != nil {
		return nil, fmt.Errorf("cluster: read %s: %w", s.primes, err)
	}
	out := make([][]byte, 0, len(r.Kvs))
	for _, kv := range r.Kvs {
		out = append(out, kv.Value)
	}
	return out, nil
}

// SavePrime implements actors.PrimeStore: shared by the cluster, written
// once, by whoever verified it first.
func (s *Store) SavePrime(p []byte) error {
	sum := sha256.Sum256(p)
	name := s.primes + hex.EncodeToString(sum[:])
	ctx, cancel := s.ctx()
	defer cancel()
	_, err := s.cli.Txn(ctx).If(clientv3.Compare(clientv3.CreateRevision(name), "=", 0)).Then(clientv3.OpPut(name, string(p))).Commit()
	if err != nil {
		return fmt.Errorf("cluster: write %s: %w", name, err)
	}
	return nil
}
