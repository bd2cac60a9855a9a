package jobs

import (
	"errors"
	"fmt"
	"sync"

	"github.com/tlsched/tlsched/scheduler"
)

// UnreachableError is Run's error when every job has its result line but
// some failed because their DC stayed unreachable past the client's outage
// budget (*scheduler.OutageError): tlworker send exits 1 with it.
type UnreachableError struct {
	// NotSent and MayHaveRun count those jobs by kind (Error.Kind).
	NotSent, MayHaveRun int
	// Err is the first such job's error.
	Err error
}

// Error is one line: the counts, what to do, and the first error.
func (e *UnreachableError) Error() string {
	return fmt.Sprintf("%d jobs failed because the server stayed unreachable (%d not sent, which --resume --retry-not-sent runs again; %d may have run): %v",
		e.NotSent+e.MayHaveRun, e.NotSent, e.MayHaveRun, e.Err)
}

// Unwrap returns the first job's error.
func (e *UnreachableError) Unwrap() error { return e.Err }

// unreachable gathers the jobs that failed with an *scheduler.OutageError.
type unreachable struct {
	mu sync.Mutex
	e  UnreachableError
}

// note records a failed job's error and the kind of its line.
func (u *unreachable) note(err error, kind string) {
	var oe *scheduler.OutageError
	if !errors.As(err, &oe) {
		return
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.e.Err == nil {
		u.e.Err = oe
	}
	if kind == KindMayHaveRun {
		u.e.MayHaveRun++
	} else {
		u.e.NotSent++
	}
}

// err returns the *UnreachableError, or nil when no job failed that way.
func (u *unreachable) err() error {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.e.Err == nil {
		return nil
	}
	e := u.e
	return &e
}
