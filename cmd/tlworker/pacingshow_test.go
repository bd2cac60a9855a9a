package main

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tlsched/tlsched/actors"
	"github.com/tlsched/tlsched/scheduler"
)

func TestPacingShow(t *testing.T) {
	for r, want := range map[float64]string{0: "0/s", 28.5: "28.5/s", 0.95: "0.95/s", 20.0 / 60 * 0.95: "0.32/s", 1.0 / 60: "1.00/min", -1: "-"} {
		if got := fmtRate(r); got != want {
			t.Errorf("fmtRate(%v) = %q, want %q", r, got, want)
		}
	}
	r := actors.PacingReport{PacerView: scheduler.PacerView{On: true, Account: 22.8, AccountBase: 28.5, Private: 0.95, Group: 20.0 / 60 * 0.95, Queued: 7},
		Sent: 10, Waited: 5 * time.Second, FloodWaits: 2, FloodWaited: 3 * time.Second}
	for i := range 7 {
		r.Chats = append(r.Chats, scheduler.ChatLimit{Chat: fmt.Sprintf("user:%d", i+1), Private: true, Rate: 0.5 + float64(i)/10, Base: 0.95, BurstCut: i == 0})
	}
	name := func(c string) string { return strings.Replace(c, "user:", "@u", 1) }
	if got, want := learnedLimits(r, name), "account 22.8/s, chat @u1 0.50/s (no bursts), chat @u2 0.60/s, chat @u3 0.70/s, chat @u4 0.80/s, chat @u5 0.90/s, and 2 more"; got != want {
		t.Errorf("learnedLimits:\n got %s\nwant %s", got, want)
	}
	if got, want := pacingLine(r, 3.25, name), "paced 3.25/s; limits: account 22.8/s, private chat 0.95/s, group 0.32/s, 7 learned (slowest @u1 0.50/s); 7 waiting their turn; flood waits 2"; got != want {
		t.Errorf("pacingLine:\n got %s\nwant %s", got, want)
	}
	if got, want := pacingShort(r, 3.25), "paced 3.25/s (account 22.8/s), 7 learned, 2 floods"; got != want {
		t.Errorf("pacingShort: %q, want %q", got, want)
	}
	var b bytes.Buffer
	printPacingSummary(&b, r, name)
	if want := "flood waits met: 2 (3.0 s waited); pacing: 10 sends paced (retries included), waiting 0.5 s for their turn on average\nlimits learned: account 22.8/s"; !strings.HasPrefix(b.String(), want) {
		t.Errorf("summary:\n%s\nwant it to start with\n%s", b.String(), want)
	}
	b.Reset()
	printPacingSummary(&b, actors.PacingReport{FloodWaits: 1, FloodWaited: 12 * time.Second}, name)
	if want := "flood waits met: 1 (12 s waited); pacing off (--pacing paces writes below Telegram's limits)\n"; b.String() != want {
		t.Errorf("summary with pacing off: %q", b.String())
	}
	if got := pacingLine(actors.PacingReport{}, 0, name); got != "" {
		t.Errorf("pacingLine with pacing off: %q", got)
	}
	if got := chatNames(nil)("user:5"); got != "user:5" {
		t.Errorf("chatNames(nil) = %q", got)
	}
}
