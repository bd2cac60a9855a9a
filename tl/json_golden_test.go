package tl

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"strings"
	"testing"

	"github.com/gotd/td/bin"
	"github.com/gotd/td/tg"
)

// The golden files pin the JSON codec's output and error texts byte for
// byte, as the code before the allocation work produced them. Regenerate
// them only for an intended change of output:
//
//	go test -run Golden ./tl -update-golden
var updateGolden = flag.Bool("update-golden", false, "rewrite tl/testdata/*.golden")

func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := "testdata/" + name
	if *updateGolden {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(got, want) {
		return
	}
	gl, wl := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
	for i := 0; i < len(gl) || i < len(wl); i++ {
		var g, w string
		if i < len(gl) {
			g = gl[i]
		}
		if i < len(wl) {
			w = wl[i]
		}
		if g != w {
			t.Fatalf("%s line %d:\n got %s\nwant %s", path, i+1, g, w)
		}
	}
}

type failResolver struct{}

func (failResolver) Resolve(_ context.Context, want, s string) (bin.Encoder, error) {
	switch {
	case s == "bad":
		return nil, errors.New("no such peer")
	case s == "unencodable":
		return &AnyObject{}, nil
	case want == "InputUser":
		return &tg.InputUser{UserID: 777, AccessHash: 3}, nil
	case want == "InputChannel":
		return &tg.InputChannel{ChannelID: 5, AccessHash: 6}, nil
	}
	return &tg.InputPeerUser{UserID: 1, AccessHash: 2}, nil
}

// decodeGoldenCases reach every error of the decoder and the common
// successes; "json" as method means DecodeJSON.
var decodeGoldenCases = []struct{ method, params string }{
	{"messages.sendMessage", `{"peer":"me","message":"hi"}`},
	{"messages.sendMessage", `{"peer":"@alice","message":"hello \"quoted\" \u00e9\ud83d\ude00 \n","random_id":"-9223372036854775808"}`},
	{"messages.sendMessage", `{"peer":12345,"message":"hi","silent":true,"noforwards":false,"schedule_date":null}`},
	{"messages.sendMessage", `{"peer":-1001234567890,"message":"hi"}`},
	{"messages.sendMessage", `{"peer":"bad","message":"hi"}`},
	{"messages.sendMessage", `{"peer":"unencodable","message":"hi"}`},
	{"messages.sendMessage", `{"peer":"me","message":"hi","entities":[{"_":"messageEntityBold","offset":0,"length":2},{"_":"messageEntityTextUrl","offset":0,"length":1,"url":"u"}]}`},
	{"messages.sendMessage", `{"peer":"me","message":"hi","entities":[{"_":"messageEntityBold","offset":0,"length":2},{"_":"messageEntityBold","offset":0,"lenght":2}]}`},
	{"messages.sendMessage", `{"peer":"me","message":"hi","entities":[{"_":"messageEntityBold","offset":0,"length":2},5]}`},
	{"messages.sendMessage", `{"peer":"me","message":"hi","entities":[1,]}`},
	{"messages.sendMessage", `{"peer":"me","message":"hi","entities":[{"_":"inputPeerSelf"}]}`},
	{"messages.sendMessage", `{"peer":"me","message":"hi","entities":[{"offset":0}]}`},
	{"messages.sendMessage", `{"peer":"me","message":"hi","reply_to":{"_":"inputReplyToMessage","reply_to_msg_id":4294967296}}`},
	{"messages.sendMessage", `{"peer":"me","message":"hi","reply_to":{"_":"inputReplyToMessage","reply_to_msg_id":-2147483649}}`},
	{"messages.sendMessage", `{"peer":"me","message":"hi","reply_to":{"_":"inputReplyToMessage","reply_to_msg_id":4294967295}}`},
	{"messages.sendMessage", `{"peer":"me","message":"hi","reply_to":{"_":"inputReplyToMessage","reply_to_msg_id":1.5}}`},
	{"messages.sendMessage", `{"peer":"me","message":"hi","random_id":1.5}`},
	{"messages.sendMessage", `{"peer":"me","message":"hi","random_id":99999999999999999999}`},
	{"messages.sendMessage", `{"peer":"me","message":"hi","random_id":"0x10"}`},
	{"messages.sendMessage", `{"peer":"me","message":"hi","random_id":[1]}`},
	{"messages.sendMessage", `{"peer":"me","message":"hi","silent":1}`},
	{"messages.sendMessage", `{"peer":"me","message":"hi","silent":"true"}`},
	{"messages.sendMessage", `{"peer":"me","message":"a\qb"}`},
	{"messages.sendMessage", `{"peer":"me","message":"hi","message":"again"}`},
	{"messages.sendMessage", `{"peer":"me","mess\u0061ge":"escaped key"}`},
	{"messages.sendMessage", `{"peer":"me","":"empty key"}`},
	{"messages.sendMessage", `{"_":"messages.sendMessage","peer":"me","message":"hi"}`},
	{"messages.sendMessage", `{"_":"messages.getDialogs","peer":"me","message":"hi"}`},
	{"messages.sendMessage", `{"_":5,"peer":"me","message":"hi"}`},
	{"messages.sendMessage", `{"peer":true,"message":"hi"}`},
	{"messages.sendMessage", `{"peer":{"_":"nope"},"message":"hi"}`},
	{"messages.sendMessage", `{"peer":{"_":"messages.sendMessage"},"message":"hi"}`},
	{"messages.sendMessage", `{"peer":{"_":"inputPeerSelf","user_id":1},"message":"hi"}`},
	{"messages.sendMessage", `{"peer":{"_":"inputPeerSelf"},"message":"hi","flags":0}`},
	{"messages.sendMessage", `{"peer":{"_":"inputPeerSelf"},"message":"hi","randomid":1}`},
	{"messages.sendMessage", `{"peer":{"_":"inputPeerSelf"},"message":"hi","zzzzzzzzzzzz":1}`},
	{"messages.sendMessage", `{"peer":{"_":"inputPeerSelf"},"message":"hi"}`},
	{"messages.sendMessage", ``},
	{"messages.sendMessage", `null`},
	{"messages.sendMessage", ` {"peer":"me","message":"hi"} `},
	{"messages.sendMessage", `{"peer":"me","message":"hi"}x`},
	{"messages.sendMessage", `{"peer":"me" "message":"hi"}`},
	{"messages.sendMessage", `{"peer":"me","message":"hi`},
	{"messages.sendMessage", `{peer:"me"}`},
	{"messages.sendMessage", "\xff"},
	{"messages.sendMedia", `{"peer":"me","message":"","media":{"_":"inputMediaGeoPoint","geo_point":{"_":"inputGeoPoint","lat":55.75,"long":-37.6e0,"accuracy_radius":10}}}`},
	{"messages.sendMedia", `{"peer":"me","message":"","media":{"_":"inputMediaGeoPoint","geo_point":{"_":"inputGeoPoint","lat":"55","long":1}}}`},
	{"messages.sendMedia", `{"peer":"me","message":"","media":{"_":"inputMediaGeoPoint","geo_point":{"_":"inputGeoPoint","lat":1e999,"long":1}}}`},
	{"messages.sendMedia", `{"peer":"me","message":"","media":{"_":"inputMediaGeoPoint","geo_point":{"lat":1,"long":1}}}`},
	{"messages.sendMedia", `{"peer":"me","message":"","media":{}}`},
	{"messages.sendEncrypted", `{"peer":{"_":"inputEncryptedChat","chat_id":1,"access_hash":2},"random_id":3,"data":"AQID/w=="}`},
	{"messages.sendEncrypted", `{"peer":{"_":"inputEncryptedChat","chat_id":1,"access_hash":2},"random_id":3,"data":"AQID_w"}`},
	{"messages.sendEncrypted", `{"peer":{"_":"inputEncryptedChat","chat_id":1,"access_hash":2},"random_id":3,"data":"AQID/w"}`},
	{"messages.sendEncrypted", `{"peer":{"_":"inputEncryptedChat","chat_id":1,"access_hash":2},"random_id":3,"data":"AQ\nID"}`},
	{"messages.sendEncrypted", `{"peer":{"_":"inputEncryptedChat","chat_id":1,"access_hash":2},"random_id":3,"data":""}`},
	{"messages.sendEncrypted", `{"peer":{"_":"inputEncryptedChat","chat_id":1,"access_hash":2},"random_id":3,"data":"!!!"}`},
	{"messages.sendEncrypted", `{"peer":{"_":"inputEncryptedChat","chat_id":1,"access_hash":2},"random_id":3,"data":5}`},
	{"users.getUsers", `{"id":[777,"@bob",{"_":"inputUserSelf"}]}`},
	{"users.getUsers", `{"id":[777,"bad"]}`},
	{"users.getUsers", `{"id":{}}`},
	{"users.getUsers", `{"id":[]}`},
	{"channels.getChannels", `{"id":["@chan"]}`},
	{"account.updateStatus", `{"offline":true}`},
	{"account.updateStatus", `{"offline":1}`},
	{"account.updateStatus", `{}`},
	{"invokeWithLayer", `{"layer":229,"query":{"_":"help.getConfig"}}`},
	{"invokeWithLayer", `{"layer":229,"query":5}`},
	{"invokeWithLayer", `{"layer":229,"query":{"_":"nope"}}`},
	{"invokeWithLayer", `{"layer":229,"query":{"_":"inputPeerSelf"}}`},
	{"invokeWithLayer", `{"layer":229,"query":{}}`},
	{"invokeWithLayer", `{"layer":229,"query":{"_":"invokeWithLayer","layer":1,"query":{"_":"messages.sendMessage","peer":"me","message":"deep"}}}`},
	{"contacts.getContactIDs", `{"hash":"12"}`},
	{"photos.deletePhotos", `{"id":[{"_":"inputPhoto","id":1,"access_hash":2,"file_reference":"AQ=="}]}`},
	{"nope", `{}`},
	{"json", `{"_":"messages.sendMessage","peer":{"_":"inputPeerSelf"},"message":"hi","random_id":7}`},
	{"json", `{"_":"inputPeerUser","user_id":1,"access_hash":2}`},
	{"json", `{"_":"user","id":1,"first_name":"A","photo":{"_":"userProfilePhoto","photo_id":2,"dc_id":2,"stripped_thumb":"AQID"},"status":{"_":"userStatusRecently"}}`},
	{"json", `{}`},
	{"json", `{"_":"nope"}`},
	{"json", `[]`},
	{"json", `{"_":"boolTrue"}`},
}

func TestDecodeGolden(t *testing.T) {
	ctx := context.Background()
	var out bytes.Buffer
	for _, tc := range decodeGoldenCases {
		for i, opts := range []DecodeOptions{{}, {Resolver: failResolver{}, RandomID: func() int64 { return 0x1122334455667788 }}} {
			var obj bin.Object
			var err error
			if tc.method == "json" {
				obj, err = DecodeJSON(ctx, []byte(tc.params), opts)
			} else {
				obj, err = DecodeRequest(ctx, tc.method, []byte(tc.params), opts)
			}
			fmt.Fprintf(&out, "%s %s opts%d\n", tc.method, tc.params, i)
			if err != nil {
				var je *JSONError
				fmt.Fprintf(&out, "\terr %v (JSONError %v)\n", err, errors.As(err, &je))
				continue
			}
			var b bin.Buffer
			if err := obj.Encode(&b); err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(&out, "\t%T %x\n", obj, b.Buf)
		}
	}
	checkGolden(t, "decode.golden", out.Bytes())
}

// fill writes a deterministic value of every schema type: each optional
// field present, vectors of two elements near the top, the constructor of
// a class chosen by a counter.
type fill struct {
	b bin.Buffer
	n int
}

func (f *fill) next() int { f.n++; return f.n }

func (f *fill) object(def *Definition, boxed bool, depth int) {
	if boxed {
		f.b.PutID(def.ID)
	}
	var flags []int
	for _, p := range def.Params {
		if p.IsFlags() {
			flags = append(flags, len(f.b.Buf))
			f.b.PutUint32(0)
			continue
		}
		if p.Optional() {
			// Every flag bit on, except deep down so that values end.
			if depth > 2 {
				continue
			}
			for i, off := range flags {
				if def.Params[paramOfFlag(def, i)].Name == p.Flag {
					v := binary.LittleEndian.Uint32(f.b.Buf[off:])
					binary.LittleEndian.PutUint32(f.b.Buf[off:], v|1<<p.Bit)
				}
			}
			if p.Type == "true" {
				continue
			}
		}
		f.value(p.Type, depth)
	}
}

// paramOfFlag returns the index in def.Params of the i-th flags word.
func paramOfFlag(def *Definition, i int) int {
	for j, p := range def.Params {
		if p.IsFlags() {
			if i == 0 {
				return j
			}
			i--
		}
	}
	return -1
}

var fillStrings = []string{"", "plain", `quote " backslash \ slash /`, "ctl \x01\x1f\t\n\r", "<html>&amp;", "é ünï 😀", "\xff\xfe invalid utf8", strings.Repeat("long ", 60)}
var fillDoubles = []float64{0, -0.5, 1e21, 1e-7, 123456.789, math.MaxFloat64, -1e-300, 3}

func (f *fill) value(typ string, depth int) {
	n := f.next()
	switch typ {
	case "int":
		f.b.PutInt32(int32(n*2654435761) ^ int32(n))
	case "long":
		f.b.PutLong(int64(n) * -0x5deece66d1)
	case "double":
		f.b.PutDouble(fillDoubles[n%len(fillDoubles)])
	case "string":
		f.b.PutString(fillStrings[n%len(fillStrings)])
	case "bytes":
		f.b.PutBytes(bytes.Repeat([]byte{byte(n), 0xff, 0x3e}, n%5))
	case "int128", "int256":
		size := 16
		if typ == "int256" {
			size = 32
		}
		for i := range size {
			f.b.Buf = append(f.b.Buf, byte(n*7+i*13))
		}
	case "Bool":
		f.b.PutBool(n%2 == 0)
	case "!X", "X":
		f.object(Methods()[n%len(Methods())], true, depth+1)
	default:
		if inner, bare, ok := vectorOf(typ); ok {
			if !bare {
				f.b.PutID(vectorID)
			}
			k := 0
			if depth < 2 {
				k = 2
			}
			f.b.PutInt(k)
			for i := 0; i < k; i++ {
				f.value(inner, depth+1)
			}
			return
		}
		if c, ok := Constructor(typ); ok {
			f.object(c, false, depth+1)
			return
		}
		cs := Constructors(typ)
		if len(cs) == 0 {
			panic("no constructors of " + typ)
		}
		c := cs[n%len(cs)]
		if depth > 2 {
			for _, d := range cs {
				if len(d.Params) < len(c.Params) {
					c = d
				}
			}
		}
		f.object(c, true, depth+1)
	}
}

// digest stands for a JSON output in the golden file: its length and the
// start of its SHA-256.
func digest(js []byte) string {
	if js == nil {
		return "nil"
	}
	sum := sha256.Sum256(js)
	return fmt.Sprintf("%d:%s", len(js), hex.EncodeToString(sum[:6]))
}

// TestBinaryToJSONGolden pins the JSON of a value of every constructor and
// method, and the errors for every truncation of two results.
func TestBinaryToJSONGolden(t *testing.T) {
	var out bytes.Buffer
	var defs []*Definition
	for _, m := range Methods() {
		defs = append(defs, m)
	}
	for i := range definitions {
		if !definitions[i].Method {
			defs = append(defs, &definitions[i])
		}
	}
	for _, d := range defs {
		if d.Generic {
			continue
		}
		f := fill{n: int(d.ID % 97)}
		f.object(d, true, 0)
		js, err := BinaryToJSON(f.b.Buf, "")
		if err != nil {
			t.Fatalf("%s: %v", d.Name, err)
		}
		fmt.Fprintf(&out, "%s %s\n", d.Name, digest(js))
		// Decoding gives back the same JSON, except where gotd's Go type
		// disagrees with the schema (the golden file records how).
		obj, err := DecodeJSON(context.Background(), js, DecodeOptions{})
		if err != nil {
			fmt.Fprintf(&out, "\tdecode: %v\n", err)
			continue
		}
		js2, err := EncodeJSON(obj)
		if err != nil || !bytes.Equal(js, js2) {
			fmt.Fprintf(&out, "\tback: %s %v\n", digest(js2), err)
		}
	}
	for _, tc := range []struct {
		obj bin.Encoder
		typ string
	}{
		{&tg.UpdateShortSentMessage{Out: true, ID: 48213, Pts: 190233, PtsCount: 1, Date: 1764590000}, "Updates"},
		{benchMessages(), "messages.Messages"},
		{&tg.UserClassVector{Elems: []tg.UserClass{&tg.User{ID: 1}, &tg.UserEmpty{ID: 2}}}, "Vector<User>"},
		{&tg.LongVector{Elems: []int64{1, -2}}, "Vector<long>"},
		{&tg.BoolTrue{}, "Bool"},
	} {
		var b bin.Buffer
		if err := tc.obj.Encode(&b); err != nil {
			t.Fatal(err)
		}
		js, err := BinaryToJSON(b.Buf, tc.typ)
		fmt.Fprintf(&out, "%q full: %s %v\n", tc.typ, js, err)
		for n := 0; n < len(b.Buf); n++ {
			js, err := BinaryToJSON(b.Buf[:n], tc.typ)
			fmt.Fprintf(&out, "%q [:%d]: %s %v\n", tc.typ, n, digest(js), err)
		}
		extra := append(bytes.Clone(b.Buf), 1, 2, 3, 4)
		js, err = BinaryToJSON(extra, tc.typ)
		fmt.Fprintf(&out, "%q +4: %s %v\n", tc.typ, digest(js), err)
		// An unknown constructor id at every word.
		for off := 0; off+4 <= len(b.Buf); off += 4 {
			bad := bytes.Clone(b.Buf)
			binary.LittleEndian.PutUint32(bad[off:], 0xdeadbeef)
			js, err := BinaryToJSON(bad, tc.typ)
			fmt.Fprintf(&out, "%q bad@%d: %s %v\n", tc.typ, off, digest(js), err)
		}
	}
	// Nesting past the limit.
	var deep bin.Buffer
	for range maxDepth + 1 {
		deep.PutID(tg.InvokeWithLayerRequestTypeID)
		deep.PutInt(1)
	}
	deep.PutID(tg.HelpGetConfigRequestTypeID)
	_, err := BinaryToJSON(deep.Buf, "")
	fmt.Fprintf(&out, "deep: %v\n", err)
	for _, typ := range []string{"int", "long", "double", "string", "bytes", "Bool", "Vector<int>", "vector<long>", "%User", "!X", "X", "inputPeerSelf", "Nope"} {
		js, err := BinaryToJSON([]byte{1, 0, 0, 0, 0, 0, 0, 0}, typ)
		fmt.Fprintf(&out, "%q on 8 bytes: %s %v\n", typ, js, err)
	}
	checkGolden(t, "binary_to_json.golden", out.Bytes())
}
