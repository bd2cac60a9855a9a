package tl

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/go-faster/jx"
	"github.com/gotd/td/bin"
)

// EncodeJSON writes any TL object as JSON: the constructor or method name
// under "_", fields by schema name in schema order, flags words omitted
// (implied by which optional fields are present), true flags as booleans,
// int and double as JSON numbers, long as a decimal string, bytes, int128
// and int256 as standard base64 with padding. The output is always valid
// UTF-8 JSON: a string's invalid UTF-8 byte 0xXX is written as the escape
// \udcXX, which DecodeJSON turns back into the byte. A double that is NaN
// or infinite is an error (JSON has no such number). DecodeJSON reverses
// it. It is EncodeOptions{}.EncodeJSON.
func EncodeJSON(obj bin.Encoder) ([]byte, error) { return EncodeOptions{}.EncodeJSON(obj) }

// BinaryToJSON converts a TL-encoded value of type typ to JSON, written as
// EncodeJSON writes it. An empty typ means a boxed object of any type. For
// a method result pass the method's result type (Definition.Type): it
// handles Bool, Vector<T> of boxed objects and bare vectors such as
// Vector<long>. The result is the caller's. It is
// EncodeOptions{}.BinaryToJSON.
func BinaryToJSON(data []byte, typ string) ([]byte, error) {
	return EncodeOptions{}.BinaryToJSON(data, typ)
}

// EncodeOptions configures JSON encoding; the zero value is the default
// of EncodeJSON and BinaryToJSON.
type EncodeOptions struct {
	// LongAsNumber writes long (64-bit) values as JSON numbers rather than
	// decimal strings. Only for readers that keep 64-bit integers exact:
	// JavaScript's JSON.parse rounds any beyond 2^53, so an access_hash
	// read that way and sent back is wrong. (TDLib's JSON interface writes
	// them as strings too.) DecodeJSON accepts both forms.
	LongAsNumber bool
}

// EncodeJSON is EncodeJSON with these options.
func (o EncodeOptions) EncodeJSON(obj bin.Encoder) ([]byte, error) {
	x := getEncoder()
	defer x.release()
	x.opts = o
	if err := obj.Encode(&x.raw); err != nil {
		return nil, fmt.Errorf("encode %T: %w", obj, err)
	}
	return x.convert(x.raw.Buf, "")
}

// BinaryToJSON is BinaryToJSON with these options.
func (o EncodeOptions) BinaryToJSON(data []byte, typ string) ([]byte, error) {
	x := getEncoder()
	defer x.release()
	x.opts = o
	return x.convert(data, typ)
}

// AppendBinaryToJSON is BinaryToJSON appending to dst: a caller that
// copies the JSON on (a result line) saves BinaryToJSON's copy. On error
// dst is returned as it was.
func (o EncodeOptions) AppendBinaryToJSON(dst, data []byte, typ string) ([]byte, error) {
	x := getEncoder()
	defer x.release()
	x.opts = o
	// The encoder writes into dst, and gives its own buffer back after.
	own := x.w.Buf
	x.w.Buf = dst
	err := x.encode(data, typ)
	out := x.w.Buf
	x.w.Buf = own
	if err != nil {
		return dst, err
	}
	return out, nil
}

// jsonEncoder holds one call's state. It is pooled with the buffers it
// grows; what it returns is a copy.
type jsonEncoder struct {
	w     jx.Writer
	b     bin.Buffer // the input, consumed as it is read
	raw   bin.Buffer // EncodeJSON's encoding of its object
	path  jsonPath   // where the encoder is, for errors
	depth int
	opts  EncodeOptions
}

var encoderPool = sync.Pool{New: func() any { return new(jsonEncoder) }}

func getEncoder() *jsonEncoder { return encoderPool.Get().(*jsonEncoder) }

// release returns x to the pool, dropping what refers to the caller's data.
func (x *jsonEncoder) release() {
	if cap(x.w.Buf) > maxPooledBuf || cap(x.raw.Buf) > maxPooledBuf || cap(x.path) > 1024 {
		return
	}
	x.w.Reset()
	x.b.ResetTo(nil)
	x.raw.Reset()
	x.path = x.path[:0]
	x.depth = 0
	x.opts = EncodeOptions{}
	encoderPool.Put(x)
}

func (x *jsonEncoder) convert(data []byte, typ string) ([]byte, error) {
	if err := x.encode(data, typ); err != nil {
		return nil, err
	}
	out := make([]byte, len(x.w.Buf))
	copy(out, x.w.Buf)
	return out, nil
}

// encode appends data's JSON to x.w.Buf.
func (x *jsonEncoder) encode(data []byte, typ string) error {
	x.b.ResetTo(data)
	x.path.push("$")
	var err error
	if typ == "" {
		err = x.object(nil)
	} else {
		err = x.value(typ)
	}
	if err != nil {
		return err
	}
	if x.b.Len() != 0 {
		return fmt.Errorf("%d bytes left after the %s", x.b.Len(), strings.TrimPrefix(typ+" value", " "))
	}
	return nil
}

// maxDepth bounds nesting so hostile input cannot exhaust the stack.
const maxDepth = 64

func (x *jsonEncoder) object(bare *Definition) error {
	if x.depth++; x.depth > maxDepth {
		return fmt.Errorf("%s: nested more than %d deep", x.path.String(), maxDepth)
	}
	defer func() { x.depth-- }()
	var l *layout
	if bare != nil {
		l = layoutOf(bare)
	} else {
		id, err := x.b.ID()
		if err != nil {
			return fmt.Errorf("%s: %w", x.path.String(), err)
		}
		var ok bool
		if l, ok = reg().layouts[id]; !ok {
			return fmt.Errorf("%s: unknown constructor %#08x", x.path.String(), id)
		}
	}
	def := l.def
	// The schema fixes where commas go, so the encoder writes them itself
	// to a plain jx.Writer (jx.Encoder would track them per level).
	x.w.Buf = append(x.w.Buf, l.text[:l.head]...)
	var words [2]uint32 // the first two flags words
	nwords := 0
	for i := range l.params {
		pl := l.params[i]
		p := &def.Params[i]
		switch pl.kind {
		case kindFlags:
			v, err := x.b.Uint32()
			if err != nil {
				return fmt.Errorf("%s.%s: %w", x.path.String(), p.Name, err)
			}
			if nwords < len(words) {
				words[nwords] = v
				nwords++
			}
			continue
		case kindOptional, kindTrue:
			if pl.word < 0 || words[pl.word]&(1<<p.Bit) == 0 {
				continue
			}
			if pl.kind == kindTrue {
				x.w.Buf = append(append(x.w.Buf, l.text[pl.key:pl.keyEnd]...), "true"...)
				continue
			}
		}
		x.w.Buf = append(x.w.Buf, l.text[pl.key:pl.keyEnd]...)
		x.path.push(p.Name)
		err := x.value(p.Type)
		x.path.pop()
		if err != nil {
			return err
		}
	}
	x.w.ObjEnd()
	return nil
}

func (x *jsonEncoder) value(typ string) error {
	wrap := func(err error) error { return fmt.Errorf("%s: %s: %w", x.path.String(), typ, err) }
	switch typ {
	case "int":
		v, err := x.b.Int32()
		if err != nil {
			return wrap(err)
		}
		x.w.Buf = strconv.AppendInt(x.w.Buf, int64(v), 10)
	case "long":
		v, err := x.b.Long()
		if err != nil {
			return wrap(err)
		}
		if x.opts.LongAsNumber {
			x.w.Buf = strconv.AppendInt(x.w.Buf, v, 10)
			break
		}
		x.w.Buf = append(strconv.AppendInt(append(x.w.Buf, '"'), v, 10), '"')
	case "double":
		v, err := x.b.Double()
		if err != nil {
			return wrap(err)
		}
		if math.IsNaN(v) || math.IsInf(v, 0) {
			// jx would write null, which no decoder reads back as a double.
			return wrap(errNoJSONNumber)
		}
		x.w.Float64(v)
	case "string":
		v, ok := x.peekBytes()
		if !ok {
			// gotd's reader copies it out, or names the error.
			s, err := x.b.String()
			if err != nil {
				return wrap(err)
			}
			v = []byte(s)
		}
		x.str(v)
	case "bytes":
		v, ok := x.peekBytes()
		if !ok {
			var err error
			if v, err = x.b.Bytes(); err != nil {
				return wrap(err)
			}
		}
		x.base64(v)
	case "int128", "int256":
		n := 16
		if typ == "int256" {
			n = 32
		}
		if x.b.Len() < n {
			return wrap(fmt.Errorf("want %d bytes, have %d", n, x.b.Len()))
		}
		x.base64(x.b.Buf[:n])
		x.b.Skip(n)
	case "Bool":
		v, err := x.b.Bool()
		if err != nil {
			return wrap(err)
		}
		x.w.Bool(v)
	case "!X", "X":
		return x.object(nil)
	default:
		if inner, bare, ok := vectorOf(typ); ok {
			if !bare {
				if err := x.b.ConsumeID(vectorID); err != nil {
					return wrap(err)
				}
			}
			n, err := x.b.Int()
			if err != nil {
				return wrap(err)
			}
			// Every element takes at least 4 bytes: a hostile count
			// cannot make us loop past the data.
			if n < 0 || n > x.b.Len()/4+1 {
				return wrap(fmt.Errorf("vector of %d elements in %d bytes", n, x.b.Len()))
			}
			x.w.ArrStart()
			for i := 0; i < n; i++ {
				if i > 0 {
					x.w.Comma()
				}
				x.path.pushIndex(i)
				err := x.value(inner)
				x.path.pop()
				if err != nil {
					return err
				}
			}
			x.w.ArrEnd()
			return nil
		}
		if strings.HasPrefix(typ, "%") {
			cs := Constructors(typ[1:])
			if len(cs) != 1 {
				return wrap(fmt.Errorf("bare type with %d constructors", len(cs)))
			}
			return x.object(cs[0])
		}
		if c, ok := bareConstructor(typ); ok {
			return x.object(c)
		}
		return x.object(nil)
	}
	return nil
}

// peekBytes reads a complete TL string or bytes value without copying it:
// the result is a slice of the input. For anything else it reads nothing
// and reports false, leaving gotd's reader to copy the value out or to
// name the error. MTProto: a length byte L <= 253 and L bytes, or 254, a
// 24-bit length and the bytes; then zeros up to a multiple of 4 bytes.
func (x *jsonEncoder) peekBytes() ([]byte, bool) {
	buf := x.b.Buf
	start, n := 1, 0
	switch {
	case len(buf) >= 4 && buf[0] == 254:
		start, n = 4, int(buf[1])|int(buf[2])<<8|int(buf[3])<<16
	case len(buf) >= 1 && buf[0] <= 253:
		n = int(buf[0])
	default:
		return nil, false
	}
	end := (start + n + 3) &^ 3
	if len(buf) < end {
		return nil, false
	}
	x.b.Buf = buf[end:]
	return buf[start : start+n], true
}

// errNoJSONNumber is the error for a NaN or infinite double.
var errNoJSONNumber = errors.New("NaN and infinities have no JSON form")

// str writes a TL string as a JSON string. Where it is not valid UTF-8,
// each byte 0xXX of an invalid sequence becomes the escape \udcXX, a lone
// low surrogate: valid JSON that no valid UTF-8 text holds, so the decoder
// (unescapeInvalid) can give back the byte. It is Python's
// "surrogateescape" (PEP 383); JavaScript keeps such strings as they are,
// and writes the same escapes back.
func (x *jsonEncoder) str(v []byte) {
	if utf8.Valid(v) {
		x.w.ByteStr(v)
		return
	}
	// jx copies bytes >= 0x80 as they are and escapes only ASCII, so the
	// invalid sequences of what it wrote are those of v.
	start := len(x.w.Buf)
	x.w.ByteStr(v)
	written := append([]byte(nil), x.w.Buf[start:]...)
	x.w.Buf = x.w.Buf[:start]
	for i := 0; i < len(written); {
		r, size := utf8.DecodeRune(written[i:])
		if r == utf8.RuneError && size == 1 {
			b := written[i]
			x.w.Buf = append(x.w.Buf, '\\', 'u', 'd', 'c', hexDigits[b>>4], hexDigits[b&0xf])
		} else {
			x.w.Buf = append(x.w.Buf, written[i:i+size]...)
		}
		i += size
	}
}

const hexDigits = "0123456789abcdef"

// base64 writes bytes as a base64 string; jx writes null for an empty slice.
func (x *jsonEncoder) base64(v []byte) {
	if len(v) == 0 {
		x.w.Str("")
		return
	}
	x.w.Base64(v)
}
