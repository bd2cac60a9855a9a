package tl

import (
	"strconv"

	"github.com/gotd/td/bin"
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

// RequestPeer names the chat a request is about, for pacing and slow-mode
// gates: the chat it posts to (ToPeer of messages.forwardMessages), else
// its Peer, else its Channel (channels.*), as PeerKey names it. A *Request
// says so itself (Request.Peer), the same way.
func RequestPeer(req bin.Encoder) string {
	if r, ok := req.(*Request); ok {
		return r.Peer
	}
	if g, ok := req.(interface{ GetToPeer() tg.InputPeerClass }); ok {
		if k := PeerKey(g.GetToPeer()); k != "" {
			return k
		}
	}
	if g, ok := req.(interface{ GetPeer() tg.InputPeerClass }); ok {
		if k := PeerKey(g.GetPeer()); k != "" {
			return k
		}
	}
	if g, ok := req.(interface{ GetChannel() tg.InputChannelClass }); ok {
		return ChannelKey(g.GetChannel())
	}
	return ""
}

// PaidFloodskip reports whether a request pays to skip flood limits
// (allow_paid_floodskip on messages.sendMessage and its kin).
func PaidFloodskip(req bin.Encoder) bool {
	if r, ok := req.(*Request); ok {
		return r.PaidFloodskip
	}
	g, ok := req.(interface{ GetAllowPaidFloodskip() bool })
	return ok && g.GetAllowPaidFloodskip()
}
