package tl

import (
	"context"
	"fmt"
	"sync"

	"github.com/go-faster/jx"
	"github.com/gotd/td/bin"
)

// jsonDecoder holds one call's state. It is pooled, with the buffers it
// grows, so that a call in the steady state allocates little more than the
// object it returns. Nothing it holds outlives a call: gotd copies strings
// and bytes out of buf when it decodes the result.
type jsonDecoder struct {
	ctx  context.Context
	opts DecodeOptions
	buf  bin.Buffer
	// path is where the decoder is, for errors.
	path jsonPath
	// fields is a stack of the fields of the objects being decoded: an
	// object pushes its fields, and pops them when it returns.
	fields []rawField
	// decs are idle jx decoders; each nesting level takes one.
	decs []*jx.Decoder
	// str holds the last decoded string, b64 the last decoded base64, esc
	// a string with escaped bytes of invalid UTF-8 made raw.
	str, b64, esc []byte
	// meta is what EncodeParams notes about the call it encodes.
	meta requestMeta
}

var decoderPool = sync.Pool{New: func() any { return new(jsonDecoder) }}

// maxPooledBuf bounds the buffers a pooled decoder or encoder keeps, so
// that one huge call does not pin its memory.
const maxPooledBuf = 64 << 10

func getDecoder() *jsonDecoder { return decoderPool.Get().(*jsonDecoder) }

// release returns d to the pool, dropping what refers to the caller's data.
func (d *jsonDecoder) release() {
	if cap(d.buf.Buf) > maxPooledBuf || cap(d.str) > maxPooledBuf || cap(d.b64) > maxPooledBuf || cap(d.esc) > maxPooledBuf || cap(d.fields) > 1024 || cap(d.path) > 1024 || len(d.decs) > 64 {
		return
	}
	d.ctx, d.opts, d.meta = nil, DecodeOptions{}, requestMeta{}
	d.buf.Reset()
	clear(d.fields[:cap(d.fields)])
	d.fields = d.fields[:0]
	d.path = d.path[:0]
	d.str, d.b64, d.esc = d.str[:0], d.b64[:0], d.esc[:0]
	decoderPool.Put(d)
}

// reader returns an idle jx decoder reading data, as fresh as a new one.
func (d *jsonDecoder) reader(data []byte) *jx.Decoder {
	var dec *jx.Decoder
	if n := len(d.decs); n > 0 {
		dec, d.decs = d.decs[n-1], d.decs[:n-1]
		*dec = jx.Decoder{}
	} else {
		dec = new(jx.Decoder)
	}
	dec.ResetBytes(data)
	return dec
}

func (d *jsonDecoder) done(dec *jx.Decoder) {
	dec.ResetBytes(nil)
	d.decs = append(d.decs, dec)
}

// errf returns a *JSONError at the current path.
func (d *jsonDecoder) errf(format string, args ...any) error {
	return &JSONError{Path: d.path.String(), Err: fmt.Errorf(format, args...)}
}

// fieldErrf returns a *JSONError at the field name of the current object.
func (d *jsonDecoder) fieldErrf(name string, format string, args ...any) error {
	d.path.push(name)
	err := d.errf(format, args...)
	d.path.pop()
	return err
}

func (d *jsonDecoder) wantErr(what string, got jx.Type) error {
	return d.errf("want %s, got %s", what, jsonKind(got))
}
