package tgsim

import (
	"fmt"
	"slices"

	"github.com/gotd/td/bin"
)

// access says who may call a method, and on which DC.
type access uint8

const (
	// anyone: no account needed, any DC (help.*, and the auth.* methods
	// that log in, which check the DC themselves).
	anyone access = iota
	// loggedIn: the auth key's account (else 401 AUTH_KEY_UNREGISTERED),
	// on any DC.
	loggedIn
	// atHome: the auth key's account, on its home DC; on another DC the
	// call is answered 303 USER_MIGRATE_X.
	atHome
)

// floodClass says which budgets of the flood model a method spends.
type floodClass uint8

const (
	// noFlood: the method is never answered FLOOD_WAIT.
	noFlood floodClass = iota
	// perMethod: the account's budget for the method
	// (floodModel.methodChecks), spent before the request is read.
	perMethod
	// perSend: the message-send budgets (floodModel.sendChecks). They
	// depend on the peer, so the handler spends them (world.takeSend) once
	// it has resolved the peer and validated the message.
	perSend
)

// method is one entry of the registry.
type method struct {
	name   string // TL name, e.g. "users.getUsers"
	typeID uint32 // TL type id of the request
	access access
	flood  floodClass
	// serve decodes the query and runs the handler. w.mu is held.
	serve func(w *world, r *request) (bin.Encoder, error)
}

// tlRequest is what a handler's request type offers: gotd's generated
// request types (*tg.UsersGetUsersRequest, …) all do.
type tlRequest[Req any] interface {
	*Req
	bin.Decoder
	TypeID() uint32
	TypeName() string
}

// handle makes the registry entry of the method whose request type is Req,
// with h as its logic. The entry's name and type id are Req's. The wrapper
// decodes the query into a fresh Req (400 INPUT_REQUEST_INVALID if it does
// not decode) and calls h; it runs with the world locked (see
// world.invoke), so h neither decodes nor locks.
func handle[Req any, P tlRequest[Req]](a access, f floodClass, h func(w *world, r *request, req P) (bin.Encoder, error)) method {
	zero := P(new(Req))
	return method{
		name:   zero.TypeName(),
		typeID: zero.TypeID(),
		access: a,
		flood:  f,
		serve: func(w *world, r *request) (bin.Encoder, error) {
			req := P(new(Req))
			if err := r.decode(req); err != nil {
				return nil, err
			}
			return h(w, r, req)
		},
	}
}

// registry is every method the world answers, by TL type id; anything
// else in the schema gets METHOD_NOT_SIMULATED_<name>. Each subject's
// file holds its table.
var registry = newRegistry(
	helpMethods,
	authMethods,
	passwordMethods,
	usersMethods,
	contactsMethods,
	channelsMethods,
	messagesMethods,
	updatesMethods,
)

func newRegistry(tables ...[]method) map[uint32]*method {
	out := map[uint32]*method{}
	for _, t := range tables {
		for i := range t {
			m := &t[i]
			if _, dup := out[m.typeID]; dup {
				panic(fmt.Sprintf("tgsim: method %s registered twice", m.name))
			}
			out[m.typeID] = m
		}
	}
	return out
}

// Methods lists the names of the methods tgsim answers, sorted.
func Methods() []string {
	out := make([]string, 0, len(registry))
	for _, m := range registry {
		out = append(out, m.name)
	}
	slices.Sort(out)
	return out
}
