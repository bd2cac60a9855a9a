package tl

import (
	"bytes"
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
		if bytes.IndexByte(raw, '\\') >= 0 && hasByteEscape(raw) {
			// Read the bytes the encoder escaped (jsonEncoder.str).
			d.esc = unescapeInvalid(d.esc[:0], raw)
			dec.ResetBytes(d.esc)
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

// strictBase64 is the one spelling of bytes: standard base64 with padding
// (RFC 4648 §4), as the encoder (and encoding/json) writes it. Strict
// refuses padding bits that are not zero, so each byte string has exactly
// one accepted spelling.
var strictBase64 = base64.StdEncoding.Strict()

// bytesValue decodes a base64 string into d.b64, which the caller must
// copy out before the next call.
func (d *jsonDecoder) bytesValue(dec *jx.Decoder, next jx.Type) ([]byte, error) {
	if next != jx.String {
		return nil, fmt.Errorf("want base64 string, got %s", jsonKind(next))
	}
	s, _ := dec.StrAppend(d.str[:0])
	d.str = s
	b, err := strictBase64.AppendDecode(d.b64[:0], s)
	d.b64 = b[:0]
	// The decoder skips line breaks; a length that does not match says
	// it did.
	if err == nil && base64.StdEncoding.EncodedLen(len(b)) == len(s) {
		return b, nil
	}
	return nil, base64Error(s)
}

// base64Error says why s is not standard base64 with padding.
func base64Error(s []byte) error {
	q := string(s)
	if len(q) > 40 {
		q = q[:37] + "..."
	}
	const want = "want standard base64 with \"=\" padding (RFC 4648 §4)"
	switch {
	case bytes.ContainsAny(s, "-_"):
		return fmt.Errorf("%s; %q uses the URL-safe alphabet (- and _ for + and /)", want, q)
	case bytes.ContainsAny(s, "\r\n"):
		return fmt.Errorf("%s; %q has a line break", want, q)
	case len(s)%4 != 0 && !bytes.ContainsFunc(s, func(r rune) bool { return !isBase64Char(r) }):
		return fmt.Errorf("%s; %q has %d characters, not a multiple of 4: the \"=\" padding is missing", want, q, len(s))
	case !bytes.ContainsFunc(s, func(r rune) bool { return !isBase64Char(r) && r != '=' }):
		return fmt.Errorf("%s; %q is not the canonical spelling (its unused bits are not zero)", want, q)
	}
	return fmt.Errorf("%s, got %q", want, q)
}

func isBase64Char(r rune) bool {
	return r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '+' || r == '/'
}

// hasByteEscape reports whether the JSON string raw holds an escape
// \udc80-\udcff that is not the second half of a surrogate pair: a byte of
// invalid UTF-8 as the encoder writes it.
func hasByteEscape(raw []byte) bool {
	for i := 0; i+5 < len(raw); i++ {
		if raw[i] != '\\' {
			continue
		}
		if r := hex4(raw[i+2 : i+6]); raw[i+1] == 'u' && r >= 0xdc80 && r <= 0xdcff {
			return true
		}
		i++ // the escaped character, which may be a backslash
	}
	return false
}

// unescapeInvalid appends the JSON string raw to dst with each lone escape
// \udc80-\udcff replaced by the byte 0x80-0xff it stands for (see
// jsonEncoder.str). Other escapes, surrogate pairs included, are copied
// for jx to read.
func unescapeInvalid(dst, raw []byte) []byte {
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c != '\\' || i+1 == len(raw) {
			dst = append(dst, c)
			continue
		}
		if raw[i+1] == 'u' && i+6 <= len(raw) {
			r := hex4(raw[i+2 : i+6])
			if r >= 0xd800 && r <= 0xdbff && i+12 <= len(raw) && raw[i+6] == '\\' && raw[i+7] == 'u' {
				if r2 := hex4(raw[i+8 : i+12]); r2 >= 0xdc00 && r2 <= 0xdfff {
					dst = append(dst, raw[i:i+12]...) // a pair: one character
					i += 11
					continue
				}
			}
			if r >= 0xdc80 && r <= 0xdcff {
				dst = append(dst, byte(r))
				i += 5
				continue
			}
		}
		dst = append(dst, c, raw[i+1])
		i++
	}
	return dst
}

// hex4 reads four hex digits, or returns -1.
func hex4(b []byte) int {
	v := 0
	for _, c := range b {
		switch {
		case c >= '0' && c <= '9':
			v = v<<4 | int(c-'0')
		case c >= 'a' && c <= 'f':
			v = v<<4 | int(c-'a'+10)
		case c >= 'A' && c <= 'F':
			v = v<<4 | int(c-'A'+10)
		default:
			return -1
		}
	}
	return v
}
