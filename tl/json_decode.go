package tl

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
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
	return DecodeParams(ctx, def, params, opts)
}

// DecodeParams is DecodeRequest for a method already looked up with
// Method: a sender of many calls of a few methods looks each up once.
func DecodeParams(ctx context.Context, def *Definition, params []byte, opts DecodeOptions) (bin.Object, error) {
	if def == nil || !def.Method {
		return nil, errors.New("tl: DecodeParams needs a method's definition")
	}
	if len(params) == 0 {
		params = emptyParams
	}
	d := getDecoder()
	defer d.release()
	return d.decode(ctx, opts, "params", params, def)
}

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
	// EncodeParams notes the call's own fields, not those of the objects
	// inside it.
	meta := d.meta.on
	d.meta.on = false
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
				from := len(d.buf.Buf)
				d.buf.PutLong(d.opts.RandomID())
				if meta {
					d.meta.note(p, from, len(d.buf.Buf))
				}
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
			if set && meta && p.Name == "allow_paid_floodskip" {
				d.meta.paid = true
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
		from := len(d.buf.Buf)
		err := d.value(raw, p.Type)
		d.path.pop()
		if err != nil {
			return nil, err
		}
		if meta {
			d.meta.note(p, from, len(d.buf.Buf))
		}
	}
	if def.sharedBits {
		if err := d.checkSharedBits(def, fields, flags); err != nil {
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
	if d.collectPlain(data) {
		return nil
	}
	return d.collectJX(data)
}

// collectJX is collect by jx, for any object.
func (d *jsonDecoder) collectJX(data []byte) error {
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

// collectPlain is collect for an object in the plain form most requests
// take: keys without escapes, and values that are strings without escapes
// or control characters, integers, true, false or null, no field given
// twice. It reads such an object without jx and reports true; for anything
// else it pushes nothing and reports false, and collect's jx path reads
// the object (and names what is wrong with it). The values it pushes are
// the raw values jx would give; value reads them as before.
func (d *jsonDecoder) collectPlain(data []byte) bool {
	base := len(d.fields)
	fail := func() bool { d.fields = d.fields[:base]; return false }
	i := skipSpace(data, 0)
	if i >= len(data) || data[i] != '{' {
		return false
	}
	i = skipSpace(data, i+1)
	if i < len(data) && data[i] == '}' {
		return skipSpace(data, i+1) == len(data)
	}
	for {
		key, n, ok := plainString(data, i)
		if !ok {
			return fail()
		}
		key = key[1 : len(key)-1]
		if i = skipSpace(data, n); i >= len(data) || data[i] != ':' {
			return fail()
		}
		i = skipSpace(data, i+1)
		if n, ok = plainScalar(data, i); !ok {
			return fail()
		}
		for _, f := range d.fields[base:] {
			if string(f.key) == string(key) {
				return fail() // the jx path names the error
			}
		}
		d.fields = append(d.fields, rawField{key: key, raw: data[i:n]})
		switch i = skipSpace(data, n); {
		case i >= len(data):
			return fail()
		case data[i] == ',':
			i = skipSpace(data, i+1)
		case data[i] == '}':
			if skipSpace(data, i+1) != len(data) {
				return fail()
			}
			return true
		default:
			return fail()
		}
	}
}

// plainString returns the JSON string at data[i], quotes included, when it
// has no escape and no control character, and the index past it.
func plainString(data []byte, i int) (s []byte, next int, ok bool) {
	if i >= len(data) || data[i] != '"' {
		return nil, 0, false
	}
	for k := i + 1; k < len(data); k++ {
		switch c := data[k]; {
		case c == '"':
			return data[i : k+1], k + 1, true
		case c == '\\' || c < 0x20:
			return nil, 0, false
		}
	}
	return nil, 0, false
}

// plainScalar returns the index past the plain JSON value at data[i]: a
// string (plainString), an integer, true, false or null; false for
// anything else (an object, an array, a fraction, an escape).
func plainScalar(data []byte, i int) (next int, ok bool) {
	if i >= len(data) {
		return 0, false
	}
	switch c := data[i]; {
	case c == '"':
		_, next, ok = plainString(data, i)
		return next, ok
	case c == 't':
		return plainWord(data, i, "true")
	case c == 'f':
		return plainWord(data, i, "false")
	case c == 'n':
		return plainWord(data, i, "null")
	case c == '-' || c >= '0' && c <= '9':
		k := i
		if c == '-' {
			k++
		}
		start := k
		for k < len(data) && data[k] >= '0' && data[k] <= '9' {
			k++
		}
		if k == start || data[start] == '0' && k-start > 1 {
			return 0, false // no digits, or a leading zero: not JSON
		}
		if k < len(data) && (data[k] == '.' || data[k] == 'e' || data[k] == 'E') {
			return 0, false
		}
		return k, true
	}
	return 0, false
}

func plainWord(data []byte, i int, word string) (int, bool) {
	if len(data)-i < len(word) || string(data[i:i+len(word)]) != word {
		return 0, false
	}
	return i + len(word), true
}

func skipSpace(data []byte, i int) int {
	for i < len(data) && (data[i] == ' ' || data[i] == '\t' || data[i] == '\n' || data[i] == '\r') {
		i++
	}
	return i
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
