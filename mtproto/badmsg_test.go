package mtproto

import (
	"testing"

	"github.com/tlsched/tlsched/mtproto/spec"
)

// TestBadMsgRules checks the table in badmsg.go: every code spec names has
// exactly one row with MTProto's description, and a row resends with a
// reason exactly when its action resends.
func TestBadMsgRules(t *testing.T) {
	want := map[int]string{
		spec.BadMsgIDTooLow:         "msg_id too low",
		spec.BadMsgIDTooHigh:        "msg_id too high",
		spec.BadMsgIDNotDivisible:   "msg_id not divisible by 4",
		spec.BadMsgContainerIDDup:   "container msg_id equals an earlier one",
		spec.BadMsgTooOld:           "message too old",
		spec.BadMsgSeqNoLow:         "msg_seqno too low",
		spec.BadMsgSeqNoHigh:        "msg_seqno too high",
		spec.BadMsgSeqNoEvenWanted:  "even msg_seqno expected",
		spec.BadMsgSeqNoOddWanted:   "odd msg_seqno expected",
		spec.BadMsgServerSalt:       "incorrect server salt",
		spec.BadMsgInvalidContainer: "invalid container",
	}
	seen := map[int]bool{}
	for _, r := range badMsgRules {
		if seen[r.code] {
			t.Errorf("code %d has two rows", r.code)
		}
		seen[r.code] = true
		if r.action == 0 {
			t.Errorf("code %d has no action", r.code)
		}
		if resends := r.action != badMsgFail; resends != (r.reason != "") {
			t.Errorf("code %d: action %d with resend reason %q", r.code, r.action, r.reason)
		}
	}
	for code, meaning := range want {
		if !seen[code] {
			t.Errorf("code %d has no row", code)
		}
		if got := (&BadMsgError{Code: code}).Meaning(); got != meaning {
			t.Errorf("code %d means %q, want %q", code, got, meaning)
		}
	}
	if len(badMsgRules) != len(want) {
		t.Errorf("%d rows, spec names %d codes", len(badMsgRules), len(want))
	}
	if got := (&BadMsgError{Code: 99}).Meaning(); got != "unknown code" {
		t.Errorf("code 99 means %q", got)
	}
}
