package tgsim

import (
	"github.com/gotd/td/bin"
	"github.com/gotd/td/tg"
	"github.com/gotd/td/tgerr"
)

// sendKey names one send for random_id deduplication. Telegram treats a
// repeat of a random_id by the same account to the same peer as the same
// message: it answers the original's updates, and a repeat that arrives
// while the first copy is still running gets 500 RANDOM_ID_DUPLICATE.
type sendKey struct {
	peer     peerRef
	randomID int64
}

// errRandomIDBusy answers a repeat of a send still running.
var errRandomIDBusy = tgerr.New(500, "RANDOM_ID_DUPLICATE")

// claimRandomID is called when a call is read, before its latency: a send
// with a random_id is marked running for its account and peer until
// release is called (after it ran), and a repeat that comes meanwhile
// fails at once with errRandomIDBusy. A call that is no such send, or
// whose peer does not resolve (its handler answers that), claims nothing.
func (w *world) claimRandomID(k *authKey, typeID uint32, query []byte) (release func(), err error) {
	if typeID != tg.MessagesSendMessageRequestTypeID {
		return nil, nil
	}
	acct := k.account()
	var req tg.MessagesSendMessageRequest
	if acct == 0 || req.Decode(&bin.Buffer{Buf: query}) != nil || req.RandomID == 0 {
		return nil, nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	p, err := w.inputPeer(acct, req.Peer)
	if err != nil {
		return nil, nil
	}
	a, key := w.acct(acct), sendKey{peer: p, randomID: req.RandomID}
	if _, done := a.sent[key]; done {
		return nil, nil // it runs and answers the original
	}
	if _, busy := a.running[key]; busy {
		w.srv.count.randomIDBusy.Add(1)
		return nil, errRandomIDBusy
	}
	a.running[key] = struct{}{}
	return func() {
		w.mu.Lock()
		delete(a.running, key)
		w.mu.Unlock()
	}, nil
}
