package mtproto

import (
	"errors"

	"github.com/gotd/td/bin"
	"github.com/gotd/td/tg"
)

const invokeAfterMsgTypeID = tg.InvokeAfterMsgRequestTypeID

// encoderObject lets a request ride inside gotd's generated wrappers, which
// want a bin.Object. Wrappers are only ever encoded here.
type encoderObject struct{ bin.Encoder }

func (encoderObject) Decode(*bin.Buffer) error {
	return errors.New("mtproto: wrapped request is encode-only")
}

// initWrapper wraps the first call of a session. MTProto, "Calling methods":
// the first query on a connection must be invokeWithLayer(layer,
// initConnection(params, query)).
func (s *Session) initWrapper(q bin.Encoder) bin.Encoder {
	i := s.cfg.Init
	return &tg.InvokeWithLayerRequest{
		Layer: s.cfg.Layer,
		Query: &tg.InitConnectionRequest{
			APIID:          i.APIID,
			DeviceModel:    i.DeviceModel,
			SystemVersion:  i.SystemVersion,
			AppVersion:     i.AppVersion,
			SystemLangCode: i.SystemLangCode,
			LangPack:       i.LangPack,
			LangCode:       i.LangCode,
			Query:          encoderObject{q},
		},
	}
}
