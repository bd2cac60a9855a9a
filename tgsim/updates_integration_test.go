package tgsim_test

import (
	"testing"

	"github.com/gotd/td/bin"
	"github.com/gotd/td/tg"

	"github.com/tlsched/tlsched/tgsim"
)

func diff(t *testing.T, c *rawClient, req *tg.UpdatesGetDifferenceRequest) tg.UpdatesDifferenceClass {
	t.Helper()
	var box tg.UpdatesDifferenceBox
	c.ok(c.call(req), &box)
	return box.Difference
}

// TestUpdatesPushAndDifference: a message another user sends the bot is
// pushed to the bot's connected session as updates{updateNewMessage} with
// the next pts, in a content message the server sends on its own; the
// bot's own sends take pts too; a session on another DC gets no push; an update lost to Faults.DropUpdates is
// still in updates.getDifference, which answers differenceEmpty,
// differenceSlice (pts_total_limit) and differenceTooLong as Telegram does.
func TestUpdatesPushAndDifference(t *testing.T) {
	t.Parallel()
	srv := startSim(t, tgsim.Config{World: tgsim.WorldConfig{Users: 2}, Flood: tgsim.FloodConfig{Off: true}})
	c := loggedIn(t, srv)
	bot, user := srv.Bot(), srv.Users()[0]

	var st tg.UpdatesState
	c.ok(c.call(&tg.UpdatesGetStateRequest{}), &st)
	p0 := st.Pts
	// A connection of the bot on another DC: updates go to the home DC's
	// sessions only.
	other := dialRaw(t, srv, 1)
	other.init()

	if _, err := srv.SendAs(user.ID, bot.ID, "hello"); err != nil {
		t.Fatal(err)
	}
	m := c.next("pushed updates", ofType(tg.UpdatesTypeID))
	if m.id&3 != 3 || m.seqno&1 != 1 {
		t.Errorf("pushed update msg_id %d seqno %d: want msg_id ≡ 3 mod 4 (not an answer) and an odd seqno (content)", m.id, m.seqno)
	}
	var u tg.Updates
	if err := u.Decode(&bin.Buffer{Buf: m.body}); err != nil {
		t.Fatal(err)
	}
	nm := u.Updates[0].(*tg.UpdateNewMessage)
	msg := nm.Message.(*tg.Message)
	if nm.Pts != p0+1 || nm.PtsCount != 1 || msg.Message != "hello" || msg.PeerID.(*tg.PeerUser).UserID != user.ID || len(u.Users) != 1 || u.Users[0].(*tg.User).ID != user.ID {
		t.Fatalf("pushed %+v with message %+v", nm, msg)
	}

	peer := resolve(t, c, user.Username).Users[1].(*tg.User)
	var sent tg.UpdatesBox
	c.ok(c.call(&tg.MessagesSendMessageRequest{Peer: &tg.InputPeerUser{UserID: peer.ID, AccessHash: peer.AccessHash}, Message: "hi back", RandomID: 1}), &sent)
	if s := sent.Updates.(*tg.UpdateShortSentMessage); s.Pts != p0+2 {
		t.Fatalf("sendMessage pts %d, want %d", s.Pts, p0+2)
	}

	srv.SetFaults(tgsim.Faults{DropUpdates: 1})
	if _, err := srv.SendAs(user.ID, bot.ID, "missed"); err != nil {
		t.Fatal(err)
	}
	srv.SetFaults(tgsim.Faults{})
	if n := srv.Counters(); n.UpdatesDropped != 1 || n.UpdatesPushed != 1 {
		t.Fatalf("updates pushed %d dropped %d, want 1 and 1", n.UpdatesPushed, n.UpdatesDropped)
	}

	d, ok := diff(t, c, &tg.UpdatesGetDifferenceRequest{Pts: p0, Date: st.Date}).(*tg.UpdatesDifference)
	if !ok || len(d.NewMessages) != 3 || d.State.Pts != p0+3 {
		t.Fatalf("getDifference from %d: %+v", p0, d)
	}
	for i, want := range []string{"hello", "hi back", "missed"} {
		if got := d.NewMessages[i].(*tg.Message).Message; got != want {
			t.Errorf("difference message %d %q, want %q", i, got, want)
		}
	}
	if _, ok := diff(t, c, &tg.UpdatesGetDifferenceRequest{Pts: p0 + 3}).(*tg.UpdatesDifferenceEmpty); !ok {
		t.Error("getDifference at the current pts is not differenceEmpty")
	}
	req := &tg.UpdatesGetDifferenceRequest{Pts: p0}
	req.SetPtsTotalLimit(2)
	sl, ok := diff(t, c, req).(*tg.UpdatesDifferenceSlice)
	if !ok || len(sl.NewMessages) != 2 || sl.IntermediateState.Pts != p0+2 {
		t.Fatalf("getDifference with pts_total_limit 2: %+v", sl)
	}

	srv.SetFaults(tgsim.Faults{DropUpdates: 1})
	for range 1000 {
		if _, err := srv.SendAs(user.ID, bot.ID, "flood"); err != nil {
			t.Fatal(err)
		}
	}
	srv.SetFaults(tgsim.Faults{})
	if tl, ok := diff(t, c, &tg.UpdatesGetDifferenceRequest{Pts: p0}).(*tg.UpdatesDifferenceTooLong); !ok || tl.Pts != p0+1003 {
		t.Fatalf("getDifference far behind: %+v", tl)
	}
	c.ok(c.call(&tg.UpdatesGetStateRequest{}), &st)
	if st.Pts != p0+1003 {
		t.Errorf("getState pts %d, want %d", st.Pts, p0+1003)
	}
}

// TestSendAsBadUsers: SendAs names two different users of the world.
func TestSendAsBadUsers(t *testing.T) {
	t.Parallel()
	srv := startSim(t, tgsim.Config{})
	if _, err := srv.SendAs(srv.Bot().ID, srv.Bot().ID, "x"); err == nil {
		t.Error("SendAs to oneself succeeded")
	}
	if _, err := srv.SendAs(42, srv.Bot().ID, "x"); err == nil {
		t.Error("SendAs from nobody succeeded")
	}
}
