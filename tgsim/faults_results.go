package tgsim

import (
	"math/rand/v2"

	"github.com/gotd/td/bin"
	"github.com/gotd/td/mt"
	"github.com/gotd/td/proto"
)

// answer sends the rpc_result of a finished call, unless a fault loses it
// (Faults.DropResults), announces it with msg_detailed_info instead
// (Faults.DetailedInfo), or the session was forgotten. s.mu is held.
func (s *session) answer(reqMsgID int64, res bin.Encoder) {
	srv := s.srv
	f := srv.faults.Load()
	switch {
	case s.forgotten:
		srv.count.droppedResults.Add(1)
	case f.DropResults > 0 && rand.Float64() < f.DropResults:
		srv.count.droppedResults.Add(1)
	case f.DetailedInfo > 0 && rand.Float64() < f.DetailedInfo:
		s.announce(reqMsgID, s.encodeResult(reqMsgID, res))
	default:
		s.queueResult(reqMsgID, res)
	}
}

// announce gives an answer a server msg_id without sending it and tells
// the client with msg_detailed_info (MTProto "Service Messages about
// Messages": extended voluntary communication of status of one message);
// the answer is kept for msg_resend_req{answer_msg_id}. s.mu is held.
func (s *session) announce(reqMsgID int64, m outMsg) {
	srv := s.srv
	id := s.ids.New(proto.MessageServerResponse)
	s.remember(id, m)
	srv.count.detailedInfos.Add(1)
	s.queue(&mt.MsgDetailedInfo{MsgID: reqMsgID, AnswerMsgID: id, Bytes: len(m.body), Status: 0}, serviceMsg)
}
