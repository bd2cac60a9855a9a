package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gotd/td/tg"

	"github.com/tlsched/tlsched/scheduler"
	"github.com/tlsched/tlsched/tgsim"
	"github.com/tlsched/tlsched/tl"
)

// TestService runs the service against tgsim and checks what the server
// stored, not what the service says it did.
func TestService(t *testing.T) {
	srv, err := startTgsim()
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	var out, traces bytes.Buffer
	cfg := tgsimConfig(srv, &out, &traces)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	o, err := run(ctx, cfg)
	t.Logf("output:\n%s", out.String())
	if err != nil {
		t.Fatal(err)
	}
	bot := srv.Bot().ID
	users := srv.Users()
	if len(cfg.Users) != 1000 || o.Notified != 1000 {
		t.Fatalf("notified %d of %d users, want 1000", o.Notified, len(cfg.Users))
	}

	// Every user got the notification once; the first also the parcel and
	// the digest, and neither the alert nor the cancelled message.
	for i, u := range users {
		got := srv.HistoryTexts(bot, &tg.PeerUser{UserID: u.ID})
		want := []string{"Your order has shipped."}
		if i == 0 {
			want = append(want, "Your parcel is out for delivery.", "Today: 1 parcel delivered.")
		}
		if !slices.Equal(got, want) {
			t.Fatalf("@%s's history %q, want %q", u.Username, got, want)
		}
	}

	// The ordered batch: parts 1 and 2 stored in order, 3 refused, 4 never run.
	var group tgsim.Chat
	for _, c := range srv.Chats() {
		if "@"+c.Username == cfg.Group {
			group = c
		}
	}
	if got, want := srv.HistoryTexts(bot, &tg.PeerChannel{ChannelID: group.ID}), []string{
		"Release 2.0, part 1: what's new", "Release 2.0, part 2: how to upgrade",
	}; !slices.Equal(got, want) {
		t.Fatalf("group history %q, want %q", got, want)
	}
	if len(o.Batch) != 4 || !strings.HasPrefix(o.Batch[0], "sent") || !strings.HasPrefix(o.Batch[1], "sent") ||
		!strings.Contains(o.Batch[2], "MESSAGE_EMPTY") || o.Batch[3] != "not run" {
		t.Fatalf("batch outcome %q, want sent, sent, MESSAGE_EMPTY, not run", o.Batch)
	}
	if c := srv.Counters(); c.MessagesStored != 1000+2+2 {
		t.Fatalf("%d messages stored, want 1004", c.MessagesStored)
	}

	// The alert failed on its flood budget, unsent; the digest waited.
	if _, ok := tl.AsFloodWait(o.Alert); !ok || !errors.Is(o.Alert, scheduler.ErrNotSent) {
		t.Fatalf("alert: %v, want a flood wait over budget, not sent", o.Alert)
	}
	if o.Digest != nil {
		t.Fatalf("digest: %v", o.Digest)
	}

	// The cancelled call has its documented error.
	var cancelled *scheduler.CanceledError
	if !errors.As(o.Cancelled, &cancelled) || !errors.Is(o.Cancelled, context.Canceled) || !errors.Is(o.Cancelled, scheduler.ErrNotSent) {
		t.Fatalf("cancelled call: %v (%T), want *scheduler.CanceledError wrapping context.Canceled, not sent", o.Cancelled, o.Cancelled)
	}

	// The spans were exported: every notification is a child of the
	// "notify users" span.
	type span struct {
		Name        string
		SpanContext struct{ SpanID string }
		Parent      struct{ SpanID string }
	}
	var root string
	children := map[string]int{}
	sc := bufio.NewScanner(&traces)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var s span
		if err := json.Unmarshal(sc.Bytes(), &s); err != nil {
			t.Fatalf("span %q: %v", sc.Text(), err)
		}
		if s.Name == "notify users" {
			root = s.SpanContext.SpanID
		}
		if s.Name == "messages.sendMessage" {
			children[s.Parent.SpanID]++
		}
	}
	if root == "" || children[root] != 1000 {
		t.Fatalf("spans: root %q with %d messages.sendMessage children, want 1000 (%v)", root, children[root], children)
	}
}
