package entitycache

import "fmt"

// Canonical returns one spelling for the peer shorthands that name the
// same peer without a lookup (parse's forms): "@Alice", "alice" and
// "https://t.me/alice" are "@alice"; "self" is "me"; a phone is "+" and its
// digits; an id is "user:ID", "chat:ID" or "channel:ID" ("-100123" is
// "channel:123"); an invite link is "invite:HASH". ok is false, and s is
// returned as it is, for a shorthand parse refuses. A username and the id
// of the same peer stay two spellings: telling needs a lookup.
func Canonical(s string) (c string, ok bool) {
	q, err := parse(s)
	if err != nil {
		return s, false
	}
	switch q.kind {
	case qSelf:
		return "me", true
	case qUsername:
		return "@" + q.name, true
	case qPhone:
		return "+" + q.name, true
	case qID:
		return fmt.Sprintf("%s:%d", q.key.Kind, q.key.ID), true
	case qInvite:
		return "invite:" + q.name, true
	}
	return s, false
}
