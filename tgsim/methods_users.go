package tgsim

import (
	"github.com/gotd/td/bin"
	"github.com/gotd/td/tg"
)

var usersMethods = []method{
	handle(atHome, perMethod, (*world).getUsers),
	handle(atHome, perMethod, (*world).getFullUser),
}

func (w *world) getUsers(r *request, req *tg.UsersGetUsersRequest) (bin.Encoder, error) {
	out := &tg.UserClassVector{}
	for _, in := range req.ID {
		u, err := w.inputUser(r.acct, in, botMayOmitHash)
		if err != nil {
			return nil, err
		}
		out.Elems = append(out.Elems, w.tgUser(r.acct, u))
	}
	return out, nil
}

func (w *world) getFullUser(r *request, req *tg.UsersGetFullUserRequest) (bin.Encoder, error) {
	u, err := w.inputUser(r.acct, req.ID, exactHash)
	if err != nil {
		return nil, err
	}
	full := tg.UserFull{ID: u.id, Settings: tg.PeerSettings{}, NotifySettings: tg.PeerNotifySettings{}, About: "A tgsim account"}
	return &tg.UsersUserFull{FullUser: full, Users: []tg.UserClass{w.tgUser(r.acct, u)}}, nil
}
