package semlock

import (
	"fmt"
	"os"
)

// Kind is what a set is: a counting Semaphore or a Mutex (used through
// SemLock), or an Event, Barrier or Condition (used through their own
// types; see NewEvent, NewBarrier, NewCondition).
type Kind uint8

const (
	// Semaphore is a counting semaphore bounded by its max value:
	// Acquire takes a unit, Release gives one back, and a release past
	// the max fails with ErrTooManyReleases.
	Semaphore Kind = 1
	// Mutex is a non-recursive lock (value 1, max 1) with owner-death
	// detection: if its holder dies, the next acquirer gets ErrOwnerDead
	// while holding the lock.
	Mutex Kind = 2
	// EventKind is the kind of an Event's set (see NewEvent).
	EventKind Kind = 3
	// BarrierKind is the kind of a Barrier's set (see NewBarrier).
	BarrierKind Kind = 4
	// ConditionKind is the kind of a Condition's set (see NewCondition).
	ConditionKind Kind = 5
	// TallyKind is the kind of a Tally's set (see OpenTally).
	TallyKind Kind = 6
)

// String returns "semaphore", "mutex", "event", "barrier", "condition" or
// "tally".
func (k Kind) String() string {
	switch k {
	case Semaphore:
		return "semaphore"
	case Mutex:
		return "mutex"
	case EventKind:
		return "event"
	case BarrierKind:
		return "barrier"
	case ConditionKind:
		return "condition"
	case TallyKind:
		return "tally"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// ParseKind is the inverse of Kind.String.
func ParseKind(s string) (Kind, error) {
	switch s {
	case "semaphore":
		return Semaphore, nil
	case "mutex":
		return Mutex, nil
	case "event":
		return EventKind, nil
	case "barrier":
		return BarrierKind, nil
	case "condition":
		return ConditionKind, nil
	case "tally":
		return TallyKind, nil
	}
	return 0, fmt.Errorf("semlock: unknown kind %q (want semaphore, mutex, event, barrier, condition or tally)", s)
}

// valid reports whether k is one of the kinds above.
func (k Kind) valid() bool { return k >= Semaphore && k <= TallyKind }

// MaxValue is the largest value of a SysV semaphore (the kernel's SEMVMX).
const MaxValue = 32767

// Handle says everything another process needs to attach to a set and to
// verify that it is the same set: it travels between processes (see the
// rebuild package). It is a plain value; the zero Handle names no set.
type Handle struct {
	Name     string // set name for a named set; "" for a private one
	Key      int32  // SysV key; 0 (IPC_PRIVATE) for a private set
	ID       int    // semid
	Kind     Kind   // what the set is
	MaxValue int    // the max value of a Semaphore; 1 for a Mutex
	Undo     bool   // whether unit operations use SEM_UNDO
	Creator  int    // pid of the process that created the set
	Token    uint32 // 30-bit generation token written at creation
}

// Option sets a rare setting of New, Open, NewEvent, NewBarrier and
// NewCondition. An option those do not accept, or an invalid value, is an
// ErrRange error from them, before any set is made. A nil Option is
// ignored.
type Option func(*options)

type options struct {
	mode   os.FileMode
	noUndo bool
}

// applyOpts applies opts over the defaults and checks what every maker
// of sets checks.
func applyOpts(op string, opts []Option) (options, error) {
	o := options{mode: 0o600}
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	if o.mode&^0o777 != 0 {
		return o, rangeErr(op, "WithMode(%v): a set's mode has permission bits only (0o777)", o.mode)
	}
	return o, nil
}

// WithMode sets the permission bits of the set made (default 0600: only
// this user). Bits outside 0o777 (os.ModeDir, setuid, ...) are an error.
func WithMode(mode os.FileMode) Option {
	return func(o *options) { o.mode = mode }
}

// WithoutUndo makes a Semaphore's acquire and release plain, without
// SEM_UNDO, for signalling between processes (post in one, wait in
// another). Units then do not come back when a holder dies. It is an
// error on a Mutex, which always uses undo.
func WithoutUndo() Option {
	return func(o *options) { o.noUndo = true }
}
