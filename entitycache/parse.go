package entitycache

import (
	"fmt"
	"strconv"
	"strings"
)

// queryKind is what a shorthand asks for.
type queryKind uint8

const (
	qSelf queryKind = iota + 1
	qUsername
	qPhone
	qID // Key says which kind
)

type query struct {
	kind queryKind
	name string // username (lowercased) or phone digits
	key  Key
}

// Bot API ids: a basic group is -id, a channel -(1000000000000 + id).
const channelOffset = 1_000_000_000_000

// parse reads a peer shorthand:
//
//	"me", "self"                     the logged-in account
//	"@name", "name", "t.me/name",
//	"https://t.me/name"              a username
//	"+15551234567"                   a phone number
//	"12345"                          a user id
//	"-100123456789"                  a channel id, Bot API style
//	"-12345"                         a basic group id, Bot API style
func parse(s string) (query, error) {
	orig := s
	s = strings.TrimSpace(s)
	switch strings.ToLower(s) {
	case "me", "self":
		return query{kind: qSelf}, nil
	case "":
		return query{}, &ShorthandError{Input: orig, Reason: "empty"}
	}
	if s[0] == '+' {
		d := digits(s)
		if len(d) < 5 || len(d) > 15 || strings.Trim(s[1:], "0123456789 -()") != "" {
			return query{}, &ShorthandError{Input: orig, Reason: "a phone number is + and 5 to 15 digits"}
		}
		return query{kind: qPhone, name: d}, nil
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		switch {
		case n > 0:
			return query{kind: qID, key: Key{User, n}}, nil
		case n < -channelOffset:
			return query{kind: qID, key: Key{Channel, -n - channelOffset}}, nil
		case n < 0:
			return query{kind: qID, key: Key{Chat, -n}}, nil
		}
		return query{}, &ShorthandError{Input: orig, Reason: "0 is not an id"}
	}
	name := s
	for _, p := range []string{"https://", "http://"} {
		if strings.HasPrefix(strings.ToLower(name), p) {
			name = name[len(p):]
		}
	}
	for _, host := range []string{"t.me/", "telegram.me/", "telegram.dog/"} {
		if strings.HasPrefix(strings.ToLower(name), host) {
			name = name[len(host):]
			if i := strings.IndexAny(name, "/?#"); i >= 0 {
				name = name[:i]
			}
		}
	}
	name = strings.TrimPrefix(name, "@")
	if err := checkUsername(name); err != nil {
		return query{}, &ShorthandError{Input: orig, Reason: err.Error()}
	}
	return query{kind: qUsername, name: strings.ToLower(name)}, nil
}

// checkUsername applies Telegram's rules: 4 to 32 characters of a–z, 0–9
// and underscores, starting with a letter, not ending with an underscore.
// Names a user can set have 5 or more; 4-character ones are collectible
// usernames sold on Fragment.
func checkUsername(n string) error {
	if len(n) < 4 || len(n) > 32 {
		return fmt.Errorf("a username has 4 to 32 characters, %q has %d", n, len(n))
	}
	for i, c := range []byte(n) {
		letter := (c|0x20) >= 'a' && (c|0x20) <= 'z'
		switch {
		case i == 0 && !letter:
			return fmt.Errorf("a username starts with a letter, %q does not", n)
		case !letter && !(c >= '0' && c <= '9') && c != '_':
			return fmt.Errorf("a username has only letters, digits and underscores; %q has %q", n, c)
		}
	}
	if n[len(n)-1] == '_' {
		return fmt.Errorf("a username does not end with an underscore: %q", n)
	}
	return nil
}
