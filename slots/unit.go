package slots

import (
	"context"
	"errors"
	"sync"

	"github.com/poolrun/poolrun/semlock"
)

// parentUnit is the unit of the cap that the poolrun job this process
// runs in holds. Whoever holds the job's held mutex (see HeldName) runs
// on it; this process takes the mutex, without waiting, for each slot it
// runs on the unit and gives it back with the slot. The mutex has undo: a
// process killed while it runs on the unit gives it back.
//
// Claimed per slot rather than for the process's life, the unit goes to
// whichever process of the job needs it next: two runs started in one
// job take turns on it, and the workers of a pool started in a job all
// can run on it, one at a time.
type parentUnit struct {
	m *semlock.SemLock // the job's held mutex

	mu     sync.Mutex
	ours   bool                       // this process holds m: a slot runs on the unit
	closed bool                       // Close was called: m is closed
	wakes  map[int]context.CancelFunc // waits for a unit of the set, to end when this process gives the unit back
	next   int                        // key of the next wake
}

func newParentUnit(m *semlock.SemLock) *parentUnit { return &parentUnit{m: m} }

// claimLocked takes the held mutex without waiting; a previous holder's
// death (ErrOwnerDead) leaves it held by us all the same.
func (u *parentUnit) claimLocked() bool {
	if u.ours || u.closed {
		return false
	}
	got, err := u.m.TryAcquire()
	if got && (err == nil || errors.Is(err, semlock.ErrOwnerDead)) {
		u.ours = true
		return true
	}
	return false
}

// take takes the unit if no process of the job runs on it. If another
// does, it returns the context to wait for a unit of the set with: done
// when ctx is, when this process gives the unit back, and, while another
// process has it, after pollClaim (it may end first). The caller calls
// cancel after that wait.
func (u *parentUnit) take(ctx context.Context) (wctx context.Context, cancel context.CancelFunc, ok bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	switch {
	case u.claimLocked():
		return nil, nil, true
	case u.closed:
		return ctx, func() {}, false
	case !u.ours:
		// Another process of the job runs on the unit: look again soon.
		wctx, cancel = context.WithTimeout(ctx, pollClaim)
		return wctx, cancel, false
	}
	// This process runs on the unit: wait until it gives it back.
	wctx, stop := context.WithCancel(ctx)
	if u.wakes == nil {
		u.wakes = map[int]context.CancelFunc{}
	}
	key := u.next
	u.next++
	u.wakes[key] = stop
	return wctx, func() {
		stop()
		u.mu.Lock()
		delete(u.wakes, key)
		u.mu.Unlock()
	}, false
}

// tryTake takes the unit if no process of the job runs on it.
func (u *parentUnit) tryTake() bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.claimLocked()
}

// give gives the unit back, waking this process's waiters.
func (u *parentUnit) give() error {
	u.mu.Lock()
	defer u.mu.Unlock()
	if !u.ours {
		return nil
	}
	u.ours = false
	err := u.m.Release()
	for _, w := range u.wakes {
		w()
	}
	return err
}

// close lets go of the held mutex. u may be nil.
func (u *parentUnit) close() error {
	if u == nil {
		return nil
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	var err error
	if u.ours {
		err = u.m.Release()
		u.ours = false
	}
	if !u.closed {
		u.closed = true
		u.m.Close()
	}
	return err
}
