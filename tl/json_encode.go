package tl

import (
	"fmt"
	"strings"
	"sync"

	"github.com/go-faster/jx"
	"github.com/gotd/td/bin"
)

// EncodeJSON writes any TL object as JSON: the constructor or method name
// under "_", fields by schema name in schema order, flags words omitted
// (implied by which optional fields are present), true flags as booleans,
// bytes as base64, long as a JSON number. DecodeJSON reverses it.
func EncodeJSON(obj bin.Encoder) ([]byte, error) {
	x := getEncoder()
	defer x.release()
	if err := obj.Encode(&x.raw); err != nil {
		return nil, fmt.Errorf("encode %T: %w", obj, err)
	}
	return x.convert(x.raw.Buf, "")
}

// BinaryToJSON converts a TL-encoded value of type typ to JSON. An empty typ
// means a boxed object of any type. For a method result pass the method's
// result type (Definition.Type): it handles Bool, Vector<T> of boxed objects
// and bare vectors such as Vector<long>. The result is the caller's.
func BinaryToJSON(data []byte, typ string) ([]byte, error) {
	x := getEncoder()
	defer x.release()
	return x.convert(data, typ)
}

// jsonEncoder holds one call's state. It is pooled with the buffers it
// grows; what it returns is a copy.
type jsonEncoder struct {
	w     jx.Writer
	b     bin.Buffer // the input, consumed as it is read
	raw   bin.Buffer // EncodeJSON's encoding of its object
	path  jsonPath   // where the encoder is, for errors
	depth int
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
	encoderPool.Put(x)
}

func (x *jsonEncoder) convert(data []byte, typ string) ([]byte, error) {
	x.b.ResetTo(data)
	x.path.push("$")
	var err error
	if typ == "" {
		err = x.object(nil)
	} else {
		err = x.value(typ)
	}
	if err != nil {
		return nil, err
	}
	if x.b.Len() != 0 {
		return nil, fmt.Errorf("%d bytes left after the %s", x.b.Len(), strings.TrimPrefix(typ+" value", " "))
	}
	out := make([]byte, len(x.w.Buf))
	copy(out, x.w.Buf)
	return out, nil
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
	x.w.ObjStart()
	x.w.RawStr(`"_":`)
	x.w.Str(def.Name)
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
				x.w.Comma()
				x.w.FieldStart(p.Name)
				x.w.True()
				continue
			}
		}
		x.w.Comma()
		x.w.FieldStart(p.Name)
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
		x.w.Int32(v)
	case "long":
		v, err := x.b.Long()
		if err != nil {
			return wrap(err)
		}
		x.w.Int64(v)
	case "double":
		v, err := x.b.Double()
		if err != nil {
			return wrap(err)
		}
		x.w.Float64(v)
	case "string":
		if v, ok := x.peekBytes(); ok {
			x.w.ByteStr(v)
			break
		}
		v, err := x.b.String()
		if err != nil {
			return wrap(err)
		}
		x.w.Str(v)
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

// base64 writes bytes as a base64 string; jx writes null for an empty slice.
func (x *jsonEncoder) base64(v []byte) {
	if len(v) == 0 {
		x.w.Str("")
		return
	}
	x.w.Base64(v)
}
