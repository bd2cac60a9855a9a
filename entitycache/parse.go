package entitycache

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// queryKind is what a shorthand asks for.
type queryKind uint8

const (
	qSelf queryKind = iota + 1
	qUsername
	qPhone
	qID     // Key says which kind
	qInvite // name is an invite link's hash
)

type query struct {
	kind queryKind
	name string // username (lowercased), phone digits or invite hash
	key  Key
}

// Bot API / TDLib dialog ids (TDLib td/telegram/DialogId.cpp, ChatId.h,
// ChannelId.h, UserId.h): a user is 1 … 2^40-1; a basic group -id, down to
// -999999999999; a channel -(1000000000000 + id) for id 1 …
// 1000000000000 - 2^31; a secret chat -2000000000000 + its int32 id.
const (
	channelOffset = 1_000_000_000_000
	maxUserID     = 1<<40 - 1
	maxChatID     = 999_999_999_999
	maxChannelID  = 1_000_000_000_000 - 1<<31
	zeroSecretID  = -2_000_000_000_000
)

// parse reads a peer shorthand:
//
//	"me", "self"                     the logged-in account
//	"@name", "name", "t.me/name",
//	"https://t.me/name", "t.me/s/name" a username (4 to 32 characters)
//	"+15551234567", "t.me/+15551234567" a phone number
//	"t.me/joinchat/HASH", "t.me/+HASH" an invite link
//	"t.me/c/ID", "t.me/c/ID/MSG"     a channel by id (a message link's chat)
//	"12345"                          a user id
//	"-100123456789"                  a channel id, Bot API style
//	"-12345"                         a basic group id, Bot API style
//
// A message id in a link is ignored: the shorthand names its chat. Ids
// outside the ranges above (a secret chat's -2000000000000 + id, say) are
// refused.
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
		return parsePhone(orig, s)
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return parseID(orig, n)
	}
	name := s
	for _, p := range []string{"https://", "http://"} {
		if strings.HasPrefix(strings.ToLower(name), p) {
			name = name[len(p):]
		}
	}
	for _, host := range []string{"t.me/", "telegram.me/", "telegram.dog/"} {
		if !strings.HasPrefix(strings.ToLower(name), host) {
			continue
		}
		path := name[len(host):]
		if i := strings.IndexAny(path, "?#"); i >= 0 {
			path = path[:i]
		}
		parts := strings.Split(strings.Trim(path, "/"), "/")
		switch {
		case parts[0] == "joinchat":
			hash := ""
			if len(parts) >= 2 {
				hash = parts[1]
			}
			return parseInvite(orig, hash)
		case strings.HasPrefix(parts[0], "+"):
			if strings.Trim(parts[0][1:], "0123456789") == "" {
				return parsePhone(orig, parts[0])
			}
			return parseInvite(orig, parts[0][1:])
		case len(parts) >= 2 && parts[0] == "s":
			name = parts[1] // a channel's public preview
		case len(parts) >= 2 && parts[0] == "c":
			id, err := strconv.ParseInt(parts[1], 10, 64)
			if err != nil || id <= 0 || id > maxChannelID {
				return query{}, &ShorthandError{Input: orig, Reason: fmt.Sprintf("t.me/c/ID wants a channel id from 1 to %d", int64(maxChannelID))}
			}
			return query{kind: qID, key: Key{Channel, id}}, nil
		default:
			name = parts[0]
		}
		break
	}
	name = strings.TrimPrefix(name, "@")
	if err := checkUsername(name); err != nil {
		return query{}, &ShorthandError{Input: orig, Reason: err.Error()}
	}
	return query{kind: qUsername, name: strings.ToLower(name)}, nil
}

func parsePhone(orig, s string) (query, error) {
	d := digits(s)
	if len(d) < 5 || len(d) > 15 || strings.Trim(s[1:], "0123456789 -()") != "" {
		return query{}, &ShorthandError{Input: orig, Reason: "a phone number is + and 5 to 15 digits"}
	}
	return query{kind: qPhone, name: d}, nil
}

// parseInvite checks an invite link's hash: URL-safe base64 characters.
func parseInvite(orig, hash string) (query, error) {
	if hash == "" || len(hash) > 64 || strings.Trim(hash, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") != "" {
		return query{}, &ShorthandError{Input: orig, Reason: "an invite link's hash is letters, digits, - and _"}
	}
	return query{kind: qInvite, name: hash}, nil
}

func parseID(orig string, n int64) (query, error) {
	switch {
	case n > 0 && n <= maxUserID:
		return query{kind: qID, key: Key{User, n}}, nil
	case n < 0 && n >= -maxChatID:
		return query{kind: qID, key: Key{Chat, -n}}, nil
	case n < -channelOffset && n >= -channelOffset-maxChannelID:
		return query{kind: qID, key: Key{Channel, -n - channelOffset}}, nil
	case n == 0:
		return query{}, &ShorthandError{Input: orig, Reason: "0 is not an id"}
	case n != zeroSecretID && n >= zeroSecretID+math.MinInt32 && n <= zeroSecretID+math.MaxInt32:
		return query{}, &ShorthandError{Input: orig, Reason: "a secret chat's id (TDLib's scheme): secret chats have no InputPeer"}
	}
	return query{}, &ShorthandError{Input: orig, Reason: "outside the id ranges of users, basic groups and channels"}
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
