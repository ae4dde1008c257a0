package semlock

import (
	"context"
	"errors"
	"fmt"
	"syscall"
)

// Tally is GNU sem's kind of semaphore: a named count of holders in
// which every caller brings its own limit. Enter(ctx, 4) waits until
// fewer than 4 processes hold the tally, then holds it; a caller that
// says 2 waits until fewer than 2 hold it, whatever the others said, as
// GNU sem's -j does. Holding uses SEM_UNDO, so a holder killed even by
// SIGKILL stops holding at once, and WaitIdle, which waits until nobody
// holds the tally, can never hang on a dead holder.
//
// A Tally's set is made and removed by its users: OpenTally creates
// it when it does not exist, and RemoveIfIdle, which the last user to
// leave calls, removes it if nobody holds it. Nothing is left once every
// user is done.
type Tally struct {
	s *SemLock
}

// How a Tally uses its set (the layout is in layout.go): semValue is
// MaxValue minus the number of holders, MaxValue when nobody holds it.
// "Fewer than limit holders" is "value >= MaxValue-limit+1", which one
// semop tests and acts on: take MaxValue-limit+1 (the kernel blocks
// until the value is that high), give MaxValue-limit back, both with
// undo, a net take of 1 and an undo record of 1. WaitIdle takes and
// gives back MaxValue without undo (value == MaxValue). RemoveIfIdle
// takes MaxValue without waiting, with undo (a remover killed before the
// removal gives it back): the value is then 0, so no Enter, Force or
// WaitIdle can proceed on the set until it is removed, when they fail
// with ErrRemoved and open the name again.

// tallyEnterOps is how many ops Enter needs after the token check.
const tallyEnterOps = 2

// OpenTally opens the named tally, creating it (with no holder) if it
// does not exist. A set of that name of another kind is an ErrMismatch
// error. Only WithMode applies.
func OpenTally(name string, opts ...Option) (*Tally, error) {
	if err := ValidateName(name); err != nil {
		return nil, err
	}
	o, err := checkOpts("open tally", opts)
	if err != nil {
		return nil, err
	}
	s, err := openNamed(name, Handle{Kind: TallyKind, MaxValue: MaxValue, Undo: true}, o, func(h Handle, fp uint32) (*SemLock, error) {
		var vals [nsems]int
		vals[semValue] = MaxValue
		vals[semName1] = int(fp >> 15)
		vals[semName2] = int(fp & 0x7fff)
		return initVals(h.ID, h, vals)
	})
	if err != nil {
		return nil, err
	}
	return &Tally{s: s}, nil
}

// AttachTally attaches to the tally h names, verified like Attach.
func AttachTally(h Handle) (*Tally, error) {
	s, err := attachKind(h, TallyKind)
	if err != nil {
		return nil, err
	}
	return &Tally{s: s}, nil
}

// Enter waits until fewer than limit (1 to MaxValue) processes hold the
// tally, then holds it, until Leave or this process's exit. It returns
// ctx's error if ctx ends first, and ErrRemoved if the set is removed
// meanwhile (RemoveIfIdle by another user: open the name again).
func (c *Tally) Enter(ctx context.Context, limit int) error {
	if limit < 1 || limit > MaxValue {
		return rangeErr("enter", "limit %d outside 1..%d", limit, MaxValue)
	}
	if c.s.closed.Load() {
		return c.s.closedErr("enter")
	}
	need := MaxValue - limit + 1
	body := [tallyEnterOps]sembuf{{semValue, int16(-need), flagUndo}, {semValue, int16(need - 1), flagUndo}}
	n := tallyEnterOps
	if need == 1 {
		n = 1 // no limit to speak of: a give-back of 0 would be a wait for zero
	}
	return c.s.block(ctx, "enter", false, body[:n], func(*[nsems]uint16) error { return nil })
}

// Force holds the tally whatever its holders (GNU sem's
// --semaphoretimeout: take it anyway). It waits only while the set is
// being removed, to fail with ErrRemoved once it is.
func (c *Tally) Force(ctx context.Context) error {
	if c.s.closed.Load() {
		return c.s.closedErr("force")
	}
	body := [1]sembuf{{semValue, -1, flagUndo}}
	return c.s.block(ctx, "force", false, body[:], func(*[nsems]uint16) error { return nil })
}

// Leave stops holding the tally: call it once for each Enter or Force
// that succeeded. A process that holds the tally through the undo list
// it shares with its parent (CLONE_SYSVSEM) may leave for it.
func (c *Tally) Leave() error {
	if c.s.closed.Load() {
		return c.s.closedErr("leave")
	}
	err := c.s.nowait("leave", sembuf{semValue, 1, flagUndo})
	var e *Error
	if errors.As(err, &e) && e.Errno == syscall.ERANGE {
		return &Error{Op: "leave", ID: c.s.h.ID, Kind: ErrTooManyReleases, Msg: "nobody holds the tally"}
	}
	return err
}

// Holders returns how many hold the tally now (MaxValue while the set
// is being removed).
func (c *Tally) Holders() (int, error) {
	if c.s.closed.Load() {
		return 0, c.s.closedErr("holders")
	}
	v, err := c.s.values("holders")
	if err != nil {
		return 0, err
	}
	return MaxValue - int(v[semValue]), nil
}

// WaitIdle waits until nobody holds the tally, or ctx is done (then
// ctx's error). A tally removed meanwhile (by RemoveIfIdle, when idle)
// counts as idle: WaitIdle returns nil.
func (c *Tally) WaitIdle(ctx context.Context) error {
	if c.s.closed.Load() {
		return c.s.closedErr("wait-idle")
	}
	body := [2]sembuf{{semValue, -MaxValue, 0}, {semValue, MaxValue, 0}}
	err := c.s.block(ctx, "wait-idle", false, body[:], func(*[nsems]uint16) error { return nil })
	if errors.Is(err, ErrRemoved) {
		return nil
	}
	return err
}

// RemoveIfIdle removes the tally's set if nobody holds it, and reports
// whether it did. Users that open the name meanwhile wait for the
// removal, then make a new set. Call it when leaving, so that the last
// user leaves nothing behind.
func (c *Tally) RemoveIfIdle() (bool, error) {
	if c.s.closed.Load() {
		return false, c.s.closedErr("remove-if-idle")
	}
	err := c.s.nowait("remove-if-idle", sembuf{semValue, -MaxValue, flagNowait | flagUndo})
	if err == syscall.EAGAIN {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if err := semRemove(c.s.h.ID); err != nil {
		return false, sysErr("remove-if-idle", c.s.h.ID, err)
	}
	c.s.closed.Store(true)
	return true, nil
}

// Handle returns what another process needs to AttachTally.
func (c *Tally) Handle() Handle { return c.s.h }

// SemLock returns the tally's set as a SemLock (to list or share it);
// its unit methods refuse it.
func (c *Tally) SemLock() *SemLock { return c.s }

// Remove deletes the tally's set whoever holds it (see SemLock.Remove).
func (c *Tally) Remove() error { return c.s.Remove() }

// Close forgets the tally in this process (see SemLock.Close). A hold
// taken with Enter stays until Leave or this process's exit.
func (c *Tally) Close() error { return c.s.Close() }

// String describes the tally for messages.
func (c *Tally) String() string {
	return fmt.Sprintf("tally %q (set %d)", c.s.h.Name, c.s.h.ID)
}

// RemoveIdleTallies removes this user's tallies that nobody holds (left
// when the last holder was killed and no user came after it), and returns
// what it removed. A tally someone holds, or enters meanwhile, stays; each
// removal is the token-checked RemoveIfIdle, so a set that reused an id
// is never touched.
func RemoveIdleTallies() ([]Info, error) {
	sets, err := List()
	if err != nil {
		return nil, err
	}
	var removed []Info
	var errs []error
	for _, in := range sets {
		if in.Kind != TallyKind {
			continue
		}
		ok, err := (&Tally{s: fromHandle(in.Handle)}).RemoveIfIdle()
		switch {
		case ok:
			removed = append(removed, in)
		case err != nil && !errors.Is(err, ErrRemoved) && !errors.Is(err, ErrStale):
			errs = append(errs, err)
		}
	}
	return removed, errors.Join(errs...)
}
