package jobs

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
)

// job is one line of the jobs input.
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
// the same job is the same message to the server (MTProto: the server
// deduplicates messages.sendMessage and friends by random_id).
func randomID(jobID string) int64 {
	h := sha256.Sum256([]byte("tlworker random_id\x00" + jobID))
	return int64(binary.LittleEndian.Uint64(h[:8]))
}
