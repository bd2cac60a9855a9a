package actors

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gotd/td/crypto"
)

func TestFileStore(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "keys.json")
	s := &FileStore{Path: path}
	if _, _, ok, err := s.Load("2@a"); ok || err != nil {
		t.Fatalf("empty store: %v %v", ok, err)
	}
	var k crypto.Key
	for i := range k {
		k[i] = byte(i)
	}
	if err := s.Save("2@a", k.WithID(), 77); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v, want 0600", fi.Mode().Perm())
	}
	got, salt, ok, err := (&FileStore{Path: path}).Load("2@a")
	if err != nil || !ok || salt != 77 || got.ID != k.WithID().ID {
		t.Fatalf("reload: %v %v %d", err, ok, salt)
	}

	bad := filepath.Join(t.TempDir(), "other.json")
	if err := os.WriteFile(bad, []byte("not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	bs := &FileStore{Path: bad}
	if _, _, _, err := bs.Load("2@a"); err == nil || !strings.Contains(err.Error(), bad) {
		t.Fatalf("corrupt file: %v", err)
	}
	if err := bs.Save("2@a", k.WithID(), 1); err == nil {
		t.Fatal("a file we cannot read must not be overwritten")
	}
	if data, _ := os.ReadFile(bad); string(data) != "not json" {
		t.Fatal("corrupt file was overwritten")
	}
}
