package semlock

import (
	"context"
	"sync/atomic"
	"syscall"
	"time"
)

// wait blocks in the kernel until a unit is taken, ctx is done or the
// deadline passes.
//
// Cancellation on Linux: the waiter's op array starts (after the token
// check) with {abort:0|IPC_NOWAIT}. When ctx is done, abortWaiter raises
// the abort semaphore; the kernel re-runs every pending op of the set and
// fails ours with EAGAIN, synchronously inside the raising semop. If our
// thread had not yet entered the kernel it finds abort raised and fails at
// once. Either way it returns and closes ack, and only then is abort
// lowered, so the wake-up cannot be lost. Other waiters woken by the same
// raise see abort > 0 and retry once it is lowered. The raise uses
// SEM_UNDO, so a canceller killed between raise and lower cannot leave
// abort stuck.
//
// darwin has no semtimedop: a wait with a deadline or a cancellable ctx
// polls with IPC_NOWAIT and a back-off from 1 ms to 20 ms.
func (s *SemLock) wait(ctx context.Context, deadline time.Time, hasDeadline bool) error {
	poll, abortOp, done := s.watchCancel(ctx, hasDeadline)
	defer done()
	var ops [maxOps]sembuf
	tokenCheck(ops[:], s.tok)
	base := tokOps
	if abortOp {
		ops[base] = sembuf{semAbort, 0, flagNowait}
		base++
	}
	recovering := false
	pause := time.Millisecond
	for {
		var n int
		if recovering {
			n = base + s.recoverOps(ops[base:], 0)
		} else {
			n = base + s.acquireOps(ops[base:], 0)
		}
		timeout := time.Duration(-1)
		if hasDeadline {
			if timeout = time.Until(deadline); timeout <= 0 {
				return context.DeadlineExceeded
			}
		}
		if poll {
			timeout = 0 // one IPC_NOWAIT attempt
		}
		err := semopWait(s.h.ID, ops[:n], timeout)
		switch err {
		case nil:
			s.held.Add(1)
			if recovering {
				return s.ownerDead("acquire")
			}
			return nil
		case syscall.EINTR:
			continue // the kernel never restarts semtimedop; the deadline is recomputed
		case syscall.EAGAIN:
		default:
			return opErr("acquire", s.h.ID, err)
		}
		// EAGAIN: our cancellation or deadline, a dead mutex owner,
		// another waiter's cancellation, a stale handle, or (polling)
		// nothing available yet.
		if err := ctx.Err(); err != nil {
			return err
		}
		if hasDeadline && !time.Now().Before(deadline) {
			return context.DeadlineExceeded
		}
		v, err := s.values("acquire")
		if err != nil {
			return err
		}
		recovering = s.ownerDied(v)
		switch {
		case recovering:
		case v[semAbort] > 0:
			// Another waiter's cancellation: its canceller lowers abort
			// as soon as that waiter has returned, within microseconds.
			time.Sleep(20 * time.Microsecond)
		case poll:
			if err := sleepCtx(ctx, pause, deadline, hasDeadline); err != nil {
				return err
			}
			pause = min(2*pause, 20*time.Millisecond)
		}
	}
}

// watchCancel arranges for the end of ctx to wake this waiter, and says
// how the wait must run: poll (darwin, or the tests' hook) when it has a
// deadline or can be cancelled; or, on Linux with a cancellable ctx, put
// the abort op in its op array, since abortWaiter will raise it. done must
// be called when the wait ends: it acknowledges a cancellation (so the
// canceller lowers abort) and stops the watcher.
func (s *SemLock) watchCancel(ctx context.Context, hasDeadline bool) (poll, abortOp bool, done func()) {
	cancellable := ctx.Done() != nil
	if polling := pollWaits.Load(); polling || !cancellable {
		return polling && (cancellable || hasDeadline), false, func() {}
	}
	ack := make(chan struct{})
	stop := context.AfterFunc(ctx, func() { s.abortWaiter(ack) })
	return false, true, func() { close(ack); stop() }
}

// pollWaits makes cancellable and timed waits poll, as they must on
// darwin. The tests set it on Linux to run darwin's wait logic too.
var pollWaits = func() (b atomic.Bool) { b.Store(!canAbort); return }()

// abortWaiter wakes the waiter that closes ack (see wait).
func (s *SemLock) abortWaiter(ack <-chan struct{}) {
	select {
	case <-ack:
		return
	default:
	}
	var ops [tokOps + 1]sembuf
	tokenCheck(ops[:], s.tok)
	ops[tokOps] = sembuf{semAbort, 1, flagUndo}
	if semopNowait(s.h.ID, ops[:]) != nil {
		return // removed or stale: the waiter fails by itself
	}
	<-ack
	ops[tokOps] = sembuf{semAbort, -1, flagUndo | flagNowait}
	semopNowait(s.h.ID, ops[:])
}

// sleepCtx sleeps for d, less if ctx ends or the deadline comes first.
func sleepCtx(ctx context.Context, d time.Duration, deadline time.Time, hasDeadline bool) error {
	if hasDeadline {
		d = min(d, time.Until(deadline))
	}
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
