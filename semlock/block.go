package semlock

import (
	"context"
	"syscall"
	"time"
)

// block runs body, the ops of a wait after the token check, until the
// kernel completes them, ctx is done, or again says to stop. It is wait
// (wait.go) for Event, Barrier and Condition: the same abort semaphore
// wakes a cancelled waiter on Linux without polling, and the same polling
// stands in on darwin.
//
// The ops are first tried once with IPC_NOWAIT, before ctx is looked at:
// a wait whose condition already holds succeeds even with a done ctx
// (CPython's wait(0) on a set event is true), and the uncontended path is
// one raw syscall without a watcher for ctx.
//
// Each time the ops fail with EAGAIN, block reads the set (which also
// checks its token) and calls again with the values: a non-nil error from
// it ends the wait (a broken barrier). A raised abort semaphore below
// brokenUnit is another waiter's cancellation: retry once it is lowered.
//
// withAbort puts the abort op in every try, cancellable or not: a
// Barrier's waits need it, since it also carries breakage.
func (s *SemLock) block(ctx context.Context, op string, withAbort bool, body []sembuf, again func(v *[nsems]uint16) error) error {
	var ops [maxOps]sembuf
	tokenCheck(ops[:], s.tok)
	n := tokOps
	if withAbort {
		ops[n] = sembuf{semAbort, 0, flagNowait}
		n++
	}
	n += copy(ops[n:], body)
	for i := tokOps; i < n; i++ {
		ops[i].flg |= flagNowait
	}
	err := semopNowait(s.h.ID, ops[:n])
	if err == nil {
		return nil
	}
	if err != syscall.EAGAIN {
		return opErr(op, s.h.ID, err)
	}
	deadline, hasDeadline := ctx.Deadline()
	poll, abortOp, done := s.watchCancel(ctx, hasDeadline)
	defer done()
	base := tokOps
	if abortOp || withAbort {
		ops[base] = sembuf{semAbort, 0, flagNowait}
		base++
	}
	n = base + copy(ops[base:], body)
	pause := time.Millisecond
	for first := true; ; first = false {
		if !first {
			timeout := time.Duration(-1)
			if hasDeadline {
				if timeout = time.Until(deadline); timeout <= 0 {
					timeout = 0
				}
			}
			if poll {
				timeout = 0 // one IPC_NOWAIT attempt
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			if timeout == 0 && !poll {
				return context.DeadlineExceeded
			}
			err = semopWait(s.h.ID, ops[:n], timeout)
			switch err {
			case nil:
				return nil
			case syscall.EINTR:
				continue // the kernel never restarts semtimedop; the deadline is recomputed
			case syscall.EAGAIN:
			default:
				return opErr(op, s.h.ID, err)
			}
		}
		// EAGAIN: the state (a broken barrier), a stale handle, our
		// cancellation or deadline, another waiter's cancellation, or
		// (polling, or the first try) not yet.
		v, err := s.values(op)
		if err != nil {
			return err
		}
		if err := again(v); err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if hasDeadline && !time.Now().Before(deadline) {
			return context.DeadlineExceeded
		}
		switch {
		case v[semAbort]%brokenUnit > 0:
			// Another waiter's cancellation: its canceller lowers abort
			// as soon as that waiter has returned, within microseconds.
			time.Sleep(20 * time.Microsecond)
		case poll && !first:
			if err := sleepCtx(ctx, pause, deadline, hasDeadline); err != nil {
				return err
			}
			pause = min(2*pause, 20*time.Millisecond)
		}
	}
}

// brokenUnit is what a broken Barrier adds to its abort semaphore. The
// abort semaphore then carries two things: cancellations, which raise it by
// 1 for microseconds, and breakage, in whole brokenUnits that stay until
// Reset. A barrier is broken while abort >= brokenUnit. 256 leaves room for
// 255 cancellations at once and 127 breaks (MaxValue / 256); a party's
// undo adjustment of brokenUnit per goroutine at the barrier stays within
// the kernel's SEMAEM (32767 on Linux, 16384 on darwin: 64 goroutines of one
// process at one barrier at once).
const brokenUnit = 256
