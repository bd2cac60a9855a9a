package tl

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/gotd/td/bin"
)

// The codec reuses pooled buffers between calls; nothing of one call may
// show in another. Each case is decoded with a fresh decoder, then through
// the pool in several orders (long inputs before short ones, errors in
// between) and from two goroutines, and must give the same result.

var poolOpts = []DecodeOptions{{}, {Resolver: failResolver{}, RandomID: func() int64 { return 0x1122334455667788 }}}

func decodeResult(obj bin.Object, err error) string {
	if err != nil {
		return "err " + err.Error()
	}
	var b bin.Buffer
	if err := obj.Encode(&b); err != nil {
		return "encode " + err.Error()
	}
	return fmt.Sprintf("%T %x", obj, b.Buf)
}

func freshDecode(method, params string, opts DecodeOptions) string {
	d := new(jsonDecoder)
	if method == "json" {
		return decodeResult(d.decode(context.Background(), opts, "$", []byte(params), nil))
	}
	def, err := Method(method)
	if err != nil {
		return decodeResult(nil, err)
	}
	p := []byte(params)
	if len(p) == 0 {
		p = emptyParams
	}
	return decodeResult(d.decode(context.Background(), opts, "params", p, def))
}

func pooledDecode(method, params string, opts DecodeOptions) string {
	if method == "json" {
		return decodeResult(DecodeJSON(context.Background(), []byte(params), opts))
	}
	return decodeResult(DecodeRequest(context.Background(), method, []byte(params), opts))
}

func TestDecodePoolDoesNotLeak(t *testing.T) {
	type run struct {
		i, opts int
	}
	var runs []run
	want := map[run]string{}
	for i, tc := range decodeGoldenCases {
		for o := range poolOpts {
			r := run{i, o}
			runs = append(runs, r)
			want[r] = freshDecode(tc.method, tc.params, poolOpts[o])
		}
	}
	check := func(t *testing.T, order []run) {
		for _, r := range order {
			tc := decodeGoldenCases[r.i]
			if got := pooledDecode(tc.method, tc.params, poolOpts[r.opts]); got != want[r] {
				t.Errorf("%s %s opts%d:\n got %s\nwant %s", tc.method, tc.params, r.opts, got, want[r])
			}
		}
	}
	reversed := make([]run, len(runs))
	for i, r := range runs {
		reversed[len(runs)-1-i] = r
	}
	check(t, runs)
	check(t, reversed)
	// Two goroutines share the pool; the race detector watches the buffers.
	var wg sync.WaitGroup
	for _, order := range [][]run{runs, reversed} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 3 {
				check(t, order)
			}
		}()
	}
	wg.Wait()
}

func TestBinaryToJSONPoolDoesNotLeak(t *testing.T) {
	big := encodeT(t, benchMessages())
	small := []byte{0x15, 0xc4, 0xb5, 0x1c, 2, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0}
	wantBig, err := BinaryToJSON(big, "messages.Messages")
	if err != nil {
		t.Fatal(err)
	}
	bigCopy := string(wantBig)
	check := func() {
		// A short result after a long one, an error between: nothing of
		// the previous output may remain.
		js, err := BinaryToJSON(big, "messages.Messages")
		if err != nil || string(js) != bigCopy {
			t.Errorf("big: %s %v", js, err)
		}
		if _, err := BinaryToJSON(big[:len(big)-3], "messages.Messages"); err == nil {
			t.Error("truncated result accepted")
		}
		js, err = BinaryToJSON(small, "Vector<int>")
		if err != nil || string(js) != `[1,2]` {
			t.Errorf("small: %s %v", js, err)
		}
		if cap(js) != len(js) {
			t.Errorf("output shares a buffer: cap %d, len %d", cap(js), len(js))
		}
	}
	check()
	// The caller owns the output: later calls must not write into it.
	if string(wantBig) != bigCopy {
		t.Fatal("an earlier output changed")
	}
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 50 {
				check()
			}
		}()
	}
	wg.Wait()
	if string(wantBig) != bigCopy {
		t.Fatal("an earlier output changed")
	}
}
