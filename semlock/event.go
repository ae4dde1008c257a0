package semlock

import (
	"context"
	"fmt"
	"syscall"
)

// Event is a flag shared between processes, like CPython's
// multiprocessing.Event: Set raises it, Clear lowers it, and Wait blocks
// until it is set. It is state, not ownership: no operation uses undo, so
// an event stays set (or clear) when the process that set it dies. One
// Set wakes every waiter, in every process, at once.
type Event struct {
	s *SemLock
}

// How an Event uses its set (implementation; the layout is in layout.go):
// semValue is 1 when the event is set and semRoom is 1 when it is clear
// (value and room of a semaphore of max 1). Wait waits for room to be
// zero: a wait-for-zero semop, so every waiter wakes at once when Set
// lowers it, and one op array (token check, abort, room:0) is all a wait
// needs.

// Event ops after the token check; each array fits darwin's 5 ops.
const (
	eventWaitOps = 1 // {room:0}, plus the abort op on Linux
	eventSetOps  = 2 // {room:-1|NOWAIT, value:+1}
)

// NewEvent creates a private event, clear. Share it with other processes
// through its Handle (AttachEvent), or its SemLock (rebuild, spawn).
func NewEvent(opts ...Option) (*Event, error) {
	o, err := checkOpts("new event", opts)
	if err != nil {
		return nil, err
	}
	var vals [nsems]int
	vals[semRoom] = 1
	s, err := newSet(Handle{Kind: EventKind, MaxValue: 1}, o, vals)
	if err != nil {
		return nil, err
	}
	return &Event{s: s}, nil
}

// AttachEvent attaches to the event h names, verified like Attach.
func AttachEvent(h Handle) (*Event, error) {
	s, err := attachKind(h, EventKind)
	if err != nil {
		return nil, err
	}
	return &Event{s: s}, nil
}

// Set sets the event and wakes every waiter. Setting a set event does
// nothing.
func (e *Event) Set() error { return e.flip("set", semRoom, semValue) }

// Clear clears the event. Clearing a clear event does nothing.
func (e *Event) Clear() error { return e.flip("clear", semValue, semRoom) }

// flip moves the event's unit from one semaphore to the other in one
// semop; EAGAIN means it is already there.
func (e *Event) flip(op string, from, to uint16) error {
	s := e.s
	if s.closed.Load() {
		return s.closedErr(op)
	}
	var ops [tokOps + eventSetOps]sembuf
	tokenCheck(ops[:], s.tok)
	ops[tokOps] = sembuf{from, -1, flagNowait}
	ops[tokOps+1] = sembuf{to, 1, 0}
	err := semopNowait(s.h.ID, ops[:])
	if err == nil {
		return nil
	}
	if err != syscall.EAGAIN {
		return opErr(op, s.h.ID, err)
	}
	// Already so, or a stale handle: values tells.
	_, err = s.values(op)
	return err
}

// IsSet reports whether the event is set.
func (e *Event) IsSet() (bool, error) {
	if e.s.closed.Load() {
		return false, e.s.closedErr("is-set")
	}
	v, err := e.s.values("is-set")
	if err != nil {
		return false, err
	}
	return v[semValue] == 1, nil
}

// Wait blocks until the event is set or ctx is done. It returns nil at
// once if the event is set, even if ctx is done; otherwise ctx's error when
// ctx ends first (a deadline in the past: at once). Cancellation wakes the
// waiter promptly, on Linux without polling. ErrRemoved if the event is
// removed meanwhile.
func (e *Event) Wait(ctx context.Context) error {
	if e.s.closed.Load() {
		return e.s.closedErr("wait")
	}
	body := [eventWaitOps]sembuf{{semRoom, 0, 0}}
	return e.s.block(ctx, "wait", false, body[:], func(*[nsems]uint16) error { return nil })
}

// Waiters returns how many threads (in all processes) are blocked in Wait.
func (e *Event) Waiters() (int, error) { return e.s.zcnt("waiters", semRoom) }

// Handle returns what another process needs to AttachEvent.
func (e *Event) Handle() Handle { return e.s.h }

// SemLock returns the event's set as a SemLock, to share it with
// spawn.Cmd.Locks or register it with spawn.Track; its unit methods
// (Acquire, Release) refuse it. A child gets the Event back with
// AttachEvent(handle).
func (e *Event) SemLock() *SemLock { return e.s }

// Remove deletes the event's set (see SemLock.Remove): waiters return
// ErrRemoved.
func (e *Event) Remove() error { return e.s.Remove() }

// Close forgets the event in this process (see SemLock.Close).
func (e *Event) Close() error { return e.s.Close() }

// zcnt returns how many threads wait for sem to be zero, after checking
// that the set is still s's.
func (s *SemLock) zcnt(op string, sem uint16) (int, error) {
	if s.closed.Load() {
		return 0, s.closedErr(op)
	}
	n, err := semctl(s.h.ID, int(sem), cmdGETZCNT, nil)
	if err != nil {
		return 0, sysErr(op, s.h.ID, err)
	}
	if _, err := s.values(op); err != nil {
		return 0, err
	}
	return n, nil
}

// checkOpts applies the options of NewEvent, NewBarrier, NewCondition:
// WithMode only (their undo use is fixed by the kind).
func checkOpts(op string, opts []Option) (options, error) {
	o, err := applyOpts(op, opts)
	if err != nil {
		return o, err
	}
	if o.noUndo {
		return o, rangeErr(op, "WithoutUndo applies to semaphores only")
	}
	return o, nil
}

// newSet creates a private set of kind h.Kind with the given values.
func newSet(h Handle, o options, vals [nsems]int) (*SemLock, error) {
	op := "new " + h.Kind.String()
	id, err := semget(0, nsems, int(o.mode)|ipcCreat|ipcExcl)
	if err != nil {
		return nil, getErr(op, err)
	}
	s, err := initVals(id, h, vals)
	if err != nil {
		semRemove(id)
		return nil, err
	}
	return s, nil
}

// attachKind is Attach for a handle that must be of kind k.
func attachKind(h Handle, k Kind) (*SemLock, error) {
	if h.Kind != k {
		return nil, &Error{Op: "attach", ID: h.ID, Kind: ErrMismatch,
			Msg: fmt.Sprintf("the handle is of a %v, not a %v", h.Kind, k)}
	}
	return Attach(h)
}
