package spawn

import (
	"time"
)

// Hooks for the external tests (package spawn_test).

// TrackerPids returns the pids of this process's live trackers, oldest
// first.
func TrackerPids() []int {
	tracker.mu.Lock()
	defer tracker.mu.Unlock()
	pids := make([]int, 0, len(tracker.procs))
	for _, p := range tracker.procs {
		pids = append(pids, p.proc.Pid)
	}
	return pids
}

// SetKeepWait sets how long trackers started from now on wait for a
// set's live last user to exit before they keep the set (keepWait, one
// minute, otherwise). Call it before the first Track.
func SetKeepWait(d time.Duration) {
	tracker.mu.Lock()
	defer tracker.mu.Unlock()
	tracker.keepFor = d
}
