package actors

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"reflect"
	"sync"
	"time"

	"github.com/gotd/td/bin"
)

// Option modifies a call, or every call of a batch. The same options serve
// Go, Call, Do, InvokeAll and InvokeAllAs; Invoke, whose signature is
// tg.Invoker's, takes them from its context (WithOptions). Options given to
// a call apply after those of its context.
type Option func(*callOptions)

// callOptions is what the options of one call or batch say.
type callOptions struct {
	dc      int
	after   *pending
	budget  time.Duration // 0: the scheduler's threshold
	ordered bool
	// keepZeroRandomID: leave a zero random_id as it is (FillRandomID(false)).
	keepZeroRandomID bool
}

// OnDC sends the call, or every call of a batch, to a DC other than the
// home DC.
func OnDC(dc int) Option { return func(o *callOptions) { o.dc = dc } }

// After makes the call run strictly after f's call (an invokeAfterMsg
// chain): the server runs it only once f's call has succeeded. The
// predecessor's own outcome decides, when the call is submitted and while
// both are pending: if f's call succeeded there is nothing to wait for; if
// it failed or was cancelled, this call fails with
// *scheduler.ChainBrokenError and never runs. The order holds through lost
// connections, flood waits and slow predecessors (TestChainOrderUnderFaults
// in scheduler, and cmd/tlworker's TestSendChainThroughCuts). f must come
// from the same Client. In a batch every call waits for f; with Ordered
// the first one does, and the rest follow it.
func After(f *Future) Option { return func(o *callOptions) { o.after = f.p } }

// FloodBudget sets the longest flood wait (FLOOD_WAIT_X, SLOWMODE_WAIT_X,
// or a flood gate closed by another call) the call, or each call of a
// batch, may absorb before it fails with *tl.FloodWaitError, matching
// scheduler.ErrNotSent. Default: Config.Scheduler.FloodThreshold; a
// negative d absorbs no wait. A wait that would end after the deadline of
// the context the call was submitted with fails the same way, whatever the
// budget.
func FloodBudget(d time.Duration) Option {
	return func(o *callOptions) {
		if d == 0 {
			d = -1
		}
		o.budget = d
	}
}

// Ordered runs the calls of a batch strictly one after another (an
// invokeAfterMsg chain): if one fails for good, the rest fail with
// *scheduler.ChainBrokenError and never run. A single call (Go, Invoke,
// Call, Do) ignores it.
func Ordered() Option { return func(o *callOptions) { o.ordered = true } }

// FillRandomID says whether a request whose random_id is zero gets a fresh
// one (RandomID) before it is sent. On by default: the server deduplicates
// resends by random_id, so a zero one makes a call that cannot be sent
// again safely after a lost connection (and two calls with the same one
// collide). Filled are a top-level random_id (messages.sendMessage,
// sendMedia, …) and an empty random_id vector beside an id vector
// (messages.forwardMessages: one per id); random_ids nested deeper
// (messages.sendMultiMedia) are left to the caller. The caller's request
// is never modified: a filled copy is encoded.
func FillRandomID(on bool) Option { return func(o *callOptions) { o.keepZeroRandomID = !on } }

type optionsKey struct{}

// WithOptions returns a context whose calls get opts: this is how calls
// made through Invoke (and so through tg.NewClient(c)) take options.
// Options already in ctx come first, opts after them.
func WithOptions(ctx context.Context, opts ...Option) context.Context {
	if len(opts) == 0 {
		return ctx
	}
	prev, _ := ctx.Value(optionsKey{}).([]Option)
	all := make([]Option, 0, len(prev)+len(opts))
	all = append(append(all, prev...), opts...)
	return context.WithValue(ctx, optionsKey{}, all)
}

// options gathers the options of ctx, then opts.
func options(ctx context.Context, opts []Option) callOptions {
	var o callOptions
	if inCtx, ok := ctx.Value(optionsKey{}).([]Option); ok {
		for _, f := range inCtx {
			f(&o)
		}
	}
	for _, f := range opts {
		f(&o)
	}
	return o
}

// RandomID returns a crypto-random nonzero random_id for requests such as
// messages.sendMessage. A caller that resends a request after a restart of
// its own process should keep the random_id it chose the first time, so
// the server can recognise the resend.
func RandomID() int64 {
	var b [8]byte
	for {
		if _, err := rand.Read(b[:]); err != nil {
			panic("tlsched: crypto/rand: " + err.Error()) // crypto/rand.Read does not fail (Go 1.24)
		}
		if id := int64(binary.LittleEndian.Uint64(b[:])); id != 0 {
			return id
		}
	}
}

var (
	int64Type  = reflect.TypeOf(int64(0))
	int64sType = reflect.TypeOf([]int64(nil))
	intsType   = reflect.TypeOf([]int(nil))
)

// randomIDField is where a request type keeps its random_id: the index of
// its RandomID field and whether it is a vector (beside an ID vector at
// idIndex); index -1 when it has none.
type randomIDField struct {
	index, idIndex int
	vector         bool
}

// randomIDFields caches randomIDField by request type: the lookup runs on
// every call.
var randomIDFields sync.Map // reflect.Type → randomIDField

func randomIDFieldOf(t reflect.Type) randomIDField {
	if f, ok := randomIDFields.Load(t); ok {
		return f.(randomIDField)
	}
	f := randomIDField{index: -1, idIndex: -1}
	if sf, ok := t.FieldByName("RandomID"); ok && len(sf.Index) == 1 {
		switch sf.Type {
		case int64Type:
			f.index = sf.Index[0]
		case int64sType:
			if id, ok := t.FieldByName("ID"); ok && len(id.Index) == 1 && id.Type == intsType {
				f.index, f.idIndex, f.vector = sf.Index[0], id.Index[0], true
			}
		}
	}
	randomIDFields.Store(t, f)
	return f
}

// withRandomID returns req, or a shallow copy of it with its zero
// random_id filled (FillRandomID). The copy shares everything else with
// req, which is not modified.
func withRandomID(req bin.Encoder) bin.Encoder {
	v := reflect.ValueOf(req)
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
		return req
	}
	f := randomIDFieldOf(v.Elem().Type())
	if f.index < 0 {
		return req
	}
	field := v.Elem().Field(f.index)
	var fill reflect.Value
	switch {
	case !f.vector && field.Int() == 0:
		fill = reflect.ValueOf(RandomID())
	case f.vector && field.Len() == 0 && v.Elem().Field(f.idIndex).Len() > 0:
		rnd := make([]int64, v.Elem().Field(f.idIndex).Len())
		for i := range rnd {
			rnd[i] = RandomID()
		}
		fill = reflect.ValueOf(rnd)
	default:
		return req
	}
	cp := reflect.New(v.Elem().Type())
	cp.Elem().Set(v.Elem())
	cp.Elem().Field(f.index).Set(fill)
	if enc, ok := cp.Interface().(bin.Encoder); ok {
		return enc
	}
	return req
}
