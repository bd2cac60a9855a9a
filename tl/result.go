package tl

import (
	"fmt"
	"strings"

	"github.com/gotd/td/bin"
)

// DecodeResult decodes a method's result body (an rpc_result's payload,
// gzip removed) by the method's result type. It returns:
//
//   - a bin.Object of gotd's type for a boxed class ("Updates" gives
//     *tg.UpdateShortSentMessage, *tg.Updates, ...);
//   - bool for Bool;
//   - []bin.Object for Vector<T> of boxed objects;
//   - []int, []int64, []string, [][]byte or []float64 for bare vectors;
//   - int, int64, string, []byte or float64 for scalar results.
func DecodeResult(method *Definition, body []byte) (any, error) {
	v, err := decodeValue(&bin.Buffer{Buf: body}, method.Type)
	if err != nil {
		return nil, fmt.Errorf("decode %s result (%s): %w", method.Name, method.Type, err)
	}
	return v, nil
}

func decodeValue(b *bin.Buffer, typ string) (any, error) {
	switch typ {
	case "Bool":
		return b.Bool()
	case "int":
		return b.Int()
	case "long":
		return b.Long()
	case "string":
		return b.String()
	case "bytes":
		return b.Bytes()
	case "double":
		return b.Double()
	}
	if inner, bare, ok := vectorOf(typ); ok {
		if !bare {
			if err := b.ConsumeID(vectorID); err != nil {
				return nil, err
			}
		}
		n, err := b.Int()
		if err != nil {
			return nil, err
		}
		if n < 0 || n > b.Len()/4+1 {
			return nil, fmt.Errorf("vector of %d elements in %d bytes", n, b.Len())
		}
		switch inner {
		case "int":
			return vec(b, n, (*bin.Buffer).Int)
		case "long":
			return vec(b, n, (*bin.Buffer).Long)
		case "string":
			return vec(b, n, (*bin.Buffer).String)
		case "bytes":
			return vec(b, n, (*bin.Buffer).Bytes)
		case "double":
			return vec(b, n, (*bin.Buffer).Double)
		}
		if strings.HasPrefix(inner, "%") || !isBoxed(inner) {
			return nil, fmt.Errorf("vector of bare %s is not supported", inner)
		}
		out := make([]bin.Object, 0, n)
		for i := 0; i < n; i++ {
			o, err := decodeObject(b)
			if err != nil {
				return nil, fmt.Errorf("element %d: %w", i, err)
			}
			out = append(out, o)
		}
		return out, nil
	}
	return decodeObject(b)
}

func vec[T any](b *bin.Buffer, n int, get func(*bin.Buffer) (T, error)) ([]T, error) {
	out := make([]T, 0, n)
	for i := 0; i < n; i++ {
		v, err := get(b)
		if err != nil {
			return nil, fmt.Errorf("element %d: %w", i, err)
		}
		out = append(out, v)
	}
	return out, nil
}

// isBoxed reports whether a type name refers to a boxed class (capitalised
// last segment), not a bare constructor.
func isBoxed(typ string) bool {
	name := typ[strings.LastIndexByte(typ, '.')+1:]
	return name != "" && name[0] >= 'A' && name[0] <= 'Z'
}

func decodeObject(b *bin.Buffer) (bin.Object, error) {
	id, err := b.PeekID()
	if err != nil {
		return nil, err
	}
	obj, err := New(id)
	if err != nil {
		return nil, err
	}
	if err := obj.Decode(b); err != nil {
		return nil, err
	}
	return obj, nil
}
