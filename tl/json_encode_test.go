package tl

import (
	"bytes"
	"testing"

	"github.com/gotd/td/bin"
)

// TestPeekBytesAgreesWithGotd: whatever the copy-free reader accepts, gotd
// reads the same value and consumes as much; what it declines is left to
// gotd whole.
func TestPeekBytesAgreesWithGotd(t *testing.T) {
	var inputs [][]byte
	for first := range 256 {
		for size := 0; size <= 300; size++ {
			buf := make([]byte, size)
			for i := range buf {
				buf[i] = byte(i*7 + 1)
			}
			if size > 0 {
				buf[0] = byte(first)
			}
			inputs = append(inputs, buf)
		}
	}
	for _, l := range []int{0, 1, 3, 4, 253, 254, 255, 256, 1000} {
		for extra := -5; extra <= 5; extra++ {
			size := 4 + l + extra
			if size < 0 {
				continue
			}
			buf := make([]byte, size)
			if size >= 4 {
				buf[0], buf[1], buf[2], buf[3] = 254, byte(l), byte(l>>8), byte(l>>16)
			}
			inputs = append(inputs, buf)
		}
	}
	accepted := 0
	for _, in := range inputs {
		x := jsonEncoder{b: bin.Buffer{Buf: in}}
		v, ok := x.peekBytes()
		if !ok {
			if len(x.b.Buf) != len(in) {
				t.Fatalf("% x: declined but consumed", in)
			}
			continue
		}
		accepted++
		g := bin.Buffer{Buf: in}
		want, err := g.Bytes()
		if err != nil || !bytes.Equal(v, want) || len(g.Buf) != len(x.b.Buf) {
			t.Fatalf("% x: peek %x (left %d), gotd %x (left %d) %v", in, v, len(x.b.Buf), want, len(g.Buf), err)
		}
		g = bin.Buffer{Buf: in}
		if s, err := g.String(); err != nil || s != string(v) {
			t.Fatalf("% x: gotd string %q %v", in, s, err)
		}
	}
	if accepted < len(inputs)/2 {
		t.Fatalf("only %d of %d accepted", accepted, len(inputs))
	}
}
