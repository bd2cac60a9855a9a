package entitycache

import (
	"testing"

	"github.com/gotd/td/tg"
)

// Lookup shows what the cache learned, and nothing for what it did not.
func TestLookup(t *testing.T) {
	c, _ := newMem(t)
	c.Learn(&tg.ContactsResolvedPeer{Users: []tg.UserClass{user(1, 100, "Alice_A")}, Chats: []tg.ChatClass{
		&tg.Channel{ID: 5, AccessHash: 500, Username: "news_room", Photo: &tg.ChatPhotoEmpty{}},
	}})
	if e, ok := c.Lookup(Key{User, 1}); !ok || len(e.Usernames) != 1 || e.Usernames[0] != "alice_a" {
		t.Fatalf("user 1: %+v, %v", e, ok)
	}
	if e, ok := c.Lookup(Key{Channel, 5}); !ok || e.Usernames[0] != "news_room" {
		t.Fatalf("channel 5: %+v, %v", e, ok)
	}
	if _, ok := c.Lookup(Key{User, 2}); ok {
		t.Fatal("user 2 was never learned")
	}
}
