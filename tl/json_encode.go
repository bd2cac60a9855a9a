package tl

import (
	"fmt"
	"strings"

	"github.com/go-faster/jx"
	"github.com/gotd/td/bin"
)

// EncodeJSON writes any TL object as JSON: the constructor or method name
// under "_", fields by schema name in schema order, flags words omitted
// (implied by which optional fields are present), true flags as booleans,
// bytes as base64, long as a JSON number. DecodeJSON reverses it.
func EncodeJSON(obj bin.Encoder) ([]byte, error) {
	var b bin.Buffer
	if err := obj.Encode(&b); err != nil {
		return nil, fmt.Errorf("encode %T: %w", obj, err)
	}
	return BinaryToJSON(b.Buf, "")
}

// BinaryToJSON converts a TL-encoded value of type typ to JSON. An empty typ
// means a boxed object of any type. For a method result pass the method's
// result type (Definition.Type): it handles Bool, Vector<T> of boxed objects
// and bare vectors such as Vector<long>.
func BinaryToJSON(data []byte, typ string) ([]byte, error) {
	x := jsonEncoder{b: &bin.Buffer{Buf: data}}
	var err error
	if typ == "" {
		err = x.object("$", nil)
	} else {
		err = x.value("$", typ)
	}
	if err != nil {
		return nil, err
	}
	if x.b.Len() != 0 {
		return nil, fmt.Errorf("%d bytes left after the %s", x.b.Len(), strings.TrimPrefix(typ+" value", " "))
	}
	return x.e.Bytes(), nil
}

type jsonEncoder struct {
	e     jx.Encoder
	b     *bin.Buffer
	depth int
}

// maxDepth bounds nesting so hostile input cannot exhaust the stack.
const maxDepth = 64

func (x *jsonEncoder) object(path string, bare *Definition) error {
	if x.depth++; x.depth > maxDepth {
		return fmt.Errorf("%s: nested more than %d deep", path, maxDepth)
	}
	defer func() { x.depth-- }()
	def := bare
	if def == nil {
		id, err := x.b.ID()
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		d, ok := ByID(id)
		if !ok {
			return fmt.Errorf("%s: unknown constructor %#08x", path, id)
		}
		def = d
	}
	x.e.ObjStart()
	x.e.FieldStart("_")
	x.e.Str(def.Name)
	var flagNames [2]string
	var flagVals [2]uint32
	nflags := 0
	for _, p := range def.Params {
		if p.IsFlags() {
			v, err := x.b.Uint32()
			if err != nil {
				return fmt.Errorf("%s.%s: %w", path, p.Name, err)
			}
			if nflags < len(flagNames) {
				flagNames[nflags], flagVals[nflags] = p.Name, v
				nflags++
			}
			continue
		}
		if p.Optional() {
			var v uint32
			for i := 0; i < nflags; i++ {
				if flagNames[i] == p.Flag {
					v = flagVals[i]
				}
			}
			if v&(1<<p.Bit) == 0 {
				continue
			}
			if p.Type == "true" {
				x.e.FieldStart(p.Name)
				x.e.Bool(true)
				continue
			}
		}
		x.e.FieldStart(p.Name)
		if err := x.value(path+"."+p.Name, p.Type); err != nil {
			return err
		}
	}
	x.e.ObjEnd()
	return nil
}

func (x *jsonEncoder) value(path, typ string) error {
	wrap := func(err error) error { return fmt.Errorf("%s: %s: %w", path, typ, err) }
	switch typ {
	case "int":
		v, err := x.b.Int32()
		if err != nil {
			return wrap(err)
		}
		x.e.Int32(v)
	case "long":
		v, err := x.b.Long()
		if err != nil {
			return wrap(err)
		}
		x.e.Int64(v)
	case "double":
		v, err := x.b.Double()
		if err != nil {
			return wrap(err)
		}
		x.e.Float64(v)
	case "string":
		v, err := x.b.String()
		if err != nil {
			return wrap(err)
		}
		x.e.Str(v)
	case "bytes":
		v, err := x.b.Bytes()
		if err != nil {
			return wrap(err)
		}
		x.base64(v)
	case "int128", "int256":
		n := map[string]int{"int128": 16, "int256": 32}[typ]
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
		x.e.Bool(v)
	case "!X", "X":
		return x.object(path, nil)
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
			x.e.ArrStart()
			for i := 0; i < n; i++ {
				if err := x.value(fmt.Sprintf("%s[%d]", path, i), inner); err != nil {
					return err
				}
			}
			x.e.ArrEnd()
			return nil
		}
		if strings.HasPrefix(typ, "%") {
			cs := Constructors(typ[1:])
			if len(cs) != 1 {
				return wrap(fmt.Errorf("bare type with %d constructors", len(cs)))
			}
			return x.object(path, cs[0])
		}
		if c, ok := Constructor(typ); ok {
			return x.object(path, c)
		}
		return x.object(path, nil)
	}
	return nil
}

// base64 writes bytes as a base64 string; jx writes null for an empty slice.
func (x *jsonEncoder) base64(v []byte) {
	if len(v) == 0 {
		x.e.Str("")
		return
	}
	x.e.Base64(v)
}
