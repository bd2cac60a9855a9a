package entitycache

import "testing"

func TestCanonical(t *testing.T) {
	for in, want := range map[string]string{
		"@Alice": "@alice", "alice": "@alice", "https://t.me/Alice": "@alice", "t.me/s/alice": "@alice",
		"Self": "me", "me": "me",
		"+1 555 123-4567": "+15551234567", "t.me/+15551234567": "+15551234567",
		"12345": "user:12345", "-12345": "chat:12345", "-1001234567890": "channel:1234567890", "t.me/c/1234567890/5": "channel:1234567890",
		"t.me/joinchat/AbC-d_": "invite:AbC-d_", "t.me/+AbCdef": "invite:AbCdef",
	} {
		if got, ok := Canonical(in); !ok || got != want {
			t.Errorf("Canonical(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
	if got, ok := Canonical("@a b"); ok || got != "@a b" {
		t.Errorf("Canonical of a bad shorthand = %q, %v; want it as it is, false", got, ok)
	}
}
