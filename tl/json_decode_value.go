package tl

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/go-faster/jx"
)

// value encodes one JSON value of TL type typ.
func (d *jsonDecoder) value(raw jx.Raw, typ string) error {
	dec := d.reader(raw)
	err := d.valueFrom(dec, raw, typ)
	d.done(dec)
	return err
}

// valueFrom is value with dec reading raw.
func (d *jsonDecoder) valueFrom(dec *jx.Decoder, raw jx.Raw, typ string) error {
	next := dec.Next()
	switch typ {
	case "int":
		if next != jx.Number {
			return d.wantErr("integer", next)
		}
		v, err := dec.Int64()
		if err != nil || v < math.MinInt32 || v > math.MaxUint32 {
			return d.errf("want a 32-bit integer, got %s", raw)
		}
		d.buf.PutInt32(int32(v))
	case "long":
		v, err := longValue(dec, next)
		if err != nil {
			return d.errf("%v", err)
		}
		d.buf.PutLong(v)
	case "double":
		if next != jx.Number {
			return d.wantErr("number", next)
		}
		v, err := dec.Float64()
		if err != nil {
			return d.errf("%v", err)
		}
		d.buf.PutDouble(v)
	case "string":
		if next != jx.String {
			return d.wantErr("string", next)
		}
		// TL strings and bytes share one encoding; the scratch copy saves
		// allocating a string that gotd would copy again.
		v, err := dec.StrAppend(d.str[:0])
		if err != nil {
			return d.errf("%v", err)
		}
		d.str = v
		d.buf.PutBytes(v)
	case "bytes":
		b, err := d.bytesValue(dec, next)
		if err != nil {
			return d.errf("%v", err)
		}
		d.buf.PutBytes(b)
	case "int128", "int256":
		b, err := d.bytesValue(dec, next)
		n := 16
		if typ == "int256" {
			n = 32
		}
		if err != nil || len(b) != n {
			return d.errf("want %d bytes in base64 for %s", n, typ)
		}
		d.buf.Put(b)
	case "Bool":
		if next != jx.Bool {
			return d.wantErr("boolean", next)
		}
		v, _ := dec.Bool()
		d.buf.PutBool(v)
	case "!X", "X":
		if next != jx.Object {
			return d.wantErr("object (a method call)", next)
		}
		_, err := d.object(raw, nil, "", true, true)
		return err
	default:
		if inner, bare, ok := vectorOf(typ); ok {
			return d.vector(dec, next, inner, bare)
		}
		if strings.HasPrefix(typ, "%") {
			_, err := d.object(raw, nil, typ[1:], false, false)
			return err
		}
		if c, ok := bareConstructor(typ); ok { // a bare constructor by name
			_, err := d.object(raw, c, "", false, false)
			return err
		}
		if (next == jx.String || next == jx.Number) && isPeerClass(typ) {
			return d.shorthand(dec, next, typ)
		}
		if next != jx.Object {
			return d.wantErr("object (a "+typ+")", next)
		}
		_, err := d.object(raw, nil, typ, true, false)
		return err
	}
	return nil
}

// isPeerClass reports whether typ is one of PeerClasses.
func isPeerClass(typ string) bool {
	for _, c := range PeerClasses {
		if c == typ {
			return true
		}
	}
	return false
}

func (d *jsonDecoder) vector(dec *jx.Decoder, next jx.Type, inner string, bare bool) error {
	if next != jx.Array {
		return d.errf("want array, got %s", jsonKind(next))
	}
	if !bare {
		d.buf.PutID(vectorID)
	}
	countAt := len(d.buf.Buf)
	d.buf.PutInt(0)
	n := 0
	err := dec.Arr(func(dec *jx.Decoder) error {
		raw, err := dec.Raw()
		if err != nil {
			return d.errf("invalid JSON: %v", err)
		}
		d.path.pushIndex(n)
		err = d.value(raw, inner)
		d.path.pop()
		if err != nil {
			return err
		}
		n++
		return nil
	})
	if err != nil {
		var je *JSONError
		if errors.As(err, &je) {
			return je
		}
		return d.errf("invalid JSON: %v", err)
	}
	binary.LittleEndian.PutUint32(d.buf.Buf[countAt:], uint32(n))
	return nil
}

func (d *jsonDecoder) shorthand(dec *jx.Decoder, next jx.Type, class string) error {
	var s string
	if next == jx.Number {
		n, err := dec.Num()
		if err != nil {
			return d.errf("%v", err)
		}
		s = n.String()
	} else {
		s, _ = dec.Str()
	}
	if d.opts.Resolver == nil {
		return d.errf(`peer shorthand %q needs a resolver; give a %s object with "_" instead`, s, class)
	}
	obj, err := d.opts.Resolver.Resolve(d.ctx, class, s)
	if err != nil {
		return &JSONError{Path: d.path.String(), Err: err}
	}
	if err := obj.Encode(&d.buf); err != nil {
		return d.errf("encode resolved %s: %v", class, err)
	}
	return nil
}

// vectorOf parses "Vector<T>" (boxed) and "vector<T>" (bare).
func vectorOf(typ string) (inner string, bare, ok bool) {
	switch {
	case strings.HasPrefix(typ, "Vector<") && strings.HasSuffix(typ, ">"):
		return typ[len("Vector<") : len(typ)-1], false, true
	case strings.HasPrefix(typ, "vector<") && strings.HasSuffix(typ, ">"):
		return typ[len("vector<") : len(typ)-1], true, true
	}
	return "", false, false
}

// longValue accepts a JSON integer or a decimal string (JavaScript cannot
// hold every 64-bit integer in a number).
func longValue(dec *jx.Decoder, next jx.Type) (int64, error) {
	switch next {
	case jx.Number:
		v, err := dec.Int64()
		if err != nil {
			return 0, fmt.Errorf("want a 64-bit integer: %v", err)
		}
		return v, nil
	case jx.String:
		s, _ := dec.Str()
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("want a 64-bit integer, got string %q", s)
		}
		return v, nil
	}
	return 0, fmt.Errorf("want integer, got %s", jsonKind(next))
}

// base64Encodings are the spellings bytesValue accepts, in the order tried.
var base64Encodings = [...]*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding}

// bytesValue decodes a base64 string into d.b64, which the caller must
// copy out before the next call.
func (d *jsonDecoder) bytesValue(dec *jx.Decoder, next jx.Type) ([]byte, error) {
	if next != jx.String {
		return nil, fmt.Errorf("want base64 string, got %s", jsonKind(next))
	}
	s, _ := dec.StrAppend(d.str[:0])
	d.str = s
	for _, enc := range base64Encodings {
		b, err := enc.AppendDecode(d.b64[:0], s)
		d.b64 = b[:0]
		if err == nil {
			return b, nil
		}
	}
	return nil, fmt.Errorf("want base64 string, got %q", string(s))
}
