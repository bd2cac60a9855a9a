package mtproto

import (
	"errors"
	"fmt"

	"github.com/gotd/td/bin"
	"github.com/gotd/td/proto"

	"github.com/tlsched/tlsched/mtproto/spec"
)

// onContainer walks msg_container without copying the inner bodies. A
// truncated container yields the messages before the damage.
func (s *Session) onContainer(r *receiver, msgID int64, b *bin.Buffer, depth int) {
	if depth > 0 {
		// MTProto: containers never nest.
		r.malformed(msgID, "msg_container", errors.New("nested container"))
		return
	}
	_ = b.ConsumeID(proto.MessageContainerTypeID)
	n, err := b.Int()
	if err != nil {
		r.malformed(msgID, "msg_container", err)
		return
	}
	if n < 0 || n > spec.MaxContainerMessages {
		r.malformed(msgID, "msg_container", fmt.Errorf("%d messages", n))
		return
	}
	for i := 0; i < n; i++ {
		id, err := b.Long()
		if err != nil {
			r.malformed(msgID, "msg_container", fmt.Errorf("message %d of %d: %w", i+1, n, err))
			return
		}
		seq, err := b.Int32()
		if err != nil {
			r.malformed(msgID, "msg_container", fmt.Errorf("message %d of %d: %w", i+1, n, err))
			return
		}
		l, err := b.Int()
		if err != nil {
			r.malformed(msgID, "msg_container", fmt.Errorf("message %d of %d: %w", i+1, n, err))
			return
		}
		if l < 0 || l > b.Len() {
			r.malformed(msgID, "msg_container", fmt.Errorf("message %d of %d: length %d with %d bytes left", i+1, n, l, b.Len()))
			return
		}
		inner := b.Buf[:l:l]
		b.Skip(l)
		s.handle(r, id, seq, inner, 1)
	}
}
