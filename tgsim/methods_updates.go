package tgsim

import (
	"github.com/gotd/td/bin"
	"github.com/gotd/td/tg"
)

var updatesMethods = []method{
	handle(atHome, perMethod, (*world).getState),
	handle(atHome, perMethod, (*world).getDifference),
}

func (w *world) getState(r *request, _ *tg.UpdatesGetStateRequest) (bin.Encoder, error) {
	return &tg.UpdatesState{Pts: w.acct(r.acct).pts, Date: int(r.now.Unix()), Seq: 0}, nil
}
