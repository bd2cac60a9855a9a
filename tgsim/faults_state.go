package tgsim

import (
	"math/rand/v2"
	"slices"

	"github.com/gotd/td/bin"
	"github.com/gotd/td/mt"
)

// The server asks too (MTProto "Service Messages about Messages": either
// party may ask the other about its outgoing messages). With
// Faults.StateReqs, a flush that leaves content messages unacknowledged
// adds msgs_state_req about them; the client's msgs_state_info says which
// it has (they count as acknowledged) and which it lacks (they are sent
// again).

// maxStateAsk bounds the ids of one msgs_state_req from the server.
const maxStateAsk = 100

// askState queues msgs_state_req about the unacknowledged content messages,
// with probability Faults.StateReqs, one at a time. s.mu is held.
func (s *session) askState() {
	f := s.srv.faults.Load()
	if f.StateReqs <= 0 || s.stateAsking || len(s.unacked) == 0 || rand.Float64() >= f.StateReqs {
		return
	}
	s.stateAsking = true
	ids := make([]int64, 0, min(len(s.unacked), maxStateAsk))
	for id := range s.unacked {
		ids = append(ids, id)
		if len(ids) == maxStateAsk {
			break
		}
	}
	slices.Sort(ids)
	s.srv.count.stateReqsOut.Add(1)
	// Content-related: it expects an answer, and is remembered (by its own
	// msg_id) until msgs_state_info comes.
	s.queue(&mt.MsgsStateReq{MsgIDs: ids}, contentMsg)
}

// rememberStateReq keeps the ids our msgs_state_req msgID asked about (its
// acknowledgement may come before the answer). s.mu is held.
func (s *session) rememberStateReq(msgID int64, body []byte) {
	var q mt.MsgsStateReq
	if q.Decode(&bin.Buffer{Buf: body}) == nil {
		s.stateAsked = map[int64][]int64{msgID: q.MsgIDs}
	}
}

// onStateInfo applies the client's msgs_state_info to the messages our
// msgs_state_req named: received ones are done with, the others go again.
func (s *session) onStateInfo(_ inMsg, m *mt.MsgsStateInfo) {
	ids, ok := s.stateAsked[m.ReqMsgID]
	if !ok {
		return
	}
	s.stateAsked = nil
	s.stateAsking = false
	s.srv.count.stateInfosIn.Add(1)
	for i, id := range ids {
		if i >= len(m.Info) {
			break
		}
		om, ok := s.unacked[id]
		if !ok {
			continue
		}
		delete(s.unacked, id)
		if m.Info[i]&7 != msgStateReceived {
			s.srv.count.resent.Add(1)
			s.queueRaw(om)
		}
	}
}
