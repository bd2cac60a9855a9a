package cluster

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func testSealer(t *testing.T, fill byte) *Sealer {
	t.Helper()
	s, err := NewSealer(bytes.Repeat([]byte{fill}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// A sealed record opens under its key and name only, and says why not.
func TestSealOpen(t *testing.T) {
	s := testSealer(t, 1)
	secret := []byte("auth key bytes")
	sealed := s.Seal("/tlsched/c/accounts/a/keys/2", secret)
	if bytes.Contains(sealed, secret) {
		t.Fatal("the sealed record holds the plain bytes")
	}
	if again := s.Seal("/tlsched/c/accounts/a/keys/2", secret); bytes.Equal(again, sealed) {
		t.Fatal("two seals of one record are equal: the nonce is not fresh")
	}
	got, err := s.Open("/tlsched/c/accounts/a/keys/2", sealed)
	if err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("open: %q, %v", got, err)
	}
	for name, tc := range map[string]struct {
		s      *Sealer
		record string
		data   []byte
	}{
		"another key":     {testSealer(t, 2), "/tlsched/c/accounts/a/keys/2", sealed},
		"another account": {s, "/tlsched/c/accounts/b/keys/2", sealed},
		"a flipped bit":   {s, "/tlsched/c/accounts/a/keys/2", flip(sealed, len(sealed)-1)},
	} {
		if _, err := tc.s.Open(tc.record, tc.data); !errors.Is(err, ErrUnsealable) {
			t.Errorf("%s: %v, want ErrUnsealable", name, err)
		}
	}
	if _, err := s.Open("r", sealed[:10]); err == nil || !strings.Contains(err.Error(), "too short") {
		t.Errorf("a short record: %v", err)
	}
	if _, err := s.Open("r", append([]byte{9}, sealed[1:]...)); err == nil || !strings.Contains(err.Error(), "format 9") {
		t.Errorf("another format: %v", err)
	}
}

func flip(b []byte, i int) []byte {
	c := bytes.Clone(b)
	c[i] ^= 1
	return c
}

// Keys are read as hex or base64, from the environment or a file; a
// wrong one is an error naming where it came from.
func TestSealKeys(t *testing.T) {
	raw := bytes.Repeat([]byte{7}, 32)
	for _, text := range []string{hex.EncodeToString(raw), base64.StdEncoding.EncodeToString(raw) + "\n"} {
		k, err := ParseSealKey(text, "test")
		if err != nil || !bytes.Equal(k, raw) {
			t.Fatalf("%q: %x, %v", text, k, err)
		}
	}
	for _, text := range []string{"", "abcd", hex.EncodeToString(raw[:16])} {
		if _, err := ParseSealKey(text, "the test key"); err == nil || !strings.Contains(err.Error(), "the test key") {
			t.Errorf("%q: %v, want an error naming the key", text, err)
		}
	}
	if _, err := NewSealer(raw[:31]); err == nil {
		t.Error("a 31-byte key was taken")
	}

	t.Setenv(SealKeyEnv, hex.EncodeToString(raw))
	fromEnv, err := SealerFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "seal.key")
	if err := os.WriteFile(path, []byte(base64.StdEncoding.EncodeToString(raw)), 0o600); err != nil {
		t.Fatal(err)
	}
	fromFile, err := SealerFromFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fromFile.Open("r", fromEnv.Seal("r", []byte("x"))); err != nil {
		t.Fatalf("one key from the environment and a file: %v", err)
	}
	t.Setenv(SealKeyEnv, "short")
	if _, err := SealerFromEnv(); err == nil || !strings.Contains(err.Error(), SealKeyEnv) {
		t.Errorf("a bad key in the environment: %v", err)
	}
}
