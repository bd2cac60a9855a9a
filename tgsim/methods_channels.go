package tgsim

import (
	"github.com/gotd/td/bin"
	"github.com/gotd/td/tg"
)

var channelsMethods = []method{
	handle(atHome, perMethod, (*world).getChannels),
}

func (w *world) getChannels(r *request, req *tg.ChannelsGetChannelsRequest) (bin.Encoder, error) {
	out := &tg.MessagesChats{}
	for _, in := range req.ID {
		c, err := w.inputChannel(r.acct, in, botMayOmitHash)
		if err != nil {
			return nil, err
		}
		out.Chats = append(out.Chats, w.tgChat(r.acct, c))
	}
	return out, nil
}
