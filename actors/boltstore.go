package actors

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"maps"
	"math"

	"github.com/gotd/td/crypto"
	bolt "go.etcd.io/bbolt"
)

// BoltStore is one account of a bbolt key store file (BoltDB.Account). It
// implements Store, PrimeStore, SessionStore, HomeDCStore, LimitsStore and
// LoginStore;
// safe for concurrent use. Writes of many accounts share transactions
// (boltFile.update); writes that change nothing are not made.
type BoltStore struct {
	f       *boltFile
	account []byte
}

var (
	_ Store        = (*BoltStore)(nil)
	_ PrimeStore   = (*BoltStore)(nil)
	_ SessionStore = (*BoltStore)(nil)
	_ HomeDCStore  = (*BoltStore)(nil)
	_ LimitsStore  = (*BoltStore)(nil)
	_ LoginStore   = (*BoltStore)(nil)
)

// Path is the file the store lives in.
func (s *BoltStore) Path() string { return s.f.path }

// Account is the account's name in its file.
func (s *BoltStore) Account() string { return string(s.account) }

// sessionRecord is a DC's session state in the sessions bucket, with the
// id of the key it belongs to (salts are valid for one key only).
type sessionRecord struct {
	KeyID        []byte      `json:"key_id"`
	Salt         int64       `json:"salt"`
	TimeOffsetMS int64       `json:"time_offset_ms,omitempty"`
	Salts        []savedSalt `json:"salts,omitempty"`
}

func (r sessionRecord) state() SessionState {
	k := savedKey{Salt: r.Salt, TimeOffsetMS: r.TimeOffsetMS, Salts: r.Salts}
	return k.session()
}

func newSessionRecord(keyID [8]byte, st SessionState) sessionRecord {
	var k savedKey
	k.setSession(st)
	return sessionRecord{KeyID: keyID[:], Salt: k.Salt, TimeOffsetMS: k.TimeOffsetMS, Salts: k.Salts}
}

// bucket returns the account's sub-bucket name, or nil if the account has
// never written one.
func (s *BoltStore) bucket(tx *bolt.Tx, name []byte) *bolt.Bucket {
	acct := tx.Bucket(bktAccounts).Bucket(s.account)
	if acct == nil {
		return nil
	}
	return acct.Bucket(name)
}

// createBucket returns the account's sub-bucket name, creating it (and
// the account) if needed.
func (s *BoltStore) createBucket(tx *bolt.Tx, name []byte) (*bolt.Bucket, error) {
	acct, err := tx.Bucket(bktAccounts).CreateBucketIfNotExists(s.account)
	if err != nil {
		return nil, err
	}
	return acct.CreateBucketIfNotExists(name)
}

func (s *BoltStore) errorf(format string, args ...any) error {
	return fmt.Errorf("key store %s, account %q: %s", s.f.path, s.account, fmt.Sprintf(format, args...))
}

// loadKey reads a DC's key and session record. The caller holds tx.
func (s *BoltStore) loadKey(tx *bolt.Tx, dc string) (key crypto.AuthKey, rec sessionRecord, ok bool, err error) {
	keys := s.bucket(tx, bktKeys)
	if keys == nil {
		return key, rec, false, nil
	}
	v := keys.Get([]byte(dc))
	if v == nil {
		return key, rec, false, nil
	}
	if len(v) != len(crypto.Key{}) {
		return key, rec, false, s.errorf("dc %s key has %d bytes, want %d", dc, len(v), len(crypto.Key{}))
	}
	key = toAuthKey(v)
	if sv := s.bucket(tx, bktSessions).Get([]byte(dc)); sv != nil {
		if err := json.Unmarshal(sv, &rec); err != nil {
			return key, rec, false, s.errorf("dc %s session record: %v", dc, err)
		}
		if !bytes.Equal(rec.KeyID, key.ID[:]) {
			rec = sessionRecord{} // another key's
		}
	}
	return key, rec, true, nil
}

// Load implements Store.
func (s *BoltStore) Load(dc string) (key crypto.AuthKey, salt int64, ok bool, err error) {
	err = s.f.db.View(func(tx *bolt.Tx) error {
		var rec sessionRecord
		key, rec, ok, err = s.loadKey(tx, dc)
		salt = rec.Salt
		return err
	})
	return key, salt, ok, err
}

// Save implements Store. It replaces the DC's key and forgets the session
// state of the key before.
func (s *BoltStore) Save(dc string, key crypto.AuthKey, salt int64) error {
	rec, err := json.Marshal(sessionRecord{KeyID: key.ID[:], Salt: salt})
	if err != nil {
		return err
	}
	value := append([]byte(nil), key.Value[:]...)
	return s.f.update(func(tx *bolt.Tx) error {
		keys, err := s.createBucket(tx, bktKeys)
		if err != nil {
			return err
		}
		sessions, err := s.createBucket(tx, bktSessions)
		if err != nil {
			return err
		}
		if err := keys.Put([]byte(dc), value); err != nil {
			return err
		}
		return sessions.Put([]byte(dc), rec)
	})
}

// LoadSession implements SessionStore.
func (s *BoltStore) LoadSession(dc string, keyID [8]byte) (st SessionState, ok bool, err error) {
	err = s.f.db.View(func(tx *bolt.Tx) error {
		key, rec, found, err := s.loadKey(tx, dc)
		if err != nil || !found || key.ID != keyID || rec.KeyID == nil {
			return err
		}
		st, ok = rec.state(), true
		return nil
	})
	return st, ok, err
}

// SaveSession implements SessionStore: it writes nothing when the stored key
// is not keyID, or when the state is the one stored.
func (s *BoltStore) SaveSession(dc string, keyID [8]byte, st SessionState) error {
	rec, err := json.Marshal(newSessionRecord(keyID, st))
	if err != nil {
		return err
	}
	write := false
	err = s.f.db.View(func(tx *bolt.Tx) error {
		key, _, found, err := s.loadKey(tx, dc)
		if err != nil || !found || key.ID != keyID {
			return err
		}
		write = !bytes.Equal(s.bucket(tx, bktSessions).Get([]byte(dc)), rec)
		return nil
	})
	if err != nil || !write {
		return err
	}
	return s.f.update(func(tx *bolt.Tx) error {
		// Checked again: the key may have changed since.
		key, _, found, err := s.loadKey(tx, dc)
		if err != nil || !found || key.ID != keyID {
			return err
		}
		sessions, err := s.createBucket(tx, bktSessions)
		if err != nil {
			return err
		}
		return sessions.Put([]byte(dc), rec)
	})
}

// LoadHomeDC implements HomeDCStore.
func (s *BoltStore) LoadHomeDC() (dc string, ok bool, err error) {
	err = s.f.db.View(func(tx *bolt.Tx) error {
		if b := s.bucket(tx, bktHomeDC); b != nil {
			v := b.Get(homeDCKey)
			dc, ok = string(v), len(v) > 0
		}
		return nil
	})
	return dc, ok, err
}

// SaveHomeDC implements HomeDCStore; nothing is written when dc is the one
// stored.
func (s *BoltStore) SaveHomeDC(dc string) error {
	if old, ok, err := s.LoadHomeDC(); err == nil && ok && old == dc {
		return nil
	}
	return s.f.update(func(tx *bolt.Tx) error {
		b, err := s.createBucket(tx, bktHomeDC)
		if err != nil {
			return err
		}
		return b.Put(homeDCKey, []byte(dc))
	})
}

// LoadLimits implements LimitsStore.
func (s *BoltStore) LoadLimits() (limits map[string]float64, err error) {
	err = s.f.db.View(func(tx *bolt.Tx) error {
		b := s.bucket(tx, bktLimits)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			if len(v) != 8 {
				return s.errorf("limit %q: %d bytes, want 8", k, len(v))
			}
			if limits == nil {
				limits = map[string]float64{}
			}
			limits[string(k)] = math.Float64frombits(binary.BigEndian.Uint64(v))
			return nil
		})
	})
	return limits, err
}

// SaveLimits implements LimitsStore: the stored limits become limits;
// nothing is written when they are the same.
func (s *BoltStore) SaveLimits(limits map[string]float64) error {
	if old, err := s.LoadLimits(); err == nil && maps.Equal(old, limits) {
		return nil
	}
	limits = maps.Clone(limits)
	return s.f.update(func(tx *bolt.Tx) error {
		acct, err := tx.Bucket(bktAccounts).CreateBucketIfNotExists(s.account)
		if err != nil {
			return err
		}
		if acct.Bucket(bktLimits) != nil {
			if err := acct.DeleteBucket(bktLimits); err != nil {
				return err
			}
		}
		b, err := acct.CreateBucket(bktLimits)
		if err != nil {
			return err
		}
		for k, v := range limits {
			var buf [8]byte
			binary.BigEndian.PutUint64(buf[:], math.Float64bits(v))
			if err := b.Put([]byte(k), buf[:]); err != nil {
				return err
			}
		}
		return nil
	})
}

// LoadPrimes implements PrimeStore: the primes of every account of the file.
func (s *BoltStore) LoadPrimes() (out [][]byte, err error) {
	err = s.f.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bktPrimes).ForEach(func(_, v []byte) error {
			out = append(out, append([]byte(nil), v...))
			return nil
		})
	})
	return out, err
}

// SavePrime implements PrimeStore; a prime the file has is not written
// again.
func (s *BoltStore) SavePrime(p []byte) error {
	h := sha256.Sum256(p)
	have := false
	_ = s.f.db.View(func(tx *bolt.Tx) error {
		have = tx.Bucket(bktPrimes).Get(h[:]) != nil
		return nil
	})
	if have {
		return nil
	}
	p = append([]byte(nil), p...)
	return s.f.update(func(tx *bolt.Tx) error { return tx.Bucket(bktPrimes).Put(h[:], p) })
}

// loginRecord is the login bucket's record (LoginStore).
type loginRecord struct {
	Account Account `json:"account"`
	DC      string  `json:"dc"`
	KeyID   []byte  `json:"key_id"`
}

// LoadLogin implements LoginStore.
func (s *BoltStore) LoadLogin() (acc Account, ok bool, err error) {
	err = s.f.db.View(func(tx *bolt.Tx) error {
		b := s.bucket(tx, bktLogin)
		if b == nil {
			return nil
		}
		v := b.Get(loginKey)
		if v == nil {
			return nil
		}
		var rec loginRecord
		if err := json.Unmarshal(v, &rec); err != nil {
			return s.errorf("login record: %v", err)
		}
		key, _, found, err := s.loadKey(tx, rec.DC)
		if err != nil || !found || !bytes.Equal(key.ID[:], rec.KeyID) {
			return err
		}
		acc, ok = rec.Account, true
		return nil
	})
	return acc, ok, err
}

// SaveLogin implements LoginStore. With no key stored for dc it records
// nothing and says so.
func (s *BoltStore) SaveLogin(dc string, acc Account) error {
	return s.f.update(func(tx *bolt.Tx) error {
		key, _, found, err := s.loadKey(tx, dc)
		if err != nil {
			return err
		}
		if !found {
			return s.errorf("login as %d: no key stored for dc %s", acc.UserID, dc)
		}
		v, err := json.Marshal(loginRecord{Account: acc, DC: dc, KeyID: key.ID[:]})
		if err != nil {
			return err
		}
		b, err := s.createBucket(tx, bktLogin)
		if err != nil {
			return err
		}
		return b.Put(loginKey, v)
	})
}
