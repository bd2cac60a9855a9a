package entitycache

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/gotd/td/tg"
	bolt "go.etcd.io/bbolt"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestParse(t *testing.T) {
	ok := map[string]query{
		"me":                           {kind: qSelf},
		" Self ":                       {kind: qSelf},
		"@Durov":                       {kind: qUsername, name: "durov"},
		"durov":                        {kind: qUsername, name: "durov"},
		"t.me/durov":                   {kind: qUsername, name: "durov"},
		"https://t.me/durov":           {kind: qUsername, name: "durov"},
		"https://telegram.me/durov/12": {kind: qUsername, name: "durov"},
		"+1 (555) 123-4567":            {kind: qPhone, name: "15551234567"},
		"12345":                        {kind: qID, key: Key{User, 12345}},
		"-1001234567890":               {kind: qID, key: Key{Channel, 1234567890}},
		"-4567":                        {kind: qID, key: Key{Chat, 4567}},
	}
	for in, want := range ok {
		got, err := parse(in)
		if err != nil || got != want {
			t.Errorf("parse(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "abc", "1abcde", "abcde_", "abc def", "@" + string(make([]byte, 40)), "+12", "+12ab5678", "0", "t.me/", "ab-cdef"} {
		var se *ShorthandError
		if _, err := parse(in); !errors.As(err, &se) {
			t.Errorf("parse(%q): %v, want a *ShorthandError", in, err)
		}
	}
}

func TestRecordRoundTrip(t *testing.T) {
	e := Entity{Kind: User, ID: 42, AccessHash: -7, Min: true, Bot: true, Usernames: []string{"someone", "abcd"}, Phone: "15551234567", Via: MessageRef{Key{Channel, 5}, 9}, MigratedTo: 0}
	got, err := unmarshal(e.marshal())
	if err != nil || !got.equal(e) {
		t.Fatalf("round trip: %+v, %v", got, err)
	}
	b := e.marshal()
	for _, bad := range [][]byte{nil, b[:10], b[:len(b)-1], append(b, 0), append([]byte{9}, b[1:]...)} {
		if _, err := unmarshal(bad); err == nil {
			t.Errorf("malformed record %x accepted", bad)
		}
	}
}

func newMem(t *testing.T) (*Cache, *MemoryStore) {
	st := NewMemoryStore()
	c, err := Open(Config{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, st
}

func user(id, hash int64, name string) *tg.User {
	return &tg.User{ID: id, AccessHash: hash, Username: name}
}

func TestLearningRules(t *testing.T) {
	ctx := context.Background()
	c, st := newMem(t)
	peer := func(s string) tg.InputPeerClass {
		t.Helper()
		p, err := c.InputPeer(ctx, s)
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		return p
	}

	c.Learn(&tg.ContactsResolvedPeer{Users: []tg.UserClass{user(1, 100, "Alice_A")}, Chats: []tg.ChatClass{
		&tg.Channel{ID: 5, AccessHash: 500, Username: "news_room", Photo: &tg.ChatPhotoEmpty{}},
		&tg.Chat{ID: 6, Photo: &tg.ChatPhotoEmpty{}},
	}})
	if p := peer("@alice_a").(*tg.InputPeerUser); p.UserID != 1 || p.AccessHash != 100 {
		t.Fatalf("@alice_a: %+v", p)
	}
	if p := peer("https://t.me/NEWS_ROOM").(*tg.InputPeerChannel); p.ChannelID != 5 || p.AccessHash != 500 {
		t.Fatalf("channel: %+v", p)
	}
	if p := peer("-1000000000005").(*tg.InputPeerChannel); p.AccessHash != 500 {
		t.Fatalf("channel by Bot API id: %+v", p)
	}
	if p := peer("-6").(*tg.InputPeerChat); p.ChatID != 6 {
		t.Fatalf("chat: %+v", p)
	}
	if _, ok := peer("me").(*tg.InputPeerSelf); !ok {
		t.Fatal("me")
	}
	var ke *KindError
	if _, err := c.InputChannel(ctx, "@alice_a"); !errors.As(err, &ke) || ke.Got != User {
		t.Fatalf("a user as InputChannel: %v", err)
	}

	// A min constructor does not replace a full hash.
	c.Learn(&tg.User{ID: 1, AccessHash: 999, Min: true, Username: "alice_a"})
	if p := peer("1").(*tg.InputPeerUser); p.AccessHash != 100 {
		t.Fatalf("min overwrote the full hash: %+v", p)
	}
	// But a full one replaces a min one.
	c.Learn(&tg.User{ID: 2, AccessHash: 7, Min: true, Username: "bob_b"})
	c.Learn(user(2, 8, "bob_b"))
	if p := peer("@bob_b").(*tg.InputPeerUser); p.AccessHash != 8 {
		t.Fatalf("full after min: %+v", p)
	}

	// The username moves to user 3: user 1 loses it.
	c.Learn(user(3, 300, "alice_a"))
	if p := peer("@alice_a").(*tg.InputPeerUser); p.UserID != 3 {
		t.Fatalf("moved username still maps to %d", p.UserID)
	}
	if e, _, _ := c.get(Key{User, 1}); len(e.Usernames) != 0 {
		t.Fatalf("old owner kept the name: %+v", e)
	}
	// User 3 drops it: the name resolves to nothing (no invoker: not found).
	c.Learn(user(3, 300, ""))
	var nf *NotFoundError
	if _, err := c.InputPeer(ctx, "@alice_a"); !errors.As(err, &nf) {
		t.Fatalf("dropped username: %v", err)
	}

	// All of it reaches the store in one batch per flush.
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
	if n, _ := st.Len(); n != 5 {
		t.Fatalf("store holds %d entities, want 5", n)
	}
	if _, ok, _ := st.Username("alice_a"); ok {
		t.Fatal("the store kept the dropped username")
	}
	if w := st.Writes(); w != 1 {
		t.Fatalf("%d store writes for one flush", w)
	}
}

func TestBatchedWrites(t *testing.T) {
	c, st := newMem(t)
	var users []tg.UserClass
	for i := range 5000 {
		users = append(users, user(int64(i+1), int64(i), ""))
	}
	c.Learn(users)
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
	if n, _ := st.Len(); n != 5000 || st.Writes() > 2 {
		t.Fatalf("5000 entities took %d writes (stored %d); want one transaction, not one per entity", st.Writes(), n)
	}
}

func TestBoltPersistsAndRefusesForeignFiles(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sub", "entities.db")
	c, err := Open(Config{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	c.Learn(user(1, 100, "alice_a"))
	c.Learn(&tg.ContactsResolvedPeer{Users: []tg.UserClass{&tg.User{ID: 2, AccessHash: 5, Phone: "+1 555 0000"}}})
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("file mode: %v %v", fi.Mode(), err)
	}
	c, err = Open(Config{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	p, err := c.InputPeer(context.Background(), "@alice_a")
	if err != nil || p.(*tg.InputPeerUser).AccessHash != 100 {
		t.Fatalf("after reopen: %v %v", p, err)
	}
	if p, err := c.InputPeer(context.Background(), "+15550000"); err != nil || p.(*tg.InputPeerUser).UserID != 2 {
		t.Fatalf("phone after reopen: %v %v", p, err)
	}
	c.Close()

	// A corrupt file and a bbolt file of something else are reported with
	// their path and left alone.
	junk := filepath.Join(dir, "junk.db")
	os.WriteFile(junk, []byte("this is not a database, it is a text file that happens to be long enough to read"), 0o600)
	other := filepath.Join(dir, "other.db")
	db, err := bolt.Open(other, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	db.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucket([]byte("something")); return err })
	db.Close()
	for _, f := range []string{junk, other} {
		before, _ := os.ReadFile(f)
		_, err := Open(Config{Path: f})
		var se *StoreError
		if !errors.As(err, &se) || se.Path != f {
			t.Fatalf("%s: %v, want a *StoreError with the path", f, err)
		}
		after, _ := os.ReadFile(f)
		if string(before) != string(after) {
			t.Fatalf("%s was modified", f)
		}
	}
}
