package tl

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/gotd/td/bin"
	"github.com/gotd/td/tg"
)

// Request is a method call encoded once from its JSON parameters
// (EncodeParams), with what a scheduler reads from a call: its peer, its
// random_id and its paid flood skip. It is a bin.Encoder whose Encode
// writes Body, so the actors package sends these bytes as they are instead
// of decoding them into gotd's object and encoding that again. A Request
// is immutable once returned; Body is never written to.
type Request struct {
	// Def is the call's method.
	Def *Definition
	// Body is the call's TL encoding, its constructor id first.
	Body []byte
	// Peer names the chat the call is about, as PeerKey names it: its
	// to_peer, else its peer, else its channel; "" for none.
	Peer string
	// ZeroRandomID: the call's top-level random_id is zero, or its
	// random_id vector is empty. A sender that fills random_ids decodes
	// such a call (Object) to fill them.
	ZeroRandomID bool
	// PaidFloodskip: the call sets allow_paid_floodskip.
	PaidFloodskip bool
}

// TypeID is the method's constructor id.
func (r *Request) TypeID() uint32 { return r.Def.ID }

// Encode writes Body.
func (r *Request) Encode(b *bin.Buffer) error {
	b.Put(r.Body)
	return nil
}

// Object decodes Body into gotd's object for the method
// (*tg.MessagesSendMessageRequest): a new one on each call.
func (r *Request) Object() (bin.Object, error) {
	obj, err := newObject(r.Def)
	if err != nil {
		return nil, err
	}
	if err := obj.Decode(&bin.Buffer{Buf: r.Body}); err != nil {
		return nil, fmt.Errorf("%s: gotd could not decode the encoded object: %w", r.Def.Name, err)
	}
	return obj, nil
}

// EncodeParams is DecodeParams returning the encoded call (a *Request)
// instead of gotd's object: the same checks, errors and random_id filling,
// and the bytes gotd's object would encode to.
func EncodeParams(ctx context.Context, def *Definition, params []byte, opts DecodeOptions) (*Request, error) {
	if def == nil || !def.Method {
		return nil, errors.New("tl: EncodeParams needs a method's definition")
	}
	if len(params) == 0 {
		params = emptyParams
	}
	d := getDecoder()
	defer d.release()
	d.ctx, d.opts = ctx, opts
	d.path.push("params")
	d.meta = requestMeta{on: true}
	if _, err := d.object(params, def, "", true, true); err != nil {
		return nil, err
	}
	m, body := &d.meta, d.buf.Buf
	r := newRequest(body)
	r.Def, r.PaidFloodskip = def, m.paid
	switch {
	case m.randomID.set() && !m.randomVector:
		r.ZeroRandomID = binary.LittleEndian.Uint64(body[m.randomID.from:]) == 0
	case m.randomID.set():
		// Vector<long>: its id, then its length.
		r.ZeroRandomID = binary.LittleEndian.Uint32(body[m.randomID.from+4:]) == 0
	}
	for _, s := range []span{m.toPeer, m.peer} {
		if !s.set() {
			continue
		}
		k, err := encodedPeerKey(body[s.from:s.to])
		if err != nil {
			return nil, fmt.Errorf("%s: decode its peer: %w", def.Name, err)
		}
		if r.Peer = k; k != "" {
			return r, nil
		}
	}
	if s := m.channel; s.set() {
		k, err := encodedPeerKey(body[s.from:s.to])
		if err != nil {
			return nil, fmt.Errorf("%s: decode its channel: %w", def.Name, err)
		}
		r.Peer = k
	}
	return r, nil
}

// encodedPeerKey is PeerKey (or ChannelKey) of an encoded InputPeer (or
// InputChannel). The common constructors are read in place: the key's id
// is their first field (TestEncodedPeerKey checks these against PeerKey);
// the others are decoded.
func encodedPeerKey(b []byte) (string, error) {
	if len(b) >= 4 {
		switch id := binary.LittleEndian.Uint32(b); {
		case id == tg.InputPeerSelfTypeID:
			return "self", nil
		case len(b) >= 12 && (id == tg.InputPeerUserTypeID || id == tg.InputPeerChatTypeID || id == tg.InputPeerChannelTypeID || id == tg.InputChannelTypeID):
			kind := "channel:"
			switch id {
			case tg.InputPeerUserTypeID:
				kind = "user:"
			case tg.InputPeerChatTypeID:
				kind = "chat:"
			}
			return idKey(kind, int64(binary.LittleEndian.Uint64(b[4:]))), nil
		}
	}
	buf := &bin.Buffer{Buf: b}
	id, err := buf.PeekID()
	if err != nil {
		return "", err
	}
	if d, ok := ByID(id); ok && d.Type == "InputChannel" {
		c, err := tg.DecodeInputChannel(buf)
		if err != nil {
			return "", err
		}
		return ChannelKey(c), nil
	}
	p, err := tg.DecodeInputPeer(buf)
	if err != nil {
		return "", err
	}
	return PeerKey(p), nil
}

// smallRequest is a Request and its body in one allocation, for the
// common short call (messages.sendMessage of a line of text).
type smallRequest struct {
	r   Request
	buf [64]byte
}

// newRequest returns a Request whose Body is a copy of body.
func newRequest(body []byte) *Request {
	if len(body) <= len(smallRequest{}.buf) {
		s := new(smallRequest)
		s.r.Body = append(s.buf[:0:len(body)], body...)
		return &s.r
	}
	return &Request{Body: append([]byte(nil), body...)}
}

// requestMeta is what EncodeParams notes while it encodes the call's own
// fields (not those of the objects inside it): where the fields a
// scheduler reads are in the encoding.
type requestMeta struct {
	on                    bool // noting: set for the call's own object only
	toPeer, peer, channel span // InputPeer to_peer and peer, InputChannel channel
	randomID              span
	randomVector          bool // random_id is a Vector<long>
	paid                  bool // allow_paid_floodskip is set
}

// span is where a field's value is in the encoding; to is 0 for a field
// absent.
type span struct{ from, to int }

func (s span) set() bool { return s.to > s.from }

// note records where the call's field p was encoded (from to the end of
// d.buf).
func (m *requestMeta) note(p *Param, from, to int) {
	s := span{from, to}
	switch {
	case p.Optional() && p.Name != "random_id":
		// gotd's getter of an optional peer or channel answers (v, ok),
		// which the chat key of a gotd object (actors' peerKey) does not
		// read: none of them names the call's chat here either.
	case p.Name == "to_peer" && p.Type == "InputPeer":
		m.toPeer = s
	case p.Name == "peer" && p.Type == "InputPeer":
		m.peer = s
	case p.Name == "channel" && p.Type == "InputChannel":
		m.channel = s
	case p.Name == "random_id" && p.Type == "long":
		m.randomID = s
	case p.Name == "random_id" && p.Type == "Vector<long>":
		m.randomID, m.randomVector = s, true
	}
}
