package main

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/gotd/td/tgerr"
)

// job is one line of --jobs.
type job struct {
	ID     string          `json:"id"`
	Method string          `json:"method"`
	Params json.RawMessage `json:"params"`
	After  string          `json:"after,omitempty"`
	DC     int             `json:"dc,omitempty"`

	line int // 1-based line number in the jobs input
}

// parseJob reads one jobs line. Errors name the line and the problem.
func parseJob(line int, b []byte) (job, error) {
	var j job
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&j); err != nil {
		return job{line: line}, fmt.Errorf("line %d: not a job (%v); want {\"id\":…,\"method\":…,\"params\":{…}}", line, err)
	}
	j.line = line
	switch {
	case j.ID == "":
		return j, fmt.Errorf("line %d: job has no \"id\"", line)
	case j.Method == "":
		return j, fmt.Errorf("line %d: job %q has no \"method\"", line, j.ID)
	case j.DC < 0:
		return j, fmt.Errorf("line %d: job %q: \"dc\" must be a positive DC id", line, j.ID)
	}
	if len(j.Params) == 0 || string(j.Params) == "null" {
		j.Params = json.RawMessage("{}")
	}
	return j, nil
}

// randomID derives a job's random_id from its id, so a rerun or a resend of
// the same job is the same message to the server.
func randomID(jobID string) int64 {
	h := sha256.Sum256([]byte("tlworker random_id\x00" + jobID))
	return int64(binary.LittleEndian.Uint64(h[:8]))
}

// outcome is one line of --out.
type outcome struct {
	ID        string          `json:"id"`
	OK        bool            `json:"ok"`
	Result    json.RawMessage `json:"result,omitempty"`
	Error     *outError       `json:"error,omitempty"`
	LatencyMS *float64        `json:"latency_ms,omitempty"`
}

type outError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

// failure makes the error object of a line: RPC errors keep their code and
// message; anything else (bad input, a broken chain, a closed client) is
// code 0 with a message that says what happened.
func failure(err error) *outError {
	var rpc *tgerr.Error
	if errors.As(err, &rpc) {
		return &outError{Code: rpc.Code, Message: rpc.Message}
	}
	return &outError{Code: 0, Message: err.Error()}
}

func ms(d time.Duration) *float64 {
	v := float64(d.Microseconds()) / 1000
	return &v
}

// previous reads an --out file for --resume: which job ids already have a
// result line, and whether it was ok. A last line cut short by a crash is
// cut off the file so appending continues on a line boundary.
func previous(path string) (map[string]bool, error) {
	done := map[string]bool{}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if errors.Is(err, os.ErrNotExist) {
		return done, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := bufio.NewReader(f)
	var good int64
	for n := 1; ; n++ {
		line, err := r.ReadBytes('\n')
		if err == io.EOF {
			if len(line) > 0 {
				if terr := f.Truncate(good); terr != nil {
					return nil, terr
				}
			}
			return done, nil
		}
		if err != nil {
			return nil, err
		}
		var o struct {
			ID string `json:"id"`
			OK bool   `json:"ok"`
		}
		if json.Unmarshal(line, &o) != nil || o.ID == "" {
			return nil, fmt.Errorf("%s line %d is not a result line; refusing to append to it", path, n)
		}
		done[o.ID] = o.OK
		good += int64(len(line))
	}
}
