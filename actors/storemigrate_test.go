package actors

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/tlsched/tlsched/mtproto"
)

// writeOldSession writes a session file as FileStore writes it: a key under
// today's name and one under the name records had before issue 21 (the
// DC's address), each with session state, a verified prime, the home DC
// (named the old way) and learned limits. It returns the keys.
func writeOldSession(t *testing.T, path string) (today, legacy [256]byte) {
	t.Helper()
	fs := &FileStore{Path: path}
	today, legacy = testKey(20), testKey(40)
	kt, kl := toAuthKey(today[:]), toAuthKey(legacy[:])
	st := SessionState{Salt: 7, TimeOffset: 2 * time.Second, FutureSalts: []mtproto.ServerSalt{{Salt: 8, ValidSince: time.Unix(100, 0), ValidUntil: time.Unix(200, 0)}}}
	must(t, fs.Save("2@telegram", kt, 1))
	must(t, fs.SaveSession("2@telegram", kt.ID, st))
	must(t, fs.Save(legacyStoreName(4, ProductionDCs[4]), kl, 3))
	must(t, fs.SaveSession(legacyStoreName(4, ProductionDCs[4]), kl.ID, SessionState{Salt: 5, TimeOffset: -time.Second}))
	must(t, fs.SavePrime([]byte{0xc7, 9, 9}))
	must(t, fs.SaveHomeDC(legacyStoreName(4, ProductionDCs[4])))
	must(t, fs.SaveLimits(map[string]float64{"messages.sendMessage": 0.25}))
	return today, legacy
}

// A session file in FileStore's JSON format, opened as a bbolt store, is
// migrated in place: every record (both naming schemes) is the default
// account's, the JSON is kept as FILE.bak, and a key under the old name
// is still found and moved to today's name on first use.
func TestMigrateJSONSessionOnOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "acct.session")
	today, legacy := writeOldSession(t, path)
	orig, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	db := openBolt(t, path)
	if bak, err := os.ReadFile(path + ".bak"); err != nil || !bytes.Equal(bak, orig) {
		t.Fatalf("the JSON is not kept as .bak: %v", err)
	}
	if isJSON, _ := isJSONFile(path); isJSON {
		t.Fatal("the file is still JSON")
	}
	if _, err := os.Stat(path + ".migrating"); !os.IsNotExist(err) {
		t.Fatalf("the temporary file is left: %v", err)
	}
	s := db.Account(DefaultAccount)
	checkMigrated(t, s, today, legacy)

	// Today's name for DC 4 finds the key stored under its address.
	kl := toAuthKey(legacy[:])
	got, salt, ok, err := loadKey(s, storeName(4, telegramServer), legacyStoreName(4, ProductionDCs[4]), discardLogger())
	if err != nil || !ok || got.ID != kl.ID || salt != 5 {
		t.Fatalf("legacy key: %v %d %v %v", got.ID, salt, ok, err)
	}
	if st, ok, _ := s.LoadSession(storeName(4, telegramServer), kl.ID); !ok || st.TimeOffset != -time.Second {
		t.Fatalf("legacy session not copied: %+v %v", st, ok)
	}
	// Its home DC, saved by address, is still Telegram's DC 4.
	c, err := Config{Store: s}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if dc, ok := loadHomeDC(c); !ok || dc != 4 {
		t.Fatalf("home dc %d %v", dc, ok)
	}

	// Opened again: bbolt now, nothing migrated twice.
	must(t, db.Close())
	must(t, os.Remove(path+".bak"))
	checkMigrated(t, openBolt(t, path).Account(DefaultAccount), today, legacy)
	if _, err := os.Stat(path + ".bak"); !os.IsNotExist(err) {
		t.Fatal("migrated again")
	}
}

func checkMigrated(t *testing.T, s *BoltStore, today, legacy [256]byte) {
	t.Helper()
	kt, kl := toAuthKey(today[:]), toAuthKey(legacy[:])
	if got, salt, ok, err := s.Load("2@telegram"); err != nil || !ok || got.ID != kt.ID || salt != 7 {
		t.Fatalf("today's key: %v %d %v %v", got.ID, salt, ok, err)
	}
	st, ok, err := s.LoadSession("2@telegram", kt.ID)
	if err != nil || !ok || st.Salt != 7 || st.TimeOffset != 2*time.Second || len(st.FutureSalts) != 1 || st.FutureSalts[0].ValidUntil.Unix() != 200 {
		t.Fatalf("today's session: %+v %v %v", st, ok, err)
	}
	if got, _, ok, _ := s.Load(legacyStoreName(4, ProductionDCs[4])); !ok || got.ID != kl.ID {
		t.Fatal("the key under its old name")
	}
	if ps, _ := s.LoadPrimes(); len(ps) != 1 || !bytes.Equal(ps[0], []byte{0xc7, 9, 9}) {
		t.Fatalf("primes %v", ps)
	}
	if dc, ok, _ := s.LoadHomeDC(); !ok || dc != legacyStoreName(4, ProductionDCs[4]) {
		t.Fatalf("home dc %q", dc)
	}
	if l, _ := s.LoadLimits(); len(l) != 1 || l["messages.sendMessage"] != 0.25 {
		t.Fatalf("limits %v", l)
	}
}

// MigrateFileStore imports a JSON file into a named account of a fleet
// file, keeping what the account has, and leaves the JSON as it was.
func TestMigrateFileStore(t *testing.T) {
	dir := t.TempDir()
	jsonPath := filepath.Join(dir, "auth-keys.json")
	today, legacy := writeOldSession(t, jsonPath)
	orig, _ := os.ReadFile(jsonPath)
	db := openBolt(t, filepath.Join(dir, "fleet.db"))
	mine := testKey(99)
	s := db.Account("bot1")
	must(t, s.Save("2@telegram", toAuthKey(mine[:]), 1))
	n, err := MigrateFileStore(jsonPath, s)
	if err != nil || n != 4 { // DC 4's key, the prime, the home dc, the limits; not DC 2's
		t.Fatalf("imported %d, %v", n, err)
	}
	if got, _, _, _ := s.Load("2@telegram"); got.ID != toAuthKey(mine[:]).ID {
		t.Fatal("the account's own key was replaced")
	}
	if got, _, ok, _ := s.Load(legacyStoreName(4, ProductionDCs[4])); !ok || got.ID != toAuthKey(legacy[:]).ID {
		t.Fatal("the legacy key was not imported")
	}
	if _, _, ok, _ := db.Account("bot2").Load("2@telegram"); ok {
		t.Fatal("imported into another account")
	}
	if after, _ := os.ReadFile(jsonPath); !bytes.Equal(after, orig) {
		t.Fatal("the JSON file changed")
	}
	fresh := db.Account("bot3")
	if _, err := MigrateFileStore(jsonPath, fresh); err != nil {
		t.Fatal(err)
	}
	checkMigrated(t, fresh, today, legacy)
	if _, err := MigrateFileStore(filepath.Join(dir, "none.json"), fresh); err == nil {
		t.Fatal("a missing file migrated")
	}
}

// A JSON file that is not a key store, or holds a damaged key, is refused
// and left alone.
func TestMigrateRefusesBadJSON(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string]string{
		"garbage.session": "{not json",
		"short.session":   `{"2@telegram":{"key":"AQI=","salt":1}}`,
	} {
		path := filepath.Join(dir, name)
		must(t, os.WriteFile(path, []byte(content), 0o600))
		if db, err := OpenBoltStore(path); err == nil {
			db.Close()
			t.Fatalf("%s opened", name)
		}
		if got, _ := os.ReadFile(path); string(got) != content {
			t.Fatalf("%s was changed", name)
		}
		for _, suffix := range []string{".bak", ".migrating"} {
			if _, err := os.Stat(path + suffix); !os.IsNotExist(err) {
				t.Fatalf("%s%s left: %v", name, suffix, err)
			}
		}
	}
}
