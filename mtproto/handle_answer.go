package mtproto

import (
	"strings"

	"github.com/gotd/td/tgerr"
)

// maxNotInits bounds the resends of one call after CONNECTION_NOT_INITED.
const maxNotInits = 3

// answer turns the rpc_result of call o (attempt req) into its Result, after
// the rules of the session's first call: MTProto, "Calling methods", the
// first query of a connection is wrapped in invokeWithLayer(initConnection)
// (wrap.go), and a server that lost it answers CONNECTION_NOT_INITED.
func (s *Session) answer(r *receiver, o *outMsg, req int64, body []byte, rpcErr *tgerr.Error) {
	if rpcErr != nil && rpcErr.Type == "CONNECTION_NOT_INITED" && !o.init && !s.cfg.NoInit && o.notInits < maxNotInits {
		// The server lost our initConnection (a new connection or key):
		// send the call again, wrapped. A server that keeps answering so
		// gets the error after maxNotInits rounds instead of a loop.
		o.notInits++
		s.initDone = false
		s.emitResent(r, s.requeue([]*outMsg{o}, "connection_not_inited"))
		return
	}
	if o.init && (rpcErr == nil || !strings.HasPrefix(rpcErr.Type, "CONNECTION_")) {
		s.initDone = true
	}
	s.forget(o)
	s.stats.Results++
	res := Result{Call: o.call, MsgID: req, Attempts: o.attempts}
	if rpcErr != nil {
		res.Err = rpcErr
	} else {
		res.Body = body
	}
	r.out.Results = append(r.out.Results, res)
}
