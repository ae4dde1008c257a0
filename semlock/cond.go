package semlock

import (
	"context"
	"fmt"
	"syscall"
)

// Condition is a condition variable over a Mutex, shared between
// processes, like CPython's multiprocessing.Condition: a holder of the
// mutex Waits (releasing the mutex while it sleeps, holding it again when
// Wait returns), another holder Notifies.
//
// A sleeper killed while waiting costs at most one spurious wake-up
// later, never a lost one: use WaitFor, which loops. AttachCondition
// checks that it is given the mutex the Condition was made with.
type Condition struct {
	s *SemLock
	m *SemLock
}

// How a Condition uses its set (implementation; the layout is in
// layout.go). The set counts sleepers (semValue: registered and not yet
// notified) and wake-ups (semRoom: notified and not yet taken). Wait registers
// {sleepers:+1}, releases the mutex and takes a wake-up {wakes:-1};
// Notify(n) moves k = min(n, sleepers) from one to the other in one semop
// {sleepers:-k|NOWAIT, wakes:+k}. Wake-ups are anonymous: whichever
// sleeper takes one was the notified one. A waiter that times out takes
// its registration back {sleepers:-1|NOWAIT}, or, if a Notify already
// counted it (sleepers was 0), takes the wake-up it was given.
//
// None of it uses undo, unlike the design note's proposal (undo on the
// sleeper count, cancelled when the wake-up is taken: three ops plus the
// token check, more than darwin's five). A sleeper killed while waiting
// stays counted, so a later Notify turns its count into a wake-up that the
// next Wait takes: a spurious wake-up, which condition variables allow
// (WaitFor loops over them) — never a lost one. With undo the count would
// fall back at its death instead, but a death between taking the wake-up
// and cancelling the undo would then lose another sleeper's notification.
//
// The set records the mutex's generation token (semName1, semName2), for
// AttachCondition's check.

// Condition ops after the token check; each array fits darwin's 5 ops.
const (
	condTakeOps   = 1 // {wakes:-1}, plus the abort op on Linux
	condNotifyOps = 2 // {sleepers:-k|NOWAIT, wakes:+k}
)

// NewCondition creates a private condition variable over the Mutex m.
// Share both with other processes: AttachCondition needs the Condition's
// handle and the attached mutex.
func NewCondition(m *SemLock, opts ...Option) (*Condition, error) {
	o, err := checkOpts("new condition", opts)
	if err != nil {
		return nil, err
	}
	if m == nil || m.h.Kind != Mutex {
		return nil, &Error{Op: "new condition", ID: -1, Kind: ErrMismatch, Msg: "a condition needs a Mutex"}
	}
	var vals [nsems]int
	vals[semName1] = int(m.h.Token >> 15)
	vals[semName2] = int(m.h.Token & 0x7fff)
	s, err := newSet(Handle{Kind: ConditionKind, MaxValue: 1}, o, vals)
	if err != nil {
		return nil, err
	}
	return &Condition{s: s, m: m}, nil
}

// AttachCondition attaches to the condition h names, verified like
// Attach, over m, which must be the Mutex it was created with.
func AttachCondition(h Handle, m *SemLock) (*Condition, error) {
	s, err := attachKind(h, ConditionKind)
	if err != nil {
		return nil, err
	}
	if m == nil || m.h.Kind != Mutex {
		return nil, &Error{Op: "attach", ID: h.ID, Kind: ErrMismatch, Msg: "a condition needs a Mutex"}
	}
	v, err := s.values("attach")
	if err != nil {
		return nil, err
	}
	if tok := uint32(v[semName1])<<15 | uint32(v[semName2]); tok != m.h.Token {
		return nil, &Error{Op: "attach", ID: h.ID, Kind: ErrMismatch,
			Msg: fmt.Sprintf("the condition was made over another mutex than set %d (its token is %d, the condition's mutex had %d)", m.h.ID, m.h.Token, tok)}
	}
	return &Condition{s: s, m: m}, nil
}

// Mutex returns the condition's mutex.
func (c *Condition) Mutex() *SemLock { return c.m }

func (c *Condition) notOwner(op string) error {
	return &Error{Op: op, ID: c.s.h.ID, Kind: ErrNotOwner, Msg: fmt.Sprintf("hold the condition's mutex (set %d) first", c.m.h.ID)}
}

// Wait releases the mutex, which this process must hold, sleeps until
// notified or until ctx is done, and takes the mutex again before it
// returns, whatever happened. It returns nil when notified, ctx's error
// when ctx ended first, ErrNotOwner if the mutex is not held (nothing is
// then done), and ErrOwnerDead if, while it slept, a holder of the mutex
// died (it holds the mutex then). Wake-ups may be spurious: check the
// condition again, or use WaitFor.
func (c *Condition) Wait(ctx context.Context) error {
	const op = "wait"
	if c.s.closed.Load() {
		return c.s.closedErr(op)
	}
	if c.m.held.Load() <= 0 {
		return c.notOwner(op)
	}
	if err := c.s.nowait(op, sembuf{semValue, 1, 0}); err != nil {
		return err
	}
	if err := c.m.Release(); err != nil {
		c.s.nowait(op, sembuf{semValue, -1, flagNowait})
		return err
	}
	body := [condTakeOps]sembuf{{semRoom, -1, 0}}
	err := c.s.block(ctx, op, false, body[:], func(*[nsems]uint16) error { return nil })
	if err != nil && (ctx.Err() != nil || err == context.DeadlineExceeded) {
		// Take the registration back; if a Notify counted it already
		// (EAGAIN: no sleeper left), take the wake-up it gave, which is
		// there or coming (every counted sleeper left a wake-up).
		if rerr := c.s.nowait(op, sembuf{semValue, -1, flagNowait}); rerr == syscall.EAGAIN {
			c.s.block(context.Background(), op, false, body[:], func(*[nsems]uint16) error { return nil })
		}
	}
	if merr := c.m.Acquire(context.Background()); merr != nil {
		return merr
	}
	return err
}

// WaitFor waits until pred returns true, as CPython's wait_for: pred is
// called with the mutex held (which this process must hold), first before
// any wait. It returns nil once pred is true, or ctx's error if ctx ends
// first and pred is still false; the mutex is held on return.
func (c *Condition) WaitFor(ctx context.Context, pred func() bool) error {
	for !pred() {
		if err := c.Wait(ctx); err != nil {
			if ctx.Err() != nil || err == context.DeadlineExceeded {
				if pred() {
					return nil
				}
			}
			return err
		}
	}
	return nil
}

// Notify wakes up to n sleepers (fewer if fewer sleep). This process must
// hold the mutex, else ErrNotOwner.
func (c *Condition) Notify(n int) error {
	const op = "notify"
	if c.s.closed.Load() {
		return c.s.closedErr(op)
	}
	if c.m.held.Load() <= 0 {
		return c.notOwner(op)
	}
	for n > 0 {
		v, err := c.s.values(op)
		if err != nil {
			return err
		}
		k := min(n, int(v[semValue]))
		if k == 0 {
			return nil
		}
		err = c.s.nowait(op, sembuf{semValue, int16(-k), flagNowait}, sembuf{semRoom, int16(k), 0})
		if err == nil {
			return nil
		}
		if err != syscall.EAGAIN {
			return err
		}
		// A sleeper timed out meanwhile: count again.
	}
	return nil
}

// NotifyAll wakes every sleeper. This process must hold the mutex, else
// ErrNotOwner.
func (c *Condition) NotifyAll() error { return c.Notify(MaxValue) }

// Sleepers returns how many waiters sleep and have not been notified
// (including sleepers killed while waiting, until a Notify counts them).
func (c *Condition) Sleepers() (int, error) {
	if c.s.closed.Load() {
		return 0, c.s.closedErr("sleepers")
	}
	v, err := c.s.values("sleepers")
	if err != nil {
		return 0, err
	}
	return int(v[semValue]), nil
}

// Handle returns what another process needs to AttachCondition.
func (c *Condition) Handle() Handle { return c.s.h }

// SemLock returns the condition's set as a SemLock, to share it with
// spawn.Cmd.Locks or register it with spawn.Track; its unit methods
// refuse it. Share the mutex too.
func (c *Condition) SemLock() *SemLock { return c.s }

// Remove deletes the condition's set (not its mutex; see SemLock.Remove):
// waiters return ErrRemoved, holding the mutex.
func (c *Condition) Remove() error { return c.s.Remove() }

// Close forgets the condition in this process (not its mutex).
func (c *Condition) Close() error { return c.s.Close() }
