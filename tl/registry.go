package tl

import (
	"errors"
	"fmt"
	"reflect"
	"sync"

	"github.com/gotd/td/bin"
	"github.com/gotd/td/tg"
)

//go:generate go run ./internal/gen -out schema_gen.go

// Layer is the API layer of the schema and of gotd's tg package.
const Layer = tg.Layer

type registry struct {
	methods      map[string]*Definition
	constructors map[string]*Definition
	byID         map[uint32]*Definition
	classes      map[string][]*Definition
	newObject    map[uint32]func() bin.Object
	methodList   []*Definition
	layouts      map[uint32]*layout // by ID, as byID
	// capitalConstructor: some constructor is named like a class, so a
	// capitalised type may still name a constructor (see bareConstructor).
	capitalConstructor bool
}

var reg = sync.OnceValue(func() *registry {
	r := &registry{
		methods:      make(map[string]*Definition, 1024),
		constructors: make(map[string]*Definition, 2048),
		byID:         make(map[uint32]*Definition, 3072),
		classes:      make(map[string][]*Definition, 1024),
		newObject:    tg.TypesConstructorMap(),
		layouts:      make(map[uint32]*layout, 3072),
	}
	for i := range definitions {
		d := &definitions[i]
		r.byID[d.ID] = d
		r.layouts[d.ID] = newLayout(d)
		d.sharedBits = sharesBits(d)
		if d.Method {
			r.methods[d.Name] = d
			r.methodList = append(r.methodList, d)
			continue
		}
		r.constructors[d.Name] = d
		r.capitalConstructor = r.capitalConstructor || isBoxed(d.Name)
		r.classes[d.Type] = append(r.classes[d.Type], d)
	}
	return r
})

// UnknownMethodError reports a method name that is not in the schema, with
// the closest names.
type UnknownMethodError struct {
	Name        string
	Suggestions []string
}

func (e *UnknownMethodError) Error() string {
	if len(e.Suggestions) == 0 {
		return fmt.Sprintf("unknown method %q (layer %d)", e.Name, Layer)
	}
	return fmt.Sprintf("unknown method %q (layer %d); did you mean %s?", e.Name, Layer, quoteList(e.Suggestions))
}

// Method returns the schema definition of a method by name
// ("messages.sendMessage"), or an *UnknownMethodError.
func Method(name string) (*Definition, error) {
	if d, ok := reg().methods[name]; ok {
		return d, nil
	}
	return nil, &UnknownMethodError{Name: name, Suggestions: suggest(name, 3)}
}

// Constructor returns a constructor by schema name ("inputPeerSelf").
func Constructor(name string) (*Definition, bool) {
	d, ok := reg().constructors[name]
	return d, ok
}

// bareConstructor is Constructor for a field type that may name a bare
// constructor. The codecs ask it for every object-typed field; it skips the
// lookup for class names, which TL capitalises and constructors do not.
func bareConstructor(typ string) (*Definition, bool) {
	r := reg()
	if !r.capitalConstructor && isBoxed(typ) {
		return nil, false
	}
	d, ok := r.constructors[typ]
	return d, ok
}

// ByID returns the constructor or method with a type id.
func ByID(id uint32) (*Definition, bool) {
	d, ok := reg().byID[id]
	return d, ok
}

// Methods returns every method of the schema, in schema order. The slice is
// shared: do not modify it.
func Methods() []*Definition { return reg().methodList }

// Constructors returns the constructors of a boxed type ("InputPeer").
func Constructors(name string) []*Definition { return reg().classes[name] }

// New returns a new zero value of gotd's Go type for a type id
// (*tg.MessagesSendMessageRequest for messages.sendMessage), ready to
// Decode into.
func New(id uint32) (bin.Object, error) {
	r := reg()
	f, ok := r.newObject[id]
	if !ok {
		if d, known := r.byID[id]; known {
			return nil, fmt.Errorf("%s#%08x has no Go type in gotd's tg package", d.Name, id)
		}
		return nil, fmt.Errorf("unknown type id %#08x", id)
	}
	return construct(f, r.byID[id]), nil
}

// newObject is New for a definition from the registry, without looking it
// up again by id.
func newObject(def *Definition) (bin.Object, error) {
	f, ok := reg().newObject[def.ID]
	if !ok {
		return New(def.ID)
	}
	return construct(f, def), nil
}

// construct calls gotd's constructor f of the definition def (nil if
// unknown).
func construct(f func() bin.Object, def *Definition) bin.Object {
	obj := f()
	if def != nil && def.Generic {
		// gotd leaves the query of a generic wrapper nil and cannot decode
		// into nil: give it a holder for any object.
		q := reflect.ValueOf(obj).Elem().FieldByName("Query")
		if q.IsValid() && q.CanSet() {
			q.Set(reflect.ValueOf(&AnyObject{}))
		}
	}
	return obj
}

// AnyObject holds any boxed TL object. It is what New puts in the query
// field of generic wrappers (invokeWithLayer, initConnection, invokeAfterMsg
// and the other {X:Type} methods), so they decode whatever they wrap.
type AnyObject struct{ bin.Object }

// Decode decodes the boxed object at b by its type id.
func (a *AnyObject) Decode(b *bin.Buffer) error {
	id, err := b.PeekID()
	if err != nil {
		return err
	}
	obj, err := New(id)
	if err != nil {
		return err
	}
	if err := obj.Decode(b); err != nil {
		return err
	}
	a.Object = obj
	return nil
}

// Encode encodes the held object.
func (a *AnyObject) Encode(b *bin.Buffer) error {
	if a.Object == nil {
		return errors.New("tl: empty AnyObject")
	}
	return a.Object.Encode(b)
}

// NewRequest returns a zero request of gotd's Go type for a method name.
func NewRequest(method string) (bin.Object, *Definition, error) {
	d, err := Method(method)
	if err != nil {
		return nil, nil, err
	}
	obj, err := New(d.ID)
	if err != nil {
		return nil, nil, err
	}
	return obj, d, nil
}
