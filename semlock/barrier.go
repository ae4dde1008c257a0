package semlock

import (
	"context"
	"fmt"
	"syscall"
	"time"
)

// Barrier makes a fixed number of parties (goroutines or processes) wait
// for each other, like CPython's multiprocessing.Barrier: each Wait
// returns once all parties have called it, and the barrier is ready for
// the next round. A party that times out, is cancelled or dies (SIGKILL
// included) at the barrier breaks it: every other party's Wait fails with
// ErrBrokenBarrier instead of hanging, and so does every later Wait until
// Reset.
//
// The barrier has no lock a party could die holding. Every operation
// checks, in the same atomic semop, that the set is still the handle's:
// a handle whose set was removed and whose id was reused never touches
// the newer set.
type Barrier struct {
	s      *SemLock
	action func() error
}

// How a Barrier uses its set (implementation; the layout is in layout.go).
// There is no gate mutex, so no lock holder that could die:
//
//   - semValue and semRoom are the arrivals still missing in rounds of
//     parity 0 and 1 (R0, R1). Exactly one of them is non-zero: the current
//     round's. Waiters of round p wait for R[p] to be zero; the last party
//     sets R[p] to 0 and R[1-p] to n in one semop. R[p] stays 0 through
//     the whole next round, which cannot end without the waiters of this
//     one, so a waiter woken late (polling on darwin, which re-checks
//     its ops when woken) never misses its round's end.
//   - semAbort wakes a cancelled waiter (as for SemLock, +1 for
//     microseconds) and marks the barrier broken (+brokenUnit, until
//     Reset). Waiters wait with {abort:0|NOWAIT, R[p]:0}, so breaking it
//     fails every waiter at once, in the kernel, in the breaking semop.
//   - Each party arms itself first: {abort:+brokenUnit,
//     abort:-brokenUnit|UNDO} changes nothing but leaves an undo
//     adjustment of +brokenUnit, so if it dies before it disarms (the
//     reverse ops) the kernel breaks the barrier at its exit.
//   - An arrival takes its unit of R[p] with undo, and gives it back
//     (with the undo) if the barrier breaks before the round ends: Reset
//     waits for the counter to be whole again, so that no party of the
//     broken round is still between its arrival and its wait (it would
//     find the breakage cleared and pass) when Reset clears it. A party
//     that passes drops the undo {R[p]:+1|UNDO, R[p]:-1}.
//   - semFree is raised while Reset runs; arrivals wait for it to drop.
//   - semMax is n, the number of parties.
//
// Every op array keeps the three-op token check (a handle whose set was
// removed and whose id was reused never touches the newer set) and fits
// darwin's five ops: that is why arming is its own semop instead of part
// of the arrival (arrival and arming in one would take 3+4), and why the
// round's parity is read from which counter is non-zero instead of a
// third semaphore the arrival would have to check.

// Barrier ops after the token check; each array fits darwin's 5 ops.
const (
	barrierArmOps    = 2 // {abort:+unit, abort:-unit|UNDO} and the reverse
	barrierArriveOps = 2 // {R[p]:-r|NOWAIT, R[p]:+(r-1)}
	barrierLastOps   = 2 // {R[p]:-1|NOWAIT, R[1-p]:+n}
	barrierWaitOps   = 1 // {R[p]:0}, after the abort op (always: it carries breakage)
	barrierResetOps  = 2 // {R0:-v0|NOWAIT, R1:-v1|NOWAIT}, {R[q]:+n, abort:-k*unit|NOWAIT}
)

// NewBarrier creates a private barrier of parties parties (1 to
// MaxValue). action, if not nil, is run by the last party to arrive in
// each round, before any party is released; if it fails, the barrier
// breaks and that party's Wait returns its error. Each process gives its
// own action to AttachBarrier: the last party runs the one it has.
//
// A party at the barrier holds two undo adjustments on its set (its arming
// and its arrival): on macOS, where a process has at most 10 undo entries
// (kern.sysv.semume) and an adjustment at most 16384, one process can have
// at most 64 goroutines at one barrier at once.
func NewBarrier(parties int, action func() error, opts ...Option) (*Barrier, error) {
	o, err := checkOpts("new barrier", opts)
	if err != nil {
		return nil, err
	}
	if parties < 1 || parties > MaxValue {
		return nil, rangeErr("new barrier", "%d parties outside 1..%d", parties, MaxValue)
	}
	var vals [nsems]int
	vals[semValue] = parties
	s, err := newSet(Handle{Kind: BarrierKind, MaxValue: parties, Undo: true}, o, vals)
	if err != nil {
		return nil, err
	}
	return &Barrier{s: s, action: action}, nil
}

// AttachBarrier attaches to the barrier h names, verified like Attach,
// with this process's action (may be nil).
func AttachBarrier(h Handle, action func() error) (*Barrier, error) {
	s, err := attachKind(h, BarrierKind)
	if err != nil {
		return nil, err
	}
	return &Barrier{s: s, action: action}, nil
}

// Parties returns the number of parties.
func (b *Barrier) Parties() int { return b.s.h.MaxValue }

// Wait arrives at the barrier and blocks until every party has arrived.
// It returns the arrival index, 0 for the first to arrive and Parties()-1
// for the last, which runs the action before the others are released.
//
// If ctx ends first, the barrier breaks (as in CPython: a timeout at the
// barrier breaks it for all) and Wait returns an error that matches both
// ErrBrokenBarrier and ctx's error. If the barrier is or becomes broken
// (Abort, another party's timeout or death, a failed action, Reset), Wait
// returns ErrBrokenBarrier. During a Reset, arrivals wait for it to end.
//
// More callers at once than parties is a misuse: rounds then still end
// after every Parties() arrivals, but arrival indexes may repeat, and a
// party may get ErrBrokenBarrier from a round another party completed.
func (b *Barrier) Wait(ctx context.Context) (int, error) {
	const op = "wait"
	s := b.s
	if s.closed.Load() {
		return -1, s.closedErr(op)
	}
	n := s.h.MaxValue
	if err := b.arm(true); err != nil {
		return -1, err
	}
	defer b.arm(false)
	var ops [tokOps + barrierArriveOps]sembuf
	tokenCheck(ops[:], s.tok)
	for {
		v, err := s.values(op)
		if err != nil {
			return -1, err
		}
		if v[semFree] > 0 { // a Reset runs: wait for its end
			if err := b.waitReset(ctx, op); err != nil {
				return -1, err
			}
			continue
		}
		if v[semAbort] >= brokenUnit {
			return -1, b.brokenErr(op, nil)
		}
		p, r := parity(v)
		if r == 0 {
			// Both counters zero: only a Reset leaves this, with semFree
			// raised (looked at above), or a resetter that died, which
			// leaves the barrier broken (also looked at above).
			return -1, &Error{Op: op, ID: s.h.ID, Kind: ErrBrokenBarrier, Msg: "inconsistent state (both round counters zero): Reset it"}
		}
		index := n - r
		if r > 1 {
			// Take arrival r (R[p] >= r, which within a round means
			// R[p] == r: it only falls until the round ends and is
			// raised again only two rounds later, which cannot end
			// without this party). EAGAIN: another party arrived first.
			// With undo: if this process dies, its arrival is given
			// back (and its arming breaks the barrier), so a Reset
			// knows it has left.
			ops[tokOps] = sembuf{p, int16(-r), flagNowait | flagUndo}
			ops[tokOps+1] = sembuf{p, int16(r - 1), flagUndo}
			if err := semopNowait(s.h.ID, ops[:]); err != nil {
				if err == syscall.EAGAIN {
					continue
				}
				return -1, opErr(op, s.h.ID, err)
			}
			if err := b.await(ctx, p); err != nil {
				return -1, err
			}
			return index, nil
		}
		// The last party: run the action, then release the others and
		// arm the next round in one semop. That fails if a Reset zeroed
		// R[p] meanwhile; if the barrier was only broken (the others
		// have failed already), the round still ends for this party, as
		// in CPython.
		if err := b.runAction(op); err != nil {
			return -1, err
		}
		ops[tokOps] = sembuf{p, -1, flagNowait}
		ops[tokOps+1] = sembuf{1 - p, int16(n), 0}
		if err := semopNowait(s.h.ID, ops[:]); err != nil {
			if err != syscall.EAGAIN {
				return -1, opErr(op, s.h.ID, err)
			}
			if _, verr := s.values(op); verr != nil {
				return -1, verr
			}
			// R[p] is 0: a Reset zeroed it (or, with more callers than
			// parties, another "last" party completed the round).
			return -1, &Error{Op: op, ID: s.h.ID, Kind: ErrBrokenBarrier, Msg: "broken or reset while this party ran the action"}
		}
		return index, nil
	}
}

// runAction runs the action; if it fails or panics, the barrier breaks.
func (b *Barrier) runAction(op string) (err error) {
	if b.action == nil {
		return nil
	}
	ok := false
	defer func() {
		if !ok {
			b.breakIt(op) // a panic: the other parties must not hang
		}
	}()
	err = b.action()
	ok = true
	if err != nil {
		b.breakIt(op)
		return &Error{Op: op, ID: b.s.h.ID, Kind: ErrBrokenBarrier, Msg: "the action failed", Err: err}
	}
	return nil
}

// parity returns the current round's counter and its value.
func parity(v *[nsems]uint16) (uint16, int) {
	if v[semValue] > 0 {
		return semValue, int(v[semValue])
	}
	return semRoom, int(v[semRoom])
}

// await waits for round p to end, then takes back the undo of its
// arrival. If the barrier is broken (or breaks: a timeout or cancellation
// breaks it for every party) it gives its arrival back instead, so that a
// Reset, which waits for every arrived party to leave, knows it left.
func (b *Barrier) await(ctx context.Context, p uint16) error {
	const op = "wait"
	s := b.s
	body := [barrierWaitOps]sembuf{{p, 0, 0}}
	var broken error
	err := s.block(ctx, op, true, body[:], func(v *[nsems]uint16) error {
		if v[semAbort] >= brokenUnit {
			broken = b.brokenErr(op, nil)
			return broken
		}
		return nil
	})
	var ops [tokOps + barrierArriveOps]sembuf
	tokenCheck(ops[:], s.tok)
	if err == nil {
		// Passed: keep the value (0), drop the undo of the arrival.
		ops[tokOps] = sembuf{p, 1, flagUndo}
		ops[tokOps+1] = sembuf{p, -1, 0}
		if err := semopNowait(s.h.ID, ops[:]); err != nil {
			return opErr(op, s.h.ID, err)
		}
		return nil
	}
	timedOut := err != broken && (ctx.Err() != nil || err == context.DeadlineExceeded)
	if err != broken && !timedOut {
		return err // removed, stale, ...
	}
	// Give the arrival back, with its undo: {R[p]:-1|NOWAIT|UNDO,
	// R[p]:+2|UNDO} adds 1 unless R[p] is 0, that is unless the round
	// ended meanwhile (then this party passed after all).
	ops[tokOps] = sembuf{p, -1, flagNowait | flagUndo}
	ops[tokOps+1] = sembuf{p, 2, flagUndo}
	switch gerr := semopNowait(s.h.ID, ops[:]); gerr {
	case nil:
	case syscall.EAGAIN:
		if _, verr := s.values(op); verr != nil {
			return verr
		}
		ops[tokOps] = sembuf{p, 1, flagUndo}
		ops[tokOps+1] = sembuf{p, -1, 0}
		if err := semopNowait(s.h.ID, ops[:]); err != nil {
			return opErr(op, s.h.ID, err)
		}
		return nil
	default:
		return opErr(op, s.h.ID, gerr)
	}
	if timedOut {
		b.breakIt(op)
		return b.brokenErr(op, err)
	}
	return err
}

// waitReset polls (a Reset takes microseconds) until no Reset runs.
func (b *Barrier) waitReset(ctx context.Context, op string) error {
	for pause := 50 * time.Microsecond; ; pause = min(2*pause, 5*time.Millisecond) {
		v, err := semctl(b.s.h.ID, semFree, cmdGETVAL, nil)
		if err != nil {
			return sysErr(op, b.s.h.ID, err)
		}
		if v == 0 {
			return nil
		}
		deadline, has := ctx.Deadline()
		if err := sleepCtx(ctx, pause, deadline, has); err != nil {
			b.breakIt(op)
			return b.brokenErr(op, err)
		}
		if has && !time.Now().Before(deadline) {
			b.breakIt(op)
			return b.brokenErr(op, context.DeadlineExceeded)
		}
	}
}

func (b *Barrier) brokenErr(op string, cause error) error {
	msg := "Reset it to use it again"
	if cause != nil {
		msg = "this party timed out or was cancelled at the barrier, which broke it for every party"
	}
	return &Error{Op: op, ID: b.s.h.ID, Kind: ErrBrokenBarrier, Msg: msg, Err: cause}
}

// arm (on) leaves an undo adjustment that breaks the barrier if this
// process dies before disarming (off), without changing any value.
func (b *Barrier) arm(on bool) error {
	if on {
		return b.s.nowait("wait", sembuf{semAbort, brokenUnit, 0}, sembuf{semAbort, -brokenUnit, flagUndo})
	}
	return b.s.nowait("wait", sembuf{semAbort, brokenUnit, flagUndo}, sembuf{semAbort, -brokenUnit, 0})
}

// breakIt marks the barrier broken, failing every waiter at once.
func (b *Barrier) breakIt(op string) error {
	s := b.s
	v, err := s.values(op)
	if err != nil {
		return err
	}
	if v[semAbort] >= brokenUnit {
		return nil // already
	}
	return s.nowait(op, sembuf{semAbort, brokenUnit, 0})
}

// Abort breaks the barrier: every waiting party and every later Wait
// fails with ErrBrokenBarrier until Reset.
func (b *Barrier) Abort() error {
	if b.s.closed.Load() {
		return b.s.closedErr("abort")
	}
	return b.breakIt("abort")
}

// Broken reports whether the barrier is broken.
func (b *Barrier) Broken() (bool, error) {
	if b.s.closed.Load() {
		return false, b.s.closedErr("broken")
	}
	v, err := b.s.values("broken")
	if err != nil {
		return false, err
	}
	return v[semAbort] >= brokenUnit, nil
}

// Waiting returns how many parties have arrived in the current round and
// not been released (the last one counts while it runs the action).
func (b *Barrier) Waiting() (int, error) {
	if b.s.closed.Load() {
		return 0, b.s.closedErr("waiting")
	}
	v, err := b.s.values("waiting")
	if err != nil {
		return 0, err
	}
	_, r := parity(v)
	if r == 0 {
		return 0, nil
	}
	return b.s.h.MaxValue - r, nil
}

// Reset returns the barrier to its initial state, not broken and with no
// party arrived. Parties waiting at it fail with ErrBrokenBarrier (as in
// CPython); parties that call Wait while the Reset runs wait for it and
// then arrive in the fresh round.
func (b *Barrier) Reset() error {
	const op = "reset"
	s := b.s
	if s.closed.Load() {
		return s.closedErr(op)
	}
	var body [barrierResetOps]sembuf
	do := func(k int) error { return s.nowait(op, body[:k]...) }
	// 1. Raise semFree, one Reset at a time; with undo, so a resetter
	// that dies leaves no Reset running (and the barrier broken).
	body[0] = sembuf{semFree, 0, flagNowait}
	body[1] = sembuf{semFree, 1, flagUndo}
	for pause := 50 * time.Microsecond; ; pause = min(2*pause, 5*time.Millisecond) {
		err := do(2)
		if err == nil {
			break
		}
		if err != syscall.EAGAIN {
			return err
		}
		time.Sleep(pause) // another Reset runs
	}
	defer func() {
		body[0] = sembuf{semFree, -1, flagUndo | flagNowait}
		do(1)
	}()
	// 2. Break it: every waiter fails, in the kernel, at once (on darwin
	// as soon as each runs again).
	if err := b.breakIt(op); err != nil {
		return err
	}
	// 3. Wait until every party that arrived in the broken round has
	// left (each gives its arrival back when it sees the barrier broken;
	// the kernel does it for a party that died), so that none is still
	// between its arrival and its wait when the breakage is cleared; then
	// zero both counters, from the values read: EAGAIN if they changed
	// meanwhile. Zero counters fail every later arrival and completion,
	// which then see semFree and wait for the Reset to end.
	var p uint16
	deadline := time.Now().Add(resetDrain)
	for pause := 20 * time.Microsecond; ; pause = min(2*pause, 5*time.Millisecond) {
		v, err := s.values(op)
		if err != nil {
			return err
		}
		var ok bool
		if p, ok = drained(v, s.h.MaxValue); !ok {
			if time.Now().After(deadline) {
				return &Error{Op: op, ID: s.h.ID, Kind: ErrBrokenBarrier,
					Msg: fmt.Sprintf("the parties did not leave the broken barrier in %v (stopped processes?): it stays broken", resetDrain)}
			}
			time.Sleep(pause)
			continue
		}
		body[0] = sembuf{semValue, -int16(v[semValue]), flagNowait}
		body[1] = sembuf{semRoom, -int16(v[semRoom]), flagNowait}
		err = do(2)
		if err == nil {
			break
		}
		if err != syscall.EAGAIN {
			return err
		}
	}
	// 4. Arm the other parity than the broken round's (so a party of that
	// round still between its syscalls cannot complete or join the fresh
	// round) and clear the breakage, in one semop.
	for {
		v, err := s.values(op)
		if err != nil {
			return err
		}
		k := int(v[semAbort]) / brokenUnit
		body[0] = sembuf{1 - p, int16(s.h.MaxValue), 0}
		body[1] = sembuf{semAbort, -int16(k * brokenUnit), flagNowait}
		err = do(2)
		if err == nil {
			return nil
		}
		if err != syscall.EAGAIN {
			return err
		}
	}
}

// drained reports whether every party of the broken round has left it,
// and the round's counter (Reset arms the other). Left means gave its
// arrival back, or passed: a last party that completes the round while the
// others leave re-arms R[1-p] to n, and those who leave after that find
// R[p] at 0 and pass (their give-back fails), so the counters end as
// (n, 0) without a completion, and as (0, n) or (n-1, n) with one. (0, 0)
// is what a resetter that died leaves.
func drained(v *[nsems]uint16, n int) (uint16, bool) {
	r0, r1 := int(v[semValue]), int(v[semRoom])
	switch {
	case r0 == n && r1 == 0, r0 == n-1 && r1 == n:
		return semValue, true
	case r0 == 0 && r1 == n, r0 == n && r1 == n-1, r0 == 0 && r1 == 0:
		return semRoom, true
	}
	return 0, false
}

// resetDrain bounds how long Reset waits for the parties of the broken
// round to leave it.
const resetDrain = 30 * time.Second

// Handle returns what another process needs to AttachBarrier.
func (b *Barrier) Handle() Handle { return b.s.h }

// SemLock returns the barrier's set as a SemLock, to share it with
// spawn.Cmd.Locks or register it with spawn.Track; its unit methods
// refuse it. A child gets the Barrier back with AttachBarrier(handle, action).
func (b *Barrier) SemLock() *SemLock { return b.s }

// Remove deletes the barrier's set (see SemLock.Remove): waiters return
// ErrRemoved.
func (b *Barrier) Remove() error { return b.s.Remove() }

// Close forgets the barrier in this process (see SemLock.Close).
func (b *Barrier) Close() error { return b.s.Close() }

// String names the barrier's set and its number of parties.
func (b *Barrier) String() string {
	return fmt.Sprintf("barrier %d (%d parties)", b.s.h.ID, b.s.h.MaxValue)
}
