package tl

import "github.com/go-faster/jx"

// Flag bits shared by several fields. TL lets one bit guard more than one
// param: inputMediaPhoto has live_photo:flags.2?true and
// video:flags.2?InputDocument (18 definitions in layer 229 pair a true flag
// with a data field; inputMediaPoll's solution and solution_entities share
// flags.1). The encoder writes every field of a set bit; the decoder
// checks that the JSON gives them together.

// flagSlot is a flags word being filled in: its name, where it is in
// d.buf, and its bits so far.
type flagSlot struct {
	name string
	off  int
	val  uint32
}

// checkSharedBits enforces that the fields under one flag bit go together
// (inputMediaPhoto: live_photo:flags.2?true video:flags.2?InputDocument):
// once any of them sets the bit, each data field under it must be given
// and no true flag under it may be false. A true flag left out is implied.
// Without this, gotd would fail to decode the missing field with no JSON
// path, or a false flag would silently read back as true.
func (d *jsonDecoder) checkSharedBits(def *Definition, fields []rawField, flags []flagSlot) error {
	given := func(pi int) jx.Raw {
		for i := range fields {
			if fields[i].param == pi && rawKind(fields[i].raw) != jx.Null {
				return fields[i].raw
			}
		}
		return nil
	}
	for pi := range def.Params {
		p := &def.Params[pi]
		if !p.Optional() || p.IsFlags() || !bitSet(flags, p) {
			continue
		}
		raw := given(pi)
		isTrue := p.Type == "true"
		if raw != nil && (!isTrue || raw[0] == 't') {
			continue
		}
		if raw == nil && isTrue {
			continue // implied by the field that set the bit
		}
		// Name a field that set the bit.
		for qi := range def.Params {
			q := &def.Params[qi]
			if qi == pi || q.Flag != p.Flag || q.Bit != p.Bit {
				continue
			}
			qraw := given(qi)
			if qraw == nil || q.Type == "true" && qraw[0] != 't' {
				continue
			}
			how := "given"
			if q.Type == "true" {
				how = "true"
			}
			if isTrue {
				return d.fieldErrf(p.Name, "false, but %s is %s and shares %s.%d with it", q.Name, how, p.Flag, p.Bit)
			}
			return d.fieldErrf(p.Name, "missing: %s is %s and shares %s.%d with it", q.Name, how, p.Flag, p.Bit)
		}
	}
	return nil
}

// bitSet reports whether p's flag bit is set in flags.
func bitSet(flags []flagSlot, p *Param) bool {
	for _, f := range flags {
		if f.name == p.Flag {
			return f.val&(1<<p.Bit) != 0
		}
	}
	return false
}

// sharesBits reports whether some flag bit of d guards more than one
// param (inputMediaPhoto: live_photo:flags.2?true video:flags.2?InputDocument).
func sharesBits(d *Definition) bool {
	for i, p := range d.Params {
		for _, q := range d.Params[:i] {
			if p.Optional() && p.Flag == q.Flag && p.Bit == q.Bit {
				return true
			}
		}
	}
	return false
}
