package tl

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"

	"github.com/go-faster/jx"
	"github.com/gotd/td/bin"
)

// vectorID is the constructor of a boxed Vector (MTProto: vector#1cb5c415).
const vectorID = 0x1cb5c415

// Resolver turns a peer shorthand ("@durov", "me", "t.me/name", a numeric
// id) into an input object of the class want: "InputPeer", "InputUser" or
// "InputChannel". The entity cache implements it.
type Resolver interface {
	Resolve(ctx context.Context, want, shorthand string) (bin.Encoder, error)
}

// PeerClasses are the field types for which a JSON string or number is a
// shorthand handed to the Resolver.
var PeerClasses = []string{"InputPeer", "InputUser", "InputChannel"}

// DecodeOptions configures JSON decoding.
type DecodeOptions struct {
	// Resolver handles peer shorthands; without it a shorthand is an error.
	Resolver Resolver
	// RandomID, if set, fills a missing required random_id:long field, as
	// Telethon does for sendMessage. The value must be random: the server
	// deduplicates messages by it.
	RandomID func() int64
}

// JSONError is a decoding error at a JSON path such as
// "params.peer.user_id".
type JSONError struct {
	Path string
	Err  error
}

func (e *JSONError) Error() string { return e.Path + ": " + e.Err.Error() }
func (e *JSONError) Unwrap() error { return e.Err }

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

// DecodeJSON decodes any TL object (a method call or a constructor) from
// its JSON form: the constructor or method name under "_", fields by schema
// name. It returns gotd's Go type for it (*tg.MessagesSendMessageRequest).
func DecodeJSON(ctx context.Context, data []byte, opts DecodeOptions) (bin.Object, error) {
	d := getDecoder()
	defer d.release()
	return d.decode(ctx, opts, "$", data, nil)
}

// emptyParams stands for missing params; it is only read.
var emptyParams = []byte("{}")

// DecodeRequest decodes the parameters of a method call given by name, as a
// tlworker job carries them: {"peer":"@alice","message":"hi"}. A "_" in
// params, if present, must name the same method. Errors name the JSON path
// from "params".
func DecodeRequest(ctx context.Context, method string, params []byte, opts DecodeOptions) (bin.Object, error) {
	def, err := Method(method)
	if err != nil {
		return nil, err
	}
	if len(params) == 0 {
		params = emptyParams
	}
	d := getDecoder()
	defer d.release()
	return d.decode(ctx, opts, "params", params, def)
}

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
	// str holds the last decoded string, b64 the last decoded base64.
	str, b64 []byte
}

var decoderPool = sync.Pool{New: func() any { return new(jsonDecoder) }}

// maxPooledBuf bounds the buffers a pooled decoder or encoder keeps, so
// that one huge call does not pin its memory.
const maxPooledBuf = 64 << 10

func getDecoder() *jsonDecoder { return decoderPool.Get().(*jsonDecoder) }

// decode decodes the JSON object data: the definition def, or if nil the
// one its "_" names. root names data in errors.
func (d *jsonDecoder) decode(ctx context.Context, opts DecodeOptions, root string, data []byte, def *Definition) (bin.Object, error) {
	d.ctx, d.opts = ctx, opts
	d.path.push(root)
	def, err := d.object(data, def, "", true, true)
	if err != nil {
		return nil, err
	}
	return d.build(def)
}

// release returns d to the pool, dropping what refers to the caller's data.
func (d *jsonDecoder) release() {
	if cap(d.buf.Buf) > maxPooledBuf || cap(d.str) > maxPooledBuf || cap(d.b64) > maxPooledBuf || cap(d.fields) > 1024 || cap(d.path) > 1024 || len(d.decs) > 64 {
		return
	}
	d.ctx, d.opts = nil, DecodeOptions{}
	d.buf.Reset()
	clear(d.fields[:cap(d.fields)])
	d.fields = d.fields[:0]
	d.path = d.path[:0]
	d.str, d.b64 = d.str[:0], d.b64[:0]
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

func (d *jsonDecoder) build(def *Definition) (bin.Object, error) {
	obj, err := newObject(def)
	if err != nil {
		return nil, err
	}
	encoded := d.buf.Buf
	err = obj.Decode(&d.buf)
	d.buf.Buf = encoded[:0]
	if err != nil {
		return nil, fmt.Errorf("%s: gotd could not decode the encoded object: %w", def.Name, err)
	}
	return obj, nil
}

type rawField struct {
	key []byte // a slice of the input, or unescaped by jx
	raw jx.Raw
	// param is the index of the field in Definition.Params, -1 for "_".
	param int
}

// rawKind tells the type of a raw JSON value (as jx.Decoder.Raw returns it:
// no leading space) from its first byte.
func rawKind(raw jx.Raw) jx.Type {
	if len(raw) == 0 {
		return jx.Invalid
	}
	switch raw[0] {
	case '"':
		return jx.String
	case '{':
		return jx.Object
	case '[':
		return jx.Array
	case 't', 'f':
		return jx.Bool
	case 'n':
		return jx.Null
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		return jx.Number
	}
	return jx.Invalid
}

func jsonKind(t jx.Type) string {
	switch t {
	case jx.String:
		return "string"
	case jx.Number:
		return "number"
	case jx.Bool:
		return "boolean"
	case jx.Null:
		return "null"
	case jx.Array:
		return "array"
	case jx.Object:
		return "object"
	}
	return "invalid JSON"
}

// object encodes a JSON object into d.buf. def fixes the definition (a
// method by name); else "_" names it, and class, if set, must contain it.
// methods allows "_" to name a method (for generic !X fields).
func (d *jsonDecoder) object(data []byte, def *Definition, class string, boxed, methods bool) (*Definition, error) {
	// No defer: with this many returns it would not be open-coded.
	base := len(d.fields)
	def, err := d.fieldsOf(base, data, def, class, boxed, methods)
	d.fields = d.fields[:base]
	return def, err
}

// fieldsOf is object for the fields it pushes at d.fields[base:].
func (d *jsonDecoder) fieldsOf(base int, data []byte, def *Definition, class string, boxed, methods bool) (*Definition, error) {
	if err := d.collect(data); err != nil {
		return nil, err
	}
	// Nested objects push past the end of this one's fields, so the slice
	// stays valid even if they grow d.fields.
	fields := d.fields[base:len(d.fields):len(d.fields)]
	for i := range fields {
		if string(fields[i].key) != "_" {
			continue
		}
		c, err := d.named(fields[i].raw, def, class, methods)
		if err != nil {
			return nil, err
		}
		def = c
		break
	}
	if def == nil {
		if cs := Constructors(class); len(cs) == 1 {
			def = cs[0]
		} else if class != "" {
			return nil, d.errf(`missing "_": name one of the %s constructors: %s`, class, constructorNames(class))
		} else {
			return nil, d.errf(`missing "_" (the constructor or method name)`)
		}
	}
	// Unknown fields first: a misspelt name is the likely cause of any
	// "missing field" that would follow.
	for i := range fields {
		f := &fields[i]
		if string(f.key) == "_" {
			f.param = -1
			continue
		}
		f.param = paramIndex(def, f.key)
		if f.param < 0 {
			key := string(f.key)
			return nil, d.fieldErrf(key, "unknown field of %s%s; valid fields: %s", def.Name, closestField(def, key), fieldNames(def))
		}
	}
	if boxed {
		d.buf.PutID(def.ID)
	}
	// Flags words are filled in when their fields are known. No definition
	// has more than two; more would spill to the heap.
	type flagSlot struct {
		name string
		off  int
		val  uint32
	}
	var slots [2]flagSlot
	flags := slots[:0]
	for pi := range def.Params {
		p := &def.Params[pi]
		if p.IsFlags() {
			flags = append(flags, flagSlot{name: p.Name, off: len(d.buf.Buf)})
			d.buf.PutUint32(0)
			continue
		}
		var raw jx.Raw
		for i := range fields {
			if fields[i].param == pi {
				raw = fields[i].raw
				break
			}
		}
		if raw == nil || rawKind(raw) == jx.Null {
			if p.Optional() {
				continue
			}
			if p.Name == "random_id" && p.Type == "long" && d.opts.RandomID != nil {
				d.buf.PutLong(d.opts.RandomID())
				continue
			}
			return nil, d.fieldErrf(p.Name, "missing required field (%s)", p.Type)
		}
		if p.Optional() {
			set := true
			if p.Type == "true" {
				k := rawKind(raw)
				if k != jx.Bool {
					return nil, d.fieldErrf(p.Name, "want boolean, got %s", jsonKind(k))
				}
				set = raw[0] == 't'
			}
			if set {
				for i := range flags {
					if flags[i].name == p.Flag {
						flags[i].val |= 1 << p.Bit
					}
				}
			}
			if p.Type == "true" {
				continue
			}
		}
		d.path.push(p.Name)
		err := d.value(raw, p.Type)
		d.path.pop()
		if err != nil {
			return nil, err
		}
	}
	for _, f := range flags {
		binary.LittleEndian.PutUint32(d.buf.Buf[f.off:], f.val)
	}
	return def, nil
}

// collect pushes the fields of the JSON object data onto d.fields.
func (d *jsonDecoder) collect(data []byte) error {
	dec := d.reader(data)
	defer d.done(dec)
	if t := dec.Next(); t != jx.Object {
		return d.errf("want object, got %s", jsonKind(t))
	}
	base := len(d.fields)
	err := dec.ObjBytes(func(dec *jx.Decoder, key []byte) error {
		raw, err := dec.Raw()
		if err != nil {
			return err
		}
		for _, f := range d.fields[base:] {
			if string(f.key) == string(key) {
				return d.fieldErrf(string(key), "field given twice")
			}
		}
		d.fields = append(d.fields, rawField{key: key, raw: raw})
		return nil
	})
	if err != nil {
		var je *JSONError
		if errors.As(err, &je) {
			return je
		}
		return d.errf("invalid JSON: %v", err)
	}
	return nil
}

// named returns the definition that the "_" value raw names.
func (d *jsonDecoder) named(raw jx.Raw, def *Definition, class string, methods bool) (*Definition, error) {
	dec := d.reader(raw)
	defer d.done(dec)
	name, err := dec.StrBytes()
	if err != nil {
		return nil, d.fieldErrf("_", "want a constructor name (string), got %s", jsonKind(rawKind(raw)))
	}
	named, err := d.lookup(name, class, methods)
	if err != nil {
		return nil, err
	}
	if def != nil && named != def {
		return nil, d.fieldErrf("_", "%q given for %s", string(name), def.Name)
	}
	return named, nil
}

// paramIndex returns the index in def.Params of the field named key, or -1
// (flags words are not fields).
func paramIndex(def *Definition, key []byte) int {
	for i := range def.Params {
		if p := &def.Params[i]; p.Name == string(key) && !p.IsFlags() {
			return i
		}
	}
	return -1
}

// lookup finds the definition a "_" names. name may be a slice of the
// input: it is converted to a string only for an error.
func (d *jsonDecoder) lookup(name []byte, class string, methods bool) (*Definition, error) {
	r := reg()
	if c, ok := r.constructors[string(name)]; ok {
		if class != "" && c.Type != class {
			return nil, d.fieldErrf("_", "%s is a %s, want a %s: one of %s", string(name), c.Type, class, constructorNames(class))
		}
		return c, nil
	}
	if m, ok := r.methods[string(name)]; ok {
		if !methods {
			return nil, d.fieldErrf("_", "%s is a method, want a %s constructor", string(name), class)
		}
		return m, nil
	}
	if class != "" {
		return nil, d.fieldErrf("_", "unknown constructor %q; want one of %s", string(name), constructorNames(class))
	}
	return nil, d.fieldErrf("_", "unknown constructor or method %q", string(name))
}

func constructorNames(class string) string {
	cs := Constructors(class)
	names := make([]string, 0, len(cs))
	for _, c := range cs {
		names = append(names, c.Name)
	}
	if len(names) > 12 {
		names = append(names[:12], fmt.Sprintf("… (%d in all)", len(cs)))
	}
	return strings.Join(names, ", ")
}

func closestField(def *Definition, key string) string {
	best, bestD := "", 3
	for _, p := range def.Params {
		if d := levenshtein(key, p.Name); d < bestD && !p.IsFlags() {
			best, bestD = p.Name, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

func fieldNames(def *Definition) string {
	var names []string
	for _, p := range def.Params {
		if !p.IsFlags() {
			names = append(names, p.Name)
		}
	}
	if len(names) == 0 {
		return "(none)"
	}
	return strings.Join(names, ", ")
}

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
