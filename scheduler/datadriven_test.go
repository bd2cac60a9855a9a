package scheduler

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"
	"github.com/gotd/td/tgerr"
)

// TestScripts runs the scenarios in testdata/scripts. Commands:
//
//	new [window=1ms] [max-messages=N] [max-bytes=N] [max-inflight=N] [threshold=60s]
//	submit            one call per input line: id=N [method=M] [peer=P] [dc=N] [size=N] [after=N]
//	ready             batches per DC ("dc2: 1 2<1" means 2 is wrapped after 1) and failures
//	answer id=N [err=CODE:MESSAGE]
//	lost dc=N | cancel id=N | advance by=DURATION | deadline
//
// Rewrite the expected output after a deliberate change with
// `go test ./scheduler -run TestScripts -rewrite`, and read the diff.
func TestScripts(t *testing.T) {
	datadriven.Walk(t, "testdata/scripts", func(t *testing.T, path string) {
		var s *State
		now := t0
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			arg := func(key string) (string, bool) {
				for _, a := range d.CmdArgs {
					if a.Key == key && len(a.Vals) > 0 {
						return a.Vals[0], true
					}
				}
				return "", false
			}
			num := func(key string) int {
				v, ok := arg(key)
				if !ok {
					return 0
				}
				n, err := strconv.Atoi(v)
				if err != nil {
					d.Fatalf(t, "%s=%s: %v", key, v, err)
				}
				return n
			}
			dur := func(key string) time.Duration {
				v, ok := arg(key)
				if !ok {
					return 0
				}
				x, err := time.ParseDuration(v)
				if err != nil {
					d.Fatalf(t, "%s=%s: %v", key, v, err)
				}
				return x
			}
			switch d.Cmd {
			case "new":
				s = newTest(Config{Window: dur("window"), MaxMessages: num("max-messages"), MaxBytes: num("max-bytes"),
					MaxInFlight: num("max-inflight"), FloodThreshold: dur("threshold")})
				now = t0
				return ""
			case "submit":
				var out []string
				for _, line := range strings.Split(strings.TrimSpace(d.Input), "\n") {
					c := Call{Method: "sendMessage", Size: 10}
					for _, f := range strings.Fields(line) {
						k, v, _ := strings.Cut(f, "=")
						n, _ := strconv.Atoi(v)
						switch k {
						case "id":
							c.ID = CallID(n)
						case "method":
							c.Method = v
						case "peer":
							c.Peer = v
						case "dc":
							c.DC = n
						case "size":
							c.Size = n
						case "after":
							c.After = CallID(n)
						default:
							d.Fatalf(t, "unknown field %q", k)
						}
					}
					done, err := s.Submit(now, c)
					if err != nil {
						out = append(out, fmt.Sprintf("error: %v", err))
					}
					out = append(out, dones(done)...)
				}
				return lines(out)
			case "ready":
				bs, done := s.Ready(now)
				var out []string
				for _, b := range bs {
					var ids []string
					for _, c := range b.Calls {
						x := strconv.Itoa(int(c.Call.ID))
						if c.After != 0 {
							x += "<" + strconv.Itoa(int(c.After))
						}
						ids = append(ids, x)
					}
					out = append(out, fmt.Sprintf("dc%d: %s", b.DC, strings.Join(ids, " ")))
				}
				return lines(append(out, dones(done)...))
			case "answer":
				var err error
				if v, ok := arg("err"); ok {
					code, msg, _ := strings.Cut(v, ":")
					n, _ := strconv.Atoi(code)
					err = tgerr.New(n, msg)
				}
				return lines(dones(s.Complete(now, CallID(num("id")), err)))
			case "lost":
				return lines(dones(s.LostDC(now, num("dc"), fmt.Errorf("connection reset"))))
			case "cancel":
				done, ok := s.Cancel(now, CallID(num("id")))
				if !ok {
					return "not cancelled: in flight or unknown\n"
				}
				return lines(dones(done))
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
			}
			d.Fatalf(t, "unknown command %s", d.Cmd)
			return ""
		})
	})
}

func dones(ds []Done) []string {
	var out []string
	for _, d := range ds {
		if d.Err == nil {
			out = append(out, fmt.Sprintf("done %d: ok after %d attempt(s)", d.ID, d.Attempts))
		} else {
			out = append(out, fmt.Sprintf("done %d: %v", d.ID, d.Err))
		}
	}
	return out
}

func lines(ls []string) string {
	if len(ls) == 0 {
		return "(nothing)\n"
	}
	return strings.Join(ls, "\n") + "\n"
}
