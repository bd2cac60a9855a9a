package jobs

import "sync"

// outcome is how a job ended, as its dependents see it.
type outcome uint8

const (
	running   outcome = iota // not ended yet
	succeeded                // it ran: a dependent need not wait for it
	failed                   // it has a failure line, sent or not: dependents are not run
	dropped                  // no line (the run was closing): --resume runs it, and its dependents, again
	unsent                   // failed without leaving tlworker (KindNotSent): --retry-not-sent runs it, and its dependents, again
)

// jobState is what later jobs that run "after" a job need of it. It lives
// as long as the run (any later line may name the job), so it keeps the
// job's call only while that matters: from the first attempt's submission
// until the job has succeeded. A run of millions of jobs then holds a few
// dozen bytes per finished job, not its request and result. Its outcome
// is the engine's own record, so a dependent never relies on how many
// failures the scheduler remembers.
type jobState struct {
	id        string // the job's id (idTable's key)
	account   string // the account that sends it (Router); set before it is taken
	mu        sync.Mutex
	submitted bool          // the first attempt has a call, or the job has ended
	outcome   outcome       // set once, by end
	call      Call          // the first attempt; nil if never sent, or once it succeeded
	wake      chan struct{} // made by the first dependent that waits; closed on submission
}

// submit records the job's first attempt and wakes the dependents waiting
// for it. Only the first submit counts.
func (s *jobState) submit(c Call) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.submitLocked(c)
}

func (s *jobState) submitLocked(c Call) {
	if s.submitted {
		return
	}
	s.submitted, s.call = true, c
	if s.wake != nil {
		close(s.wake)
	}
}

// isSubmitted reports whether the job has had its first attempt or has
// ended: await would not wait.
func (s *jobState) isSubmitted() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.submitted
}

// end records the job's outcome before its line is written (or dropped),
// and wakes dependents still waiting for a job that was never sent. A job
// that succeeded lets go of its call: the scheduler has nothing to order
// after a call that is done.
func (s *jobState) end(o outcome) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.outcome = o
	if o == succeeded {
		s.call = nil
	}
	s.submitLocked(nil)
}

// await waits for the job's first attempt, or its end if it is never
// sent, and returns the call to chain after (nil if none) and the outcome
// so far (running while the call is in flight).
func (s *jobState) await() (Call, outcome) {
	s.mu.Lock()
	if !s.submitted {
		if s.wake == nil {
			s.wake = make(chan struct{})
		}
		w := s.wake
		s.mu.Unlock()
		<-w
		s.mu.Lock()
	}
	defer s.mu.Unlock()
	return s.call, s.outcome
}
