package entitycache

import "fmt"

// ShorthandError is a peer shorthand that cannot name anything: a malformed
// username, phone number or id.
type ShorthandError struct {
	Input  string
	Reason string
}

func (e *ShorthandError) Error() string {
	return fmt.Sprintf("peer %q: %s", e.Input, e.Reason)
}

// NotFoundError says a peer does not exist or cannot be reached: the server
// answered USERNAME_NOT_OCCUPIED, PHONE_NOT_OCCUPIED or an invalid id, or a
// basic group id is not known. Err is the server's error, if any.
type NotFoundError struct {
	Input string
	Err   error
}

func (e *NotFoundError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("peer %q: not found: %v", e.Input, e.Err)
	}
	return fmt.Sprintf("peer %q: not found", e.Input)
}

func (e *NotFoundError) Unwrap() error { return e.Err }

// KindError says a peer is of a kind the field cannot take: a user where an
// InputChannel is wanted, say.
type KindError struct {
	Input string
	Want  string // "InputUser", "InputChannel", "InputPeer"
	Got   Kind
}

func (e *KindError) Error() string {
	return fmt.Sprintf("peer %q is a %s, the field wants an %s", e.Input, e.Got, e.Want)
}

// StoreError is a store file that cannot be used: corrupt, or not an entity
// cache. The file is left as it is.
type StoreError struct {
	Path string
	Err  error
}

func (e *StoreError) Error() string {
	return fmt.Sprintf("entity cache %s: %v (the file is left untouched; move it away to start afresh)", e.Path, e.Err)
}

func (e *StoreError) Unwrap() error { return e.Err }

// MigratedError says a basic group was upgraded to a supergroup
// (chat.migrated_to): its id no longer names a chat that takes messages.
// The cache does not silently substitute the channel (a caller may mean the
// old history); it names the channel to use instead, whose access hash it
// has learned with the group, so resolving Channel() costs no call.
type MigratedError struct {
	Input     string
	ChatID    int64 // the basic group
	ChannelID int64 // the supergroup it became
}

func (e *MigratedError) Error() string {
	return fmt.Sprintf("peer %q: basic group %d was upgraded to the supergroup %s; use that id", e.Input, e.ChatID, e.Channel())
}

// Channel is the supergroup's shorthand, Bot API style ("-100…").
func (e *MigratedError) Channel() string { return fmt.Sprint(-channelOffset - e.ChannelID) }

// InviteError says an invite link (t.me/+HASH, t.me/joinchat/HASH) is valid
// but names a chat the account has not joined: messages.checkChatInvite
// answered chatInvite, which has no id or access hash to build a peer of.
// Joining (messages.importChatInvite) is the caller's decision.
type InviteError struct {
	Input string
	Hash  string
	Title string // the chat's title, as the invite shows it
}

func (e *InviteError) Error() string {
	return fmt.Sprintf("peer %q: an invite to %q, which this account has not joined (messages.importChatInvite joins it)", e.Input, e.Title)
}
