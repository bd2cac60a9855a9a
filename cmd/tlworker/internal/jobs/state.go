package jobs

import "sync"

// jobState is what later jobs that run "after" a job need of it. It lives
// as long as the run (any later line may name the job), so it keeps the
// job's call only while that matters: from the first attempt's submission
// until the job has succeeded. A run of millions of jobs then holds a few
// dozen bytes per finished job, not its request and result.
type jobState struct {
	mu        sync.Mutex
	submitted bool          // the first attempt has a call, or the job will not be sent
	succeeded bool          // the job ran: a dependent need not wait for it
	call      Call          // the first attempt, nil if never sent or once succeeded
	wake      chan struct{} // made by the first dependent that waits; closed on submission
}

// submit records the job's first attempt (nil: it will not be sent) and
// wakes the dependents waiting for it. Only the first submit counts.
func (s *jobState) submit(c Call) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.submitted {
		return
	}
	s.submitted, s.call = true, c
	if s.wake != nil {
		close(s.wake)
	}
}

// succeed records that the job ran, after its submission; its call is
// dropped: the scheduler has nothing to order after a call that is done.
func (s *jobState) succeed() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.succeeded, s.call = true, nil
}

// await waits for the job's submission and returns how a dependent
// follows it: done is true once it succeeded (run at once, unchained);
// else call is the call to chain after, nil if the job was never sent.
func (s *jobState) await() (call Call, done bool) {
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
	return s.call, s.succeeded
}
