package mtproto

import "github.com/gotd/td/mt"

// onStateReq answers the server's msgs_state_req about messages it sent us
// (MTProto, "Service Messages about Messages"), from the replay window: 4+8
// (received and acknowledged, or about to be) for a msg_id we have, 1 for
// one at or below the window's floor (forgotten), 3 for one above every id
// we have, 2 otherwise. The answer goes out with the next frame.
func (s *Session) onStateReq(r *receiver, msgID int64, body []byte) {
	var m mt.MsgsStateReq
	if !decode(r, msgID, "msgs_state_req", body, &m) {
		return
	}
	info := make([]byte, len(m.MsgIDs))
	for i, id := range m.MsgIDs {
		info[i] = s.window.state(id)
	}
	s.stateInfos = append(s.stateInfos, mt.MsgsStateInfo{ReqMsgID: msgID, Info: info})
}
