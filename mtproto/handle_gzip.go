package mtproto

import (
	"errors"

	"github.com/gotd/td/bin"
	"github.com/gotd/td/proto"
)

// maxGzipDepth bounds gzip_packed inside gzip_packed. MTProto allows
// gzip_packed around any object; two levels (a gzipped container holding a
// gzipped result) is what servers send.
const maxGzipDepth = 2

// onGzip unpacks gzip_packed and routes what it held as if it had come
// bare. gz counts the gzip_packed layers already removed.
func (s *Session) onGzip(r *receiver, msgID int64, b *bin.Buffer, depth, gz int) {
	if gz >= maxGzipDepth {
		r.malformed(msgID, "gzip_packed", errors.New("gzip nested too deep"))
		return
	}
	var g proto.GZIP
	if err := g.Decode(b); err != nil {
		r.malformed(msgID, "gzip_packed", err)
		return
	}
	s.dispatch(r, msgID, g.Data, depth, gz+1)
}
