package scheduler

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"
	"github.com/gotd/td/tgerr"
)

var t0 = time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)

func newTest(cfg Config) *State {
	cfg.Backoff.NoJitter = true
	return New(cfg)
}

// TestScripts runs the scenarios in testdata/scripts. Commands:
//
//	new [home-dc=N] [window=1ms] [max-messages=N] [max-bytes=N] [max-inflight=N]
//	    [max-queued=N] [max-attempts=N] [max-repairs=N] [threshold=60s] [backoff=100ms]
//	    [outage=3m] [pacing [account=N/PER/BURST] [private=…] [group=…] [paid=…]
//	    [probe-after=DURATION]]
//	pacing            the pacer's counters and limits
//	submit            one call per input line: id=N [method=M] [peer=P] [dc=N] [size=N] [after=N]
//	                  [read] [paid] [budget=DURATION] [deadline=DURATION]; id=A-B submits calls A to B
//	                  with the same fields. A call writes to its peer unless "read"; deadline
//	                  is from now; a negative budget absorbs no wait
//	cancel id=N [deadline]
//	                  Cancel with context.Canceled (context.DeadlineExceeded)
//	ready             batches per DC and failures: "dc2: 1 2#3<1" means call 1 and
//	                  call 2 on its 3rd attempt, wrapped after 1 (the attempt shows from the 2nd)
//	answer id=N [err=CODE:MESSAGE]
//	lost dc=N [ids=(N, ...)] [unsent=(N, ...)]
//	                  LostDC, or Lost of the given ids: ids maybe sent, unsent never sent
//	down dc=N         DCDown (cause "connection refused"); failed dc=N: DCFailed
//	connected dc=N    DCConnected; up dc=N: DCUp (answers flow again)
//	advance by=DURATION | deadline
//	stats             live calls, home DC, calls in flight per DC, non-zero counters
//
// A final outcome reads "done N: ok after K attempt(s)" or "done N: failed
// after K attempt(s): ERROR [TYPE > TYPE ...]", the types being the error's
// unwrap chain (what errors.As sees), followed by "(is ErrNotSent)" or
// "(is ErrMayHaveRun)" when errors.Is matches one.
//
// Every script also checks that a call goes out with the Payload it was
// submitted with (the same random_id on a resend).
//
// Rewrite the expected output after a deliberate change with
// `go test ./scheduler -run TestScripts -rewrite`, and read the diff.
func TestScripts(t *testing.T) {
	datadriven.Walk(t, "testdata/scripts", func(t *testing.T, path string) {
		var s *State
		now := t0
		payloads := map[CallID]*CallID{}
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			arg := func(key string) ([]string, bool) {
				for _, a := range d.CmdArgs {
					if a.Key == key && len(a.Vals) > 0 {
						return a.Vals, true
					}
				}
				return nil, false
			}
			atoi := func(key, v string) int {
				n, err := strconv.Atoi(v)
				if err != nil {
					d.Fatalf(t, "%s=%s: %v", key, v, err)
				}
				return n
			}
			num := func(key string) int {
				v, ok := arg(key)
				if !ok {
					return 0
				}
				return atoi(key, v[0])
			}
			dur := func(key string) time.Duration {
				v, ok := arg(key)
				if !ok {
					return 0
				}
				x, err := time.ParseDuration(v[0])
				if err != nil {
					d.Fatalf(t, "%s=%s: %v", key, v, err)
				}
				return x
			}
			switch d.Cmd {
			case "new":
				rate := func(key string) Rate {
					v, ok := arg(key)
					if !ok {
						return Rate{}
					}
					var r Rate
					parts := strings.Split(v[0], "/")
					if len(parts) != 3 {
						d.Fatalf(t, "%s=%s: want N/PER/BURST", key, v[0])
					}
					r.N = atoi(key, parts[0])
					per, err := time.ParseDuration(parts[1])
					if err != nil {
						d.Fatalf(t, "%s=%s: %v", key, v[0], err)
					}
					r.Per, r.Burst = per, atoi(key, parts[2])
					return r
				}
				s = newTest(Config{HomeDC: num("home-dc"), Window: dur("window"), MaxMessages: num("max-messages"),
					MaxBytes: num("max-bytes"), MaxInFlight: num("max-inflight"), MaxQueued: num("max-queued"),
					MaxAttempts: num("max-attempts"), MaxChainRepairs: num("max-repairs"),
					FloodThreshold: dur("threshold"), OutageTimeout: dur("outage"), Backoff: BackoffConfig{Initial: dur("backoff")},
					Pacing: PacingConfig{On: d.HasArg("pacing"), Account: rate("account"), Private: rate("private"),
						Group: rate("group"), Paid: rate("paid"), ProbeAfter: dur("probe-after"), Headroom: 1}})
				now = t0
				clear(payloads)
				return ""
			case "submit":
				var out []string
				for _, line := range strings.Split(strings.TrimSpace(d.Input), "\n") {
					c := Call{Method: "sendMessage", Size: 10, Writes: true}
					from, to := 0, 0
					for _, f := range strings.Fields(line) {
						k, v, _ := strings.Cut(f, "=")
						switch k {
						case "id":
							a, b, isRange := strings.Cut(v, "-")
							from = atoi(k, a)
							to = from
							if isRange {
								to = atoi(k, b)
							}
						case "method":
							c.Method = v
						case "peer":
							c.Peer = v
						case "dc":
							c.DC = atoi(k, v)
						case "size":
							c.Size = atoi(k, v)
						case "after":
							c.After = CallID(atoi(k, v))
						case "read":
							c.Writes = false
						case "paid":
							c.PaidFloodskip = true
						case "budget":
							x, err := time.ParseDuration(v)
							if err != nil {
								d.Fatalf(t, "budget=%s: %v", v, err)
							}
							c.FloodBudget = x
						case "deadline":
							x, err := time.ParseDuration(v)
							if err != nil {
								d.Fatalf(t, "deadline=%s: %v", v, err)
							}
							c.Deadline = now.Add(x)
						default:
							d.Fatalf(t, "unknown field %q", k)
						}
					}
					for id := from; id <= to; id++ {
						c.ID = CallID(id)
						p := new(CallID)
						*p = c.ID
						c.Payload = p
						done, err := s.Submit(now, c)
						if err != nil {
							out = append(out, fmt.Sprintf("error: %v", err))
						} else if _, dup := payloads[c.ID]; !dup {
							payloads[c.ID] = p
						}
						out = append(out, dones(done)...)
					}
				}
				return lines(out)
			case "ready":
				bs, done := s.Ready(now)
				var out []string
				for _, b := range bs {
					var ids []string
					bytes := 0
					for _, c := range b.Calls {
						if c.Call.Payload != payloads[c.Call.ID] {
							d.Fatalf(t, "call %d sent with another payload", c.Call.ID)
						}
						bytes += max(c.Call.Size, 1)
						x := strconv.Itoa(int(c.Call.ID))
						if c.Attempt > 1 {
							x += "#" + strconv.Itoa(c.Attempt)
						}
						if c.After != 0 {
							x += "<" + strconv.Itoa(int(c.After))
						}
						ids = append(ids, x)
					}
					if bytes != b.Bytes {
						d.Fatalf(t, "batch reports %d bytes, its calls hold %d", b.Bytes, bytes)
					}
					out = append(out, fmt.Sprintf("dc%d: %s", b.DC, strings.Join(ids, " ")))
				}
				return lines(append(out, dones(done)...))
			case "answer":
				var err error
				if v, ok := arg("err"); ok {
					code, msg, _ := strings.Cut(v[0], ":")
					err = tgerr.New(atoi("err", code), msg)
				}
				return lines(dones(s.Complete(now, CallID(num("id")), err)))
			case "lost":
				cause := fmt.Errorf("connection reset")
				v, ok := arg("ids")
				u, uok := arg("unsent")
				if !ok && !uok {
					return lines(dones(s.LostDC(now, num("dc"), cause)))
				}
				var l Lost
				for _, x := range v {
					l.MaybeSent = append(l.MaybeSent, CallID(atoi("ids", x)))
				}
				for _, x := range u {
					l.NotSent = append(l.NotSent, CallID(atoi("unsent", x)))
				}
				return lines(dones(s.Lost(now, num("dc"), l, cause)))
			case "down":
				return lines(dones(s.DCDown(now, num("dc"), errors.New("connection refused"))))
			case "failed":
				return lines(dones(s.DCFailed(now, num("dc"), errors.New("auth key lost"))))
			case "connected":
				return lines(dones(s.DCConnected(now, num("dc"))))
			case "up":
				return lines(dones(s.DCUp(now, num("dc"))))
			case "cancel":
				var cause error = context.Canceled
				if d.HasArg("deadline") {
					cause = context.DeadlineExceeded
				}
				return lines(dones(s.Cancel(now, CallID(num("id")), cause)))
			case "advance":
				now = now.Add(dur("by"))
				return fmt.Sprintf("now +%v\n", now.Sub(t0))
			case "deadline":
				at, ok := s.NextDeadline()
				switch {
				case !ok:
					return "none\n"
				case !at.After(now):
					return "now\n"
				}
				return fmt.Sprintf("+%v\n", at.Sub(t0))
			case "stats":
				return stats(s)
			case "pacing":
				return pacing(s)
			}
			d.Fatalf(t, "unknown command %s", d.Cmd)
			return ""
		})
	})
}

// pacing prints the pacer's counters and learned limits (per second).
func pacing(s *State) string {
	st := reflect.ValueOf(s.PacingStats())
	var cs []string
	for i := range st.NumField() {
		if n := st.Field(i).Int(); n != 0 {
			cs = append(cs, fmt.Sprintf("%s=%d", st.Type().Field(i).Name, n))
		}
	}
	lim := s.Limits()
	keys := slices.Sorted(maps.Keys(lim))
	var ls []string
	for _, k := range keys {
		unit := "/s"
		if strings.HasPrefix(k, burstPrefix) || k == accountBurstKey {
			unit = ""
		}
		ls = append(ls, fmt.Sprintf("%s=%.3g%s", k, lim[k], unit))
	}
	return strings.Join(cs, " ") + "\nlimits " + strings.Join(ls, " ") + "\n"
}

// stats prints what a State reports about itself: live calls, the home DC,
// calls in flight per DC and the non-zero counters.
func stats(s *State) string {
	out := fmt.Sprintf("live=%d home=%d inflight=", s.Len(), s.HomeDC())
	var dcs []int
	for dc := range s.dcs {
		dcs = append(dcs, dc)
	}
	slices.Sort(dcs)
	var fl []string
	for _, dc := range dcs {
		if n := s.InFlight(dc); n > 0 {
			fl = append(fl, fmt.Sprintf("dc%d:%d", dc, n))
		}
	}
	if len(fl) == 0 {
		fl = []string{"none"}
	}
	out += strings.Join(fl, ",") + "\n"
	st := reflect.ValueOf(s.Stats())
	var cs []string
	for i := range st.NumField() {
		if n := st.Field(i).Int(); n != 0 {
			cs = append(cs, fmt.Sprintf("%s=%d", st.Type().Field(i).Name, n))
		}
	}
	return out + strings.Join(cs, " ") + "\n"
}

func dones(ds []Done) []string {
	var out []string
	for _, d := range ds {
		if d.Err == nil {
			out = append(out, fmt.Sprintf("done %d: ok after %d attempt(s)", d.ID, d.Attempts))
		} else {
			kind := ""
			switch {
			case errors.Is(d.Err, ErrNotSent):
				kind = " (is ErrNotSent)"
			case errors.Is(d.Err, ErrMayHaveRun):
				kind = " (is ErrMayHaveRun)"
			}
			out = append(out, fmt.Sprintf("done %d: failed after %d attempt(s): %v [%s]%s", d.ID, d.Attempts, d.Err, errTypes(d.Err), kind))
		}
	}
	return out
}

// errTypes names the types along err's unwrap chain.
func errTypes(err error) string {
	var ts []string
	for ; err != nil; err = errors.Unwrap(err) {
		if err == context.Canceled {
			ts = append(ts, "context.Canceled")
			break
		}
		ts = append(ts, strings.TrimPrefix(fmt.Sprintf("%T", err), "*"))
	}
	return strings.Join(ts, " > ")
}

func lines(ls []string) string {
	if len(ls) == 0 {
		return "(nothing)\n"
	}
	return strings.Join(ls, "\n") + "\n"
}
