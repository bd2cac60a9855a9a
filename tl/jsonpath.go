package tl

import "strconv"

// jsonPath is where the JSON codec is in a value, kept as a stack of
// fields and indexes and turned into text ("params.entities[0].offset")
// only when an error needs it. The codec pushes an element before it
// descends into a field or element and pops it when it returns, so a call
// that succeeds builds no strings.
type jsonPath []pathElem

type pathElem struct {
	name  string
	index int // element index when name is ""
}

func (p *jsonPath) push(name string) { *p = append(*p, pathElem{name: name}) }
func (p *jsonPath) pushIndex(i int)  { *p = append(*p, pathElem{index: i}) }
func (p *jsonPath) pop()             { *p = (*p)[:len(*p)-1] }

func (p jsonPath) String() string {
	var b []byte
	for i, e := range p {
		switch {
		case e.name == "":
			b = append(strconv.AppendInt(append(b, '['), int64(e.index), 10), ']')
		case i > 0:
			b = append(append(b, '.'), e.name...)
		default:
			b = append(b, e.name...)
		}
	}
	return string(b)
}
