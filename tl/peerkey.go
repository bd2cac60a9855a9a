package tl

import (
	"strconv"

	"github.com/gotd/td/tg"
)

// PeerKey names the chat an input peer stands for, the same way whichever
// input form names it: "self", "user:ID", "chat:ID", "channel:ID"; "" for
// none (inputPeerEmpty). Slow-mode and pacing gates are kept by it.
func PeerKey(p tg.InputPeerClass) string {
	switch p := p.(type) {
	case *tg.InputPeerChannel:
		return idKey("channel:", p.ChannelID)
	case *tg.InputPeerChannelFromMessage:
		return idKey("channel:", p.ChannelID)
	case *tg.InputPeerChat:
		return idKey("chat:", p.ChatID)
	case *tg.InputPeerUser:
		return idKey("user:", p.UserID)
	case *tg.InputPeerUserFromMessage:
		return idKey("user:", p.UserID)
	case *tg.InputPeerSelf:
		return "self"
	}
	return ""
}

// ChannelKey is PeerKey for an input channel: "channel:ID", or "" for
// inputChannelEmpty.
func ChannelKey(c tg.InputChannelClass) string {
	switch c := c.(type) {
	case *tg.InputChannel:
		return idKey("channel:", c.ChannelID)
	case *tg.InputChannelFromMessage:
		return idKey("channel:", c.ChannelID)
	}
	return ""
}

func idKey(kind string, id int64) string {
	var b [32]byte
	return string(strconv.AppendInt(append(b[:0], kind...), id, 10))
}
