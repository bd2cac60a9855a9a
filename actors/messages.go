package actors

import (
	"github.com/tlsched/tlsched/mtproto"
	"github.com/tlsched/tlsched/scheduler"
)

// Messages between the facade, the scheduler actor and the DC actors. They
// are plain values; the only shared pointers are *pending (owned by the
// scheduler actor once submitted) and the requests (immutable by contract).

// submitMsg hands calls to the scheduler actor.
type submitMsg struct{ calls []*pending }

// cancelMsg withdraws a call whose caller gave up, for cause.
type cancelMsg struct {
	id    scheduler.CallID
	cause error
}

// tickMsg asks the scheduler actor to run Ready now; timerMsg is its armed
// timer firing.
type (
	tickMsg  struct{}
	timerMsg struct{}
)

// dcCancelMsg tells a DC actor that a call it holds was cancelled: it is
// never sent again; the DC actor hands it back (lostMsg) once forgotten.
type dcCancelMsg struct{ id scheduler.CallID }

// drainMsg asks the scheduler actor to report when no call is pending.
type drainMsg struct{ done chan struct{} }

// batchMsg hands one batch to a DC actor.
type batchMsg struct{ batch scheduler.Batch }

// resultsMsg carries answers from a DC actor to the scheduler actor.
type resultsMsg struct {
	dc      int
	results []mtproto.Result
}

// lostMsg reports the calls a DC actor lost with its connection or
// session, told apart by whether they were written (scheduler.Lost).
type lostMsg struct {
	dc    int
	calls scheduler.Lost
	err   error
}

// A DC actor tells the scheduler actor whether its DC is reachable
// (scheduler/outage.go): dcDownMsg when a connection is lost or a dial
// fails (fatal: waiting will not cure it, as with a lost auth key that
// must not be replaced), dcConnectedMsg when a connection opens,
// dcUpMsg when the first frame arrives on it.
type (
	dcDownMsg struct {
		dc    int
		err   error
		fatal bool
	}
	dcConnectedMsg struct{ dc int }
	dcUpMsg        struct{ dc int }
)

// DC actor internals.
type (
	connectedMsg struct {
		gen  int
		conn *mtproto.Conn
	}
	dialFailedMsg struct {
		gen int
		err error
	}
	frameMsg struct {
		gen  int
		data []byte
	}
	connLostMsg struct {
		gen int
		err error
	}
	redialMsg struct{ gen int }
	// keyRevokedMsg: a call was answered 406 AUTH_KEY_DUPLICATED (the
	// 406 policy, authkey.go).
	keyRevokedMsg struct{ err error }
	dcTickMsg     struct{}
	panicMsg      struct{} // tests: make the DC actor fail
)

// statsMsg asks the scheduler actor for its counters (reply), or the
// pacer's report (pacing, Client.Pacing); a nil channel is not answered.
type statsMsg struct {
	reply  chan scheduler.Stats
	pacing chan PacingReport
}

// failDCMsg makes a DC actor panic (tests of supervision).
type failDCMsg struct{ dc int }
