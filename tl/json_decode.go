package tl

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

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

func pathErr(path *jpath, format string, args ...any) error {
	return &JSONError{Path: path.String(), Err: fmt.Errorf(format, args...)}
}

// jpath is a JSON path built only when an error needs it: the decoder links
// one per level on the stack instead of concatenating strings per field.
type jpath struct {
	parent *jpath
	name   string
	index  int // element index when name is ""
}

func (p *jpath) field(name string) *jpath { return &jpath{parent: p, name: name} }

func (p *jpath) String() string {
	if p == nil {
		return ""
	}
	if p.name == "" {
		return p.parent.String() + "[" + strconv.Itoa(p.index) + "]"
	}
	if p.parent == nil {
		return p.name
	}
	return p.parent.String() + "." + p.name
}

// DecodeJSON decodes any TL object (a method call or a constructor) from
// its JSON form: the constructor or method name under "_", fields by schema
// name. It returns gotd's Go type for it (*tg.MessagesSendMessageRequest).
func DecodeJSON(ctx context.Context, data []byte, opts DecodeOptions) (bin.Object, error) {
	d := jsonDecoder{ctx: ctx, opts: &opts}
	def, err := d.object(&jpath{name: "$"}, data, nil, "", true, true)
	if err != nil {
		return nil, err
	}
	return d.build(def)
}

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
		params = []byte("{}")
	}
	d := jsonDecoder{ctx: ctx, opts: &opts}
	if _, err := d.object(&jpath{name: "params"}, params, def, "", true, true); err != nil {
		return nil, err
	}
	return d.build(def)
}

type jsonDecoder struct {
	ctx  context.Context
	opts *DecodeOptions
	buf  bin.Buffer
}

func (d *jsonDecoder) build(def *Definition) (bin.Object, error) {
	obj, err := New(def.ID)
	if err != nil {
		return nil, err
	}
	if err := obj.Decode(&d.buf); err != nil {
		return nil, fmt.Errorf("%s: gotd could not decode the encoded object: %w", def.Name, err)
	}
	return obj, nil
}

type rawField struct {
	key string
	raw jx.Raw
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
func (d *jsonDecoder) object(path *jpath, data []byte, def *Definition, class string, boxed, methods bool) (*Definition, error) {
	var dec jx.Decoder
	dec.ResetBytes(data)
	if t := dec.Next(); t != jx.Object {
		return nil, pathErr(path, "want object, got %s", jsonKind(t))
	}
	fields := make([]rawField, 0, 8)
	if err := dec.ObjBytes(func(dec *jx.Decoder, key []byte) error {
		raw, err := dec.Raw()
		if err != nil {
			return err
		}
		if slices.ContainsFunc(fields, func(f rawField) bool { return f.key == string(key) }) {
			return pathErr(path.field(string(key)), "field given twice")
		}
		fields = append(fields, rawField{key: string(key), raw: raw})
		return nil
	}); err != nil {
		var je *JSONError
		if errors.As(err, &je) {
			return nil, je
		}
		return nil, pathErr(path, "invalid JSON: %v", err)
	}
	if i := slices.IndexFunc(fields, func(f rawField) bool { return f.key == "_" }); i >= 0 {
		name, err := jx.DecodeBytes(fields[i].raw).Str()
		if err != nil {
			return nil, pathErr(path.field("_"), "want a constructor name (string), got %s", jsonKind(rawKind(fields[i].raw)))
		}
		named, err := d.lookup(path, name, class, methods)
		if err != nil {
			return nil, err
		}
		if def != nil && named != def {
			return nil, pathErr(path.field("_"), "%q given for %s", name, def.Name)
		}
		def = named
	}
	if def == nil {
		if cs := Constructors(class); len(cs) == 1 {
			def = cs[0]
		} else if class != "" {
			return nil, pathErr(path, `missing "_": name one of the %s constructors: %s`, class, constructorNames(class))
		} else {
			return nil, pathErr(path, `missing "_" (the constructor or method name)`)
		}
	}
	// Unknown fields first: a misspelt name is the likely cause of any
	// "missing field" that would follow.
	for _, f := range fields {
		if f.key != "_" && !slices.ContainsFunc(def.Params, func(p Param) bool { return p.Name == f.key && !p.IsFlags() }) {
			return nil, pathErr(path.field(f.key), "unknown field of %s%s; valid fields: %s", def.Name, closestField(def, f.key), fieldNames(def))
		}
	}
	if boxed {
		d.buf.PutID(def.ID)
	}
	type flagSlot struct {
		name string
		off  int
		val  uint32
	}
	var flags []flagSlot
	setBit := func(name string, bit int) {
		for i := range flags {
			if flags[i].name == name {
				flags[i].val |= 1 << bit
			}
		}
	}
	for _, p := range def.Params {
		if p.IsFlags() {
			flags = append(flags, flagSlot{name: p.Name, off: len(d.buf.Buf)})
			d.buf.PutUint32(0)
			continue
		}
		fp := jpath{parent: path, name: p.Name}
		i := slices.IndexFunc(fields, func(f rawField) bool { return f.key == p.Name })
		if i < 0 || rawKind(fields[i].raw) == jx.Null {
			if p.Optional() {
				continue
			}
			if p.Name == "random_id" && p.Type == "long" && d.opts.RandomID != nil {
				d.buf.PutLong(d.opts.RandomID())
				continue
			}
			return nil, pathErr(&fp, "missing required field (%s)", p.Type)
		}
		if p.Optional() {
			if p.Type == "true" {
				k := rawKind(fields[i].raw)
				v := k == jx.Bool && fields[i].raw[0] == 't'
				var err error
				if k != jx.Bool {
					err = errors.New("not a boolean")
				}
				if err != nil {
					return nil, pathErr(&fp, "want boolean, got %s", jsonKind(rawKind(fields[i].raw)))
				}
				if v {
					setBit(p.Flag, p.Bit)
				}
				continue
			}
			setBit(p.Flag, p.Bit)
		}
		if err := d.value(fp, fields[i].raw, p.Type); err != nil {
			return nil, err
		}
	}
	for _, f := range flags {
		binary.LittleEndian.PutUint32(d.buf.Buf[f.off:], f.val)
	}
	return def, nil
}

func (d *jsonDecoder) lookup(path *jpath, name, class string, methods bool) (*Definition, error) {
	if c, ok := Constructor(name); ok {
		if class != "" && c.Type != class {
			return nil, pathErr(path.field("_"), "%s is a %s, want a %s: one of %s", name, c.Type, class, constructorNames(class))
		}
		return c, nil
	}
	if m, ok := reg().methods[name]; ok {
		if !methods {
			return nil, pathErr(path.field("_"), "%s is a method, want a %s constructor", name, class)
		}
		return m, nil
	}
	if class != "" {
		return nil, pathErr(path.field("_"), "unknown constructor %q; want one of %s", name, constructorNames(class))
	}
	return nil, pathErr(path.field("_"), "unknown constructor or method %q", name)
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
func (d *jsonDecoder) value(at jpath, raw jx.Raw, typ string) error {
	path := &at // does not escape: errors copy the path out as a string
	var dec jx.Decoder
	dec.ResetBytes(raw)
	next := dec.Next()
	want := func(what string) error { return pathErr(path, "want %s, got %s", what, jsonKind(next)) }
	// child is the path for a nested object, which keeps a pointer to it.
	child := func() *jpath { p := at; return &p }
	switch typ {
	case "int":
		if next != jx.Number {
			return want("integer")
		}
		v, err := dec.Int64()
		if err != nil || v < math.MinInt32 || v > math.MaxUint32 {
			return pathErr(path, "want a 32-bit integer, got %s", raw)
		}
		d.buf.PutInt32(int32(v))
	case "long":
		v, err := longValue(&dec, next)
		if err != nil {
			return pathErr(path, "%v", err)
		}
		d.buf.PutLong(v)
	case "double":
		if next != jx.Number {
			return want("number")
		}
		v, err := dec.Float64()
		if err != nil {
			return pathErr(path, "%v", err)
		}
		d.buf.PutDouble(v)
	case "string":
		if next != jx.String {
			return want("string")
		}
		v, err := dec.Str()
		if err != nil {
			return pathErr(path, "%v", err)
		}
		d.buf.PutString(v)
	case "bytes":
		b, err := bytesValue(&dec, next)
		if err != nil {
			return pathErr(path, "%v", err)
		}
		d.buf.PutBytes(b)
	case "int128", "int256":
		b, err := bytesValue(&dec, next)
		n := map[string]int{"int128": 16, "int256": 32}[typ]
		if err != nil || len(b) != n {
			return pathErr(path, "want %d bytes in base64 for %s", n, typ)
		}
		d.buf.Put(b)
	case "Bool":
		if next != jx.Bool {
			return want("boolean")
		}
		v, _ := dec.Bool()
		d.buf.PutBool(v)
	case "!X", "X":
		if next != jx.Object {
			return want("object (a method call)")
		}
		_, err := d.object(child(), raw, nil, "", true, true)
		return err
	default:
		if inner, bare, ok := vectorOf(typ); ok {
			return d.vector(child(), &dec, next, inner, bare)
		}
		if strings.HasPrefix(typ, "%") {
			_, err := d.object(child(), raw, nil, typ[1:], false, false)
			return err
		}
		if c, ok := Constructor(typ); ok { // a bare constructor by name
			_, err := d.object(child(), raw, c, "", false, false)
			return err
		}
		if (next == jx.String || next == jx.Number) && slices.Contains(PeerClasses, typ) {
			return d.shorthand(path, &dec, next, typ)
		}
		if next != jx.Object {
			return want(fmt.Sprintf("object (a %s)", typ))
		}
		_, err := d.object(child(), raw, nil, typ, true, false)
		return err
	}
	return nil
}

func (d *jsonDecoder) vector(path *jpath, dec *jx.Decoder, next jx.Type, inner string, bare bool) error {
	if next != jx.Array {
		return pathErr(path, "want array, got %s", jsonKind(next))
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
			return pathErr(path, "invalid JSON: %v", err)
		}
		if err := d.value(jpath{parent: path, index: n}, raw, inner); err != nil {
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
		return pathErr(path, "invalid JSON: %v", err)
	}
	binary.LittleEndian.PutUint32(d.buf.Buf[countAt:], uint32(n))
	return nil
}

func (d *jsonDecoder) shorthand(path *jpath, dec *jx.Decoder, next jx.Type, class string) error {
	var s string
	if next == jx.Number {
		n, err := dec.Num()
		if err != nil {
			return pathErr(path, "%v", err)
		}
		s = n.String()
	} else {
		s, _ = dec.Str()
	}
	if d.opts.Resolver == nil {
		return pathErr(path, `peer shorthand %q needs a resolver; give a %s object with "_" instead`, s, class)
	}
	obj, err := d.opts.Resolver.Resolve(d.ctx, class, s)
	if err != nil {
		return &JSONError{Path: path.String(), Err: err}
	}
	if err := obj.Encode(&d.buf); err != nil {
		return pathErr(path, "encode resolved %s: %v", class, err)
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

func bytesValue(dec *jx.Decoder, next jx.Type) ([]byte, error) {
	if next != jx.String {
		return nil, fmt.Errorf("want base64 string, got %s", jsonKind(next))
	}
	s, _ := dec.Str()
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return b, nil
		}
	}
	return nil, fmt.Errorf("want base64 string, got %q", s)
}
