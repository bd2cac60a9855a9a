package tgsim

import (
	"encoding/binary"

	"github.com/gotd/td/bin"
	"github.com/gotd/td/proto"

	"github.com/tlsched/tlsched/mtproto/spec"
)

// innerMsg is one message of a received container.
type innerMsg struct {
	id    int64
	seqno int32
	body  []byte
}

// parseContainer splits a msg_container without copying. It returns false
// for anything MTProto calls an invalid container (bad_msg 64): a broken
// layout, more than spec.MaxContainerMessages messages, an inner msg_id not below the
// container's or repeated, a container inside it.
func parseContainer(id int64, body []byte) ([]innerMsg, bool) {
	b := bin.Buffer{Buf: body}
	if err := b.ConsumeID(proto.MessageContainerTypeID); err != nil {
		return nil, false
	}
	n, err := b.Int()
	if err != nil || n < 0 || n > spec.MaxContainerMessages {
		return nil, false
	}
	out := make([]innerMsg, 0, n)
	for range n {
		mid, err1 := b.Long()
		seq, err2 := b.Int()
		size, err3 := b.Int()
		if err1 != nil || err2 != nil || err3 != nil || size < 4 || size%4 != 0 || size > b.Len() {
			return nil, false
		}
		m := innerMsg{id: mid, seqno: int32(seq), body: b.Buf[:size]}
		b.Skip(size)
		if mid >= id || binary.LittleEndian.Uint32(m.body) == proto.MessageContainerTypeID {
			return nil, false
		}
		for _, o := range out {
			if o.id == mid {
				return nil, false
			}
		}
		out = append(out, m)
	}
	if b.Len() != 0 {
		return nil, false
	}
	return out, true
}
