package entitycache

import (
	"context"
	"errors"
	"testing"

	"github.com/gotd/td/tg"
)

// TestAllUsernamesIndexed: every active username of a user or channel
// (collectible ones, user.usernames / channel.usernames) resolves from the
// cache; inactive ones do not, and 4-character (Fragment) names parse.
// Before, only user.username was indexed and 4-character names were refused.
func TestAllUsernamesIndexed(t *testing.T) {
	ctx := context.Background()
	c, st := newMem(t)
	c.Learn(&tg.User{ID: 1, AccessHash: 10, Usernames: []tg.Username{
		{Username: "Main_Name", Editable: true, Active: true},
		{Username: "ABCD", Active: true},
		{Username: "sleepy", Active: false},
	}})
	c.Learn(&tg.Channel{ID: 2, AccessHash: 20, Photo: &tg.ChatPhotoEmpty{}, Username: "chan_main",
		Usernames: []tg.Username{{Username: "chan_main", Editable: true, Active: true}, {Username: "wxyz", Active: true}}})
	for in, want := range map[string]int64{"@main_name": 1, "@abcd": 1, "t.me/ABCD": 1, "@chan_main": 2, "wxyz": 2} {
		p, err := c.InputPeer(ctx, in)
		if err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		var id int64
		switch p := p.(type) {
		case *tg.InputPeerUser:
			id = p.UserID
		case *tg.InputPeerChannel:
			id = p.ChannelID
		}
		if id != want {
			t.Fatalf("%s: %v, want id %d", in, p, want)
		}
	}
	var nf *NotFoundError
	if _, err := c.InputPeer(ctx, "@sleepy"); !errors.As(err, &nf) {
		t.Fatalf("an inactive username resolved: %v", err)
	}
	// Dropping one collectible name unmaps that name only.
	c.Learn(&tg.User{ID: 1, AccessHash: 10, Usernames: []tg.Username{{Username: "main_name", Editable: true, Active: true}}})
	if _, err := c.InputPeer(ctx, "@abcd"); !errors.As(err, &nf) {
		t.Fatalf("a dropped collectible name still resolves: %v", err)
	}
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
	if k, ok, _ := st.Username("wxyz"); !ok || k != (Key{Channel, 2}) {
		t.Fatalf("store: wxyz → %v %v", k, ok)
	}
	if _, ok, _ := st.Username("abcd"); ok {
		t.Fatal("store kept the dropped name")
	}
}

// TestPhoneMovesForGood: a number that moved to a new user stays with it
// when the old owner is learned again, changed (without a phone, as
// Telegram shows other people's users). Before, the old owner carried the
// number over and took it back.
func TestPhoneMovesForGood(t *testing.T) {
	ctx := context.Background()
	c, _ := newMem(t)
	c.Learn(&tg.User{ID: 1, AccessHash: 10, Phone: "15550001"})
	c.Learn(&tg.User{ID: 2, AccessHash: 20, Phone: "15550001"})
	c.Learn(&tg.User{ID: 1, AccessHash: 10, Username: "renamed"})
	p, err := c.InputPeer(ctx, "+15550001")
	if err != nil || p.(*tg.InputPeerUser).UserID != 2 {
		t.Fatalf("+15550001 → %v %v, want user 2", p, err)
	}
	// Also once both are only in the store.
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
	c.ents.Purge()
	c.phone.Purge()
	c.Learn(&tg.User{ID: 1, AccessHash: 10, Username: "renamed_again"})
	if p, err := c.InputPeer(ctx, "+15550001"); err != nil || p.(*tg.InputPeerUser).UserID != 2 {
		t.Fatalf("after reload: %v %v, want user 2", p, err)
	}
}

// TestMigratedChat: a basic group upgraded to a supergroup (migrated_to) is
// refused with a *MigratedError naming the channel, which is learned with
// it. Before, "-6" kept resolving to the dead inputPeerChat and the channel
// was unknown.
func TestMigratedChat(t *testing.T) {
	ctx := context.Background()
	c, _ := newMem(t)
	c.Learn(&tg.MessagesChats{Chats: []tg.ChatClass{&tg.Chat{ID: 6, Photo: &tg.ChatPhotoEmpty{}, Deactivated: true,
		MigratedTo: &tg.InputChannel{ChannelID: 70, AccessHash: 7000}}}})
	_, err := c.InputPeer(ctx, "-6")
	var me *MigratedError
	if !errors.As(err, &me) || me.ChannelID != 70 || me.Channel() != "-1000000000070" {
		t.Fatalf("-6: %v, want a *MigratedError naming channel 70", err)
	}
	p, err := c.InputPeer(ctx, me.Channel())
	if err != nil || p.(*tg.InputPeerChannel).AccessHash != 7000 {
		t.Fatalf("the new supergroup: %v %v", p, err)
	}
	// A later full channel is not overwritten by the partial one, and the
	// group learned again without migrated_to stays migrated.
	c.Learn(&tg.Channel{ID: 70, AccessHash: 7000, Username: "upgraded", Photo: &tg.ChatPhotoEmpty{}})
	c.Learn(&tg.MessagesChats{Chats: []tg.ChatClass{&tg.Chat{ID: 6, Photo: &tg.ChatPhotoEmpty{}, MigratedTo: &tg.InputChannel{ChannelID: 70, AccessHash: 7000}}}})
	if p, err := c.InputPeer(ctx, "@upgraded"); err != nil || p.(*tg.InputPeerChannel).ChannelID != 70 {
		t.Fatalf("@upgraded: %v %v", p, err)
	}
	if _, err := c.PeerInput(ctx, &tg.PeerChat{ChatID: 6}); !errors.As(err, &me) {
		t.Fatalf("PeerInput of the old chat: %v", err)
	}
}
