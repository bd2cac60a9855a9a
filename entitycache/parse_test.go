package entitycache

import (
	"context"
	"errors"
	"testing"

	"github.com/gotd/td/bin"
	"github.com/gotd/td/tg"
)

// TestParseLinks: the t.me forms besides t.me/name, and the id ranges.
// Before, t.me/joinchat/HASH was the username "joinchat", t.me/+phone,
// t.me/s/name and t.me/c/ID/MSG were refused or misread, and
// -2000000000123 (a secret chat in TDLib's scheme) parsed as a channel.
func TestParseLinks(t *testing.T) {
	ok := map[string]query{
		"t.me/joinchat/AAAAAEkk2WdoDrB4-Q8-gg": {kind: qInvite, name: "AAAAAEkk2WdoDrB4-Q8-gg"},
		"https://t.me/+AbCd_12-x":              {kind: qInvite, name: "AbCd_12-x"},
		"t.me/+15551234567":                    {kind: qPhone, name: "15551234567"},
		"https://t.me/s/durov":                 {kind: qUsername, name: "durov"},
		"t.me/c/1234567890/55":                 {kind: qID, key: Key{Channel, 1234567890}},
		"https://t.me/c/77":                    {kind: qID, key: Key{Channel, 77}},
		"@abcd":                                {kind: qUsername, name: "abcd"},
		"1099511627775":                        {kind: qID, key: Key{User, 1<<40 - 1}},
		"-999999999999":                        {kind: qID, key: Key{Chat, 999999999999}},
		"-1997852516352":                       {kind: qID, key: Key{Channel, 997852516352}},
	}
	for in, want := range ok {
		got, err := parse(in)
		if err != nil || got != want {
			t.Errorf("parse(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, in := range []string{
		"-2000000000123", // a secret chat (TDLib)
		"-1000000000000", // channel 0
		"-1997852516353", // past the last channel id
		"1099511627776",  // past the last user id
		"t.me/joinchat/", // no hash
		"t.me/+ab!cd",    // not a hash
		"t.me/c/abc/1",   // not an id
		"t.me/c/0",       // not an id
		"abc",            // 3 characters
		"t.me/s/",        // no name
	} {
		var se *ShorthandError
		if q, err := parse(in); !errors.As(err, &se) {
			t.Errorf("parse(%q) = %+v, %v; want a *ShorthandError", in, q, err)
		}
	}
}

// inviteServer answers messages.checkChatInvite with answer.
type inviteServer struct {
	fakeServer
	answer tg.ChatInviteClass
}

func (s *inviteServer) Invoke(ctx context.Context, req bin.Encoder, res bin.Decoder) error {
	if err := s.fakeServer.Invoke(ctx, req, res); err != nil {
		return err
	}
	var b bin.Buffer
	if err := s.answer.Encode(&b); err != nil {
		return err
	}
	return res.Decode(&b)
}

// TestInviteLinks: an invite link resolves through messages.checkChatInvite
// (once: the answer is remembered); an invite to a chat not joined is an
// *InviteError.
func TestInviteLinks(t *testing.T) {
	ctx := context.Background()
	srv := &inviteServer{answer: &tg.ChatInviteAlready{Chat: &tg.Channel{ID: 80, AccessHash: 8000, Photo: &tg.ChatPhotoEmpty{}}}}
	c, err := Open(Config{Invoker: srv})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for range 2 {
		p, err := c.InputPeer(ctx, "t.me/+AbCd_12")
		if err != nil || p.(*tg.InputPeerChannel).AccessHash != 8000 {
			t.Fatalf("invite: %v %v", p, err)
		}
	}
	if n := srv.total(); n != 1 {
		t.Fatalf("%d calls, want one messages.checkChatInvite", n)
	}
	srv.answer = &tg.ChatInvite{Title: "Closed club", Photo: &tg.PhotoEmpty{}}
	var ie *InviteError
	if _, err := c.InputPeer(ctx, "t.me/joinchat/Other"); !errors.As(err, &ie) || ie.Title != "Closed club" {
		t.Fatalf("an invite not joined: %v", err)
	}
	// An invite to a group since upgraded names the supergroup.
	srv.answer = &tg.ChatInviteAlready{Chat: &tg.Chat{ID: 6, Photo: &tg.ChatPhotoEmpty{}, MigratedTo: &tg.InputChannel{ChannelID: 70, AccessHash: 7}}}
	var me *MigratedError
	if _, err := c.InputPeer(ctx, "t.me/+Upgraded"); !errors.As(err, &me) || me.ChannelID != 70 {
		t.Fatalf("an invite to an upgraded group: %v", err)
	}
}
