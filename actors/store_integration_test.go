package actors

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gotd/td/exchange"
	"github.com/gotd/td/tg"

	"github.com/tlsched/tlsched/tgsim"
)

// A client pointed at a test server with neither a Store nor a
// SessionFile keeps its keys in memory: nothing appears in the user's
// configuration directory (issue 21: a key per ephemeral port used to).
func TestCustomServerWritesNoFile(t *testing.T) {
	home := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", home)
	t.Setenv("HOME", home)
	srv, err := tgsim.Start(tgsim.Config{Key: serverKey(), Flood: tgsim.FloodConfig{Off: true}})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	dcs := map[int]string{}
	for _, d := range srv.DCs() {
		dcs[d.ID] = d.Addr
	}
	c := startClient(t, Config{DCs: dcs, PublicKeys: []exchange.PublicKey{srv.PublicKey()}, DialLimits: []DialLimit{}})
	if _, ok := c.cfg.Store.(*MemoryStore); !ok {
		t.Fatalf("store %T, want a MemoryStore", c.cfg.Store)
	}
	ctx := shortCtx(t, 20*time.Second)
	if err := c.Invoke(ctx, getSelf, &tg.UserClassVector{}); err != nil {
		t.Fatal(err)
	}
	_ = filepath.WalkDir(home, func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			t.Errorf("%s written", path)
		}
		return nil
	})
}
