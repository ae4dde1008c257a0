package slots

import (
	"context"
	"errors"
	"sync"

	"github.com/poolrun/poolrun/semlock"
)

// parentUnit is the unit of the cap that the poolrun job this process
// runs in holds, claimable by one process at a time through the job's
// held mutex (see HeldName). Claimed, it is one more slot of this
// process's, free whenever no slot of ours runs on it.
type parentUnit struct {
	mu      sync.Mutex
	held    *semlock.SemLock   // the job's held mutex, taken by this process: the unit is ours
	pending *semlock.SemLock   // the held mutex, taken by another process: retry
	free    bool               // ours, and no slot runs on it
	wake    context.CancelFunc // cancels a wait for a unit of the set when the unit comes free
}

func newParentUnit(m *semlock.SemLock) *parentUnit {
	u := &parentUnit{pending: m}
	u.claimLocked()
	return u
}

// claimLocked takes the held mutex without waiting, if not yet held.
func (u *parentUnit) claimLocked() {
	if u.pending == nil {
		return
	}
	got, err := u.pending.TryAcquire()
	if got && (err == nil || errors.Is(err, semlock.ErrOwnerDead)) {
		u.held, u.pending, u.free = u.pending, nil, true
	}
}

// take takes the unit if it is ours and free. If not, it returns the
// context to wait for a unit of the set with: done when ctx is, when the
// unit comes free, and, while another process has the claim, after
// pollClaim. The caller calls woken after that wait, then cancel.
func (u *parentUnit) take(ctx context.Context) (wctx context.Context, cancel context.CancelFunc, ok bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.claimLocked()
	if u.held != nil && u.free {
		u.free = false
		return nil, nil, true
	}
	if u.pending != nil {
		wctx, cancel = context.WithTimeout(ctx, pollClaim)
	} else if u.held != nil {
		wctx, cancel = context.WithCancel(ctx)
	} else {
		return ctx, func() {}, false // closed
	}
	u.wake = cancel
	return wctx, cancel, false
}

func (u *parentUnit) woken() {
	u.mu.Lock()
	u.wake = nil
	u.mu.Unlock()
}

// tryTake takes the unit if it is ours (claiming it if need be) and free.
func (u *parentUnit) tryTake() bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.claimLocked()
	if u.held != nil && u.free {
		u.free = false
		return true
	}
	return false
}

// give frees the unit, waking a waiter.
func (u *parentUnit) give() {
	u.mu.Lock()
	u.free = true
	if u.wake != nil {
		u.wake()
	}
	u.mu.Unlock()
}

// close gives the held mutex back (the job's unit is then claimable by
// another process of the job). u may be nil.
func (u *parentUnit) close() error {
	if u == nil {
		return nil
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	var err error
	if u.held != nil {
		err = u.held.Release()
		u.held.Close()
		u.held = nil
	}
	if u.pending != nil {
		u.pending.Close()
		u.pending = nil
	}
	return err
}
