package jobs

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/gotd/td/tgerr"
)

// The result line's JSON is a contract (README, --resume reads it back).
func TestResultLineShape(t *testing.T) {
	for _, tc := range []struct {
		r    Result
		want string
	}{
		{Result{ID: "j1", OK: true, Result: json.RawMessage(`{"_":"updateShortSentMessage","id":5}`), LatencyMS: ms(3100 * time.Microsecond)},
			`{"id":"j1","ok":true,"result":{"_":"updateShortSentMessage","id":5},"latency_ms":3.1}`},
		{Result{ID: "j1", Error: failure(tgerr.New(420, "FLOOD_WAIT_30"))},
			`{"id":"j1","ok":false,"error":{"code":420,"message":"FLOOD_WAIT_30"}}`},
		{Result{ID: "j2", Error: failure(fmt.Errorf("wrapped: %w", tgerr.New(400, "MSG_WAIT_FAILED")))},
			`{"id":"j2","ok":false,"error":{"code":400,"message":"MSG_WAIT_FAILED"}}`},
		{Result{ID: "line 3", Error: failure(errors.New("line 3: not a job"))},
			`{"id":"line 3","ok":false,"error":{"code":0,"message":"line 3: not a job"}}`},
	} {
		var b bytes.Buffer
		w := newResultWriter(&b)
		w.write(tc.r)
		if err := w.flush(); err != nil {
			t.Fatal(err)
		}
		if b.String() != tc.want+"\n" {
			t.Errorf("line %q, want %q", b.String(), tc.want+"\n")
		}
	}
}
