package tl

import (
	"bytes"
	"context"
	"encoding/binary"
	"flag"
	"os"
	"testing"

	"github.com/gotd/td/bin"
	"pgregory.net/rapid"
)

func TestMain(m *testing.M) {
	flag.Parse()
	// 815 methods × rapid's default 100 checks is slow under -race; ask for
	// more with -rapid.checks.
	if f := flag.Lookup("rapid.checks"); f != nil && !isSet("rapid.checks") {
		_ = f.Value.Set("8")
	}
	os.Exit(m.Run())
}

func isSet(name string) bool {
	set := false
	flag.Visit(func(f *flag.Flag) {
		if f.Name == name {
			set = true
		}
	})
	return set
}

// gen writes random TL values of schema types.
type gen struct {
	t *rapid.T
	b bin.Buffer
}

const genMaxDepth = 3

func (g *gen) object(def *Definition, boxed bool, depth int) {
	if boxed {
		g.b.PutID(def.ID)
	}
	type slot struct {
		name string
		off  int
		val  uint32
	}
	var flags []slot
	present := map[[2]any]bool{}
	for _, p := range def.Params {
		if p.IsFlags() {
			flags = append(flags, slot{name: p.Name, off: len(g.b.Buf)})
			g.b.PutUint32(0)
			continue
		}
		if p.Optional() {
			key := [2]any{p.Flag, p.Bit}
			on, seen := present[key]
			if !seen {
				// Fields sharing a bit are present together.
				on = depth < genMaxDepth && rapid.Bool().Draw(g.t, p.Name+"?")
				present[key] = on
			}
			if !on {
				continue
			}
			for i := range flags {
				if flags[i].name == p.Flag {
					flags[i].val |= 1 << p.Bit
				}
			}
			if p.Type == "true" {
				continue
			}
		}
		g.value(p.Type, depth)
	}
	for _, f := range flags {
		binary.LittleEndian.PutUint32(g.b.Buf[f.off:], f.val)
	}
}

func (g *gen) value(typ string, depth int) {
	t := g.t
	switch typ {
	case "int":
		g.b.PutInt32(rapid.Int32().Draw(t, "int"))
	case "long":
		g.b.PutLong(rapid.Int64().Draw(t, "long"))
	case "double":
		g.b.PutDouble(rapid.Float64Range(-1e15, 1e15).Draw(t, "double"))
	case "string":
		g.b.PutString(rapid.String().Draw(t, "string"))
	case "bytes":
		g.b.PutBytes(rapid.SliceOfN(rapid.Byte(), 0, 40).Draw(t, "bytes"))
	case "int128":
		g.b.Put(rapid.SliceOfN(rapid.Byte(), 16, 16).Draw(t, "int128"))
	case "int256":
		g.b.Put(rapid.SliceOfN(rapid.Byte(), 32, 32).Draw(t, "int256"))
	case "Bool":
		g.b.PutBool(rapid.Bool().Draw(t, "Bool"))
	case "!X", "X":
		g.object(g.pick(nonGenericMethods(), depth), true, depth+1)
	default:
		if inner, bare, ok := vectorOf(typ); ok {
			if !bare {
				g.b.PutID(vectorID)
			}
			n := 0
			if depth < genMaxDepth {
				n = rapid.IntRange(0, 2).Draw(t, "len")
			}
			g.b.PutInt(n)
			for i := 0; i < n; i++ {
				g.value(inner, depth+1)
			}
			return
		}
		if typ[0] == '%' {
			g.object(Constructors(typ[1:])[0], false, depth+1)
			return
		}
		if c, ok := Constructor(typ); ok {
			g.object(c, false, depth+1)
			return
		}
		g.object(g.pick(Constructors(typ), depth), true, depth+1)
	}
}

// pick draws a definition; past the depth limit, the one with the fewest
// fields, so recursive types end.
func (g *gen) pick(ds []*Definition, depth int) *Definition {
	if len(ds) == 0 {
		g.t.Fatalf("no constructors to pick from")
	}
	if depth >= genMaxDepth {
		best := ds[0]
		for _, d := range ds {
			if len(d.Params) < len(best.Params) {
				best = d
			}
		}
		return best
	}
	return rapid.SampledFrom(ds).Draw(g.t, "constructor")
}

func nonGenericMethods() []*Definition {
	var out []*Definition
	for _, m := range Methods() {
		if !m.Generic {
			out = append(out, m)
		}
	}
	return out
}

// TestJSONRoundTripEveryMethod fills every method's request with random
// values from the schema, lets gotd decode it into its Go type, and checks
// that JSON out and back gives the same object and the same JSON.
func TestJSONRoundTripEveryMethod(t *testing.T) {
	ctx := context.Background()
	for _, m := range Methods() {
		t.Run(m.Name, func(t *testing.T) {
			rapid.Check(t, func(rt *rapid.T) {
				g := gen{t: rt}
				g.object(m, true, 0)
				obj, err := New(m.ID)
				if err != nil {
					rt.Fatal(err)
				}
				if err := obj.Decode(&bin.Buffer{Buf: bytes.Clone(g.b.Buf)}); err != nil {
					rt.Fatalf("gotd rejects the generated request: %v", err)
				}
				var want bin.Buffer
				if err := obj.Encode(&want); err != nil {
					rt.Fatal(err)
				}
				js, err := EncodeJSON(obj)
				if err != nil {
					rt.Fatalf("encode JSON: %v", err)
				}
				back, err := DecodeJSON(ctx, js, DecodeOptions{})
				if err != nil {
					rt.Fatalf("decode JSON %s: %v", js, err)
				}
				var got bin.Buffer
				if err := back.Encode(&got); err != nil {
					rt.Fatal(err)
				}
				if !bytes.Equal(got.Buf, want.Buf) {
					rt.Fatalf("binary differs after JSON round trip\njson: %s", js)
				}
				js2, err := EncodeJSON(back)
				if err != nil || !bytes.Equal(js, js2) {
					rt.Fatalf("JSON differs:\n%s\n%s (%v)", js, js2, err)
				}
			})
		})
	}
}
