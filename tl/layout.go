package tl

import "github.com/go-faster/jx"

// layout is a definition's params classified once, so that BinaryToJSON
// walks them without comparing type and flag names per call. (The decoder
// does not use it: for the few fields of a request, the lookup costs more
// than it saves.)
type layout struct {
	def    *Definition
	params []paramLayout // one per def.Params
	// text is the JSON the encoder writes around the values, as jx writes
	// it: the object's start and "_" (head), then each param's comma and
	// key (paramLayout.key).
	text []byte
	head int // text[:head] is `{"_":"name"`
}

type paramKind uint8

const (
	kindFlags    paramKind = iota // a flags word (#)
	kindRequired                  // always present
	kindOptional                  // present if its flag bit is set
	kindTrue                      // an optional true: only the flag bit
)

type paramLayout struct {
	kind paramKind
	// word is, for an optional param, which of the definition's first two
	// flags words (by position) holds its bit: the last one before it with
	// the name in Param.Flag; -1 if none, and then the param is never
	// present. This is how BinaryToJSON has always read flags.
	word int8
	// key, keyEnd: text[key:keyEnd] is `,"name":` for this param.
	key, keyEnd int32
}

func newLayout(def *Definition) *layout {
	l := &layout{def: def, params: make([]paramLayout, len(def.Params))}
	w := jx.Writer{Buf: make([]byte, 0, len(def.Name)+8+len(def.Params)*16)}
	w.ObjStart()
	w.RawStr(`"_":`)
	w.Str(def.Name)
	l.head = len(w.Buf)
	var words []string
	for i := range def.Params {
		p := &def.Params[i]
		pl := &l.params[i]
		if !p.IsFlags() {
			pl.key = int32(len(w.Buf))
			w.Comma()
			w.FieldStart(p.Name)
			pl.keyEnd = int32(len(w.Buf))
		}
		switch {
		case p.IsFlags():
			pl.kind = kindFlags
			if len(words) < 2 {
				words = append(words, p.Name)
			}
			continue
		case !p.Optional():
			pl.kind = kindRequired
			continue
		case p.Type == "true":
			pl.kind = kindTrue
		default:
			pl.kind = kindOptional
		}
		pl.word = -1
		for w, name := range words {
			if name == p.Flag {
				pl.word = int8(w)
			}
		}
	}
	l.text = w.Buf
	return l
}

// layoutOf returns the layout of def, from the registry if def is there.
func layoutOf(def *Definition) *layout {
	if l, ok := reg().layouts[def.ID]; ok && l.def == def {
		return l
	}
	return newLayout(def)
}
