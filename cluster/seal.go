package cluster

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
)

// Auth keys live in etcd in cluster mode, where every member (and whoever
// can read etcd's data or backups) could read them: they are sealed at rest
// with AES-256-GCM under a key each member is given, from the environment
// (SealKeyEnv) or a file. A sealed record is bound to its etcd key (the
// additional data), so a record copied under another account's key does
// not open.

// SealKeyEnv is the environment variable a member reads its sealing key
// from (SealerFromEnv): 32 bytes, as 64 hex digits or standard base64.
const SealKeyEnv = "TLSCHED_SEAL_KEY"

// sealVersion is a sealed record's first byte: the format.
const sealVersion = 1

// Sealer seals and opens records at rest. Safe for concurrent use.
type Sealer struct {
	aead cipher.AEAD
}

// NewSealer returns a Sealer for a 32-byte key.
func NewSealer(key []byte) (*Sealer, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("cluster: a sealing key is 32 bytes, not %d", len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("cluster: sealing key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("cluster: sealing key: %w", err)
	}
	return &Sealer{aead: aead}, nil
}

// ParseSealKey reads a sealing key written as 64 hex digits or as standard
// base64 of 32 bytes (surrounding space ignored); what says where it came
// from in the error.
func ParseSealKey(text, what string) ([]byte, error) {
	text = strings.TrimSpace(text)
	if text == "" {
		return nil, fmt.Errorf("cluster: %s: no sealing key", what)
	}
	if len(text) == 64 {
		if k, err := hex.DecodeString(text); err == nil {
			return k, nil
		}
	}
	k, err := base64.StdEncoding.DecodeString(text)
	if err != nil || len(k) != 32 {
		return nil, fmt.Errorf("cluster: %s: a sealing key is 32 bytes written as 64 hex digits or in base64 (%d characters given)", what, len(text))
	}
	return k, nil
}

// SealerFromEnv returns a Sealer for the key in SealKeyEnv.
func SealerFromEnv() (*Sealer, error) {
	v, ok := os.LookupEnv(SealKeyEnv)
	if !ok {
		return nil, fmt.Errorf("cluster: %s is not set: give each member the same 32-byte sealing key (for example `openssl rand -hex 32`)", SealKeyEnv)
	}
	k, err := ParseSealKey(v, SealKeyEnv)
	if err != nil {
		return nil, err
	}
	return NewSealer(k)
}

// SealerFromFile returns a Sealer for the key in the file at path (hex or
// base64, as ParseSealKey reads). The file should be readable by its
// owner only.
func SealerFromFile(path string) (*Sealer, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("cluster: sealing key: %w", err)
	}
	k, err := ParseSealKey(string(b), path)
	if err != nil {
		return nil, err
	}
	return NewSealer(k)
}

// Seal encrypts plain for the record named name: version, nonce, then the
// ciphertext with its tag.
func (s *Sealer) Seal(name string, plain []byte) []byte {
	ns := s.aead.NonceSize()
	out := make([]byte, 1+ns, 1+ns+len(plain)+s.aead.Overhead())
	out[0] = sealVersion
	if _, err := rand.Read(out[1:]); err != nil {
		panic("cluster: crypto/rand: " + err.Error()) // crypto/rand.Read does not fail (Go 1.24)
	}
	return s.aead.Seal(out, out[1:1+ns], plain, []byte(name))
}

// ErrUnsealable means a record does not open: another sealing key, a
// record moved from another name, or damaged bytes.
var ErrUnsealable = errors.New("cluster: the record does not open with this sealing key (another key, another record's bytes, or damaged)")

// Open decrypts a record Seal made for name.
func (s *Sealer) Open(name string, sealed []byte) ([]byte, error) {
	ns := s.aead.NonceSize()
	if len(sealed) < 1+ns+s.aead.Overhead() {
		return nil, fmt.Errorf("cluster: sealed record %q is %d bytes, too short", name, len(sealed))
	}
	if sealed[0] != sealVersion {
		return nil, fmt.Errorf("cluster: sealed record %q has format %d; this tlsched reads %d", name, sealed[0], sealVersion)
	}
	plain, err := s.aead.Open(nil, sealed[1:1+ns], sealed[1+ns:], []byte(name))
	if err != nil {
		return nil, fmt.Errorf("%w: %q", ErrUnsealable, name)
	}
	return plain, nil
}
