package semlock

import (
	"errors"
	"fmt"
	"math"
	"syscall"

	"golang.org/x/sys/unix"
)

// Sentinel errors. Errors returned by this package wrap one of these (test
// with errors.Is) and, where the kernel said something, its errno too.
var (
	// ErrTooManyReleases: a release would push a semaphore past its max.
	// The value is unchanged.
	ErrTooManyReleases = errors.New("released too many times")
	// ErrNotOwner: Release of a mutex this process does not hold.
	ErrNotOwner = errors.New("mutex not held by this process")
	// ErrOwnerDead: the previous holder of a mutex died holding it. The
	// caller now holds the lock; it should repair the shared state it
	// guards, then Release as usual.
	ErrOwnerDead = errors.New("previous owner died holding the mutex")
	// ErrRemoved: the set was removed from the kernel.
	ErrRemoved = errors.New("set was removed")
	// ErrStale: the id now names a different set than the handle's (the
	// old one was removed and its id reused), or a set that is not ours.
	ErrStale = errors.New("stale handle: the id names another set")
	// ErrMismatch: the set exists but does not have what the handle or
	// the Open call says (kind, max, key, owner, name).
	ErrMismatch = errors.New("set does not match")
	// ErrLimit: a kernel limit on semaphore sets was reached.
	ErrLimit = errors.New("kernel limit on semaphore sets reached")
	// ErrRange: a value out of range (a Mutex other than 1/1, a value
	// above its max or MaxValue, an undo counter overflow).
	ErrRange = errors.New("value out of range")
	// ErrPermission: the set's mode does not allow this user.
	ErrPermission = errors.New("permission denied")
	// ErrName: an invalid set name.
	ErrName = errors.New("invalid name")
	// ErrClosed: the SemLock was closed in this process.
	ErrClosed = errors.New("semlock closed")
	// ErrBrokenBarrier: the Barrier is broken (Abort, a party that timed
	// out or died at it, a failed action, or a Reset while waiting);
	// every Wait fails with it until Reset.
	ErrBrokenBarrier = errors.New("barrier is broken")
)

// Error is the error type of this package: what was done, to which set,
// the sentinel it is (Kind), the kernel's errno if any, and a hint.
type Error struct {
	Op    string        // "acquire", "open", "attach", ...
	ID    int           // the set id, -1 if none
	Kind  error         // one of the sentinels, or nil
	Errno syscall.Errno // 0 if the kernel was not involved
	Msg   string        // details and what to do
	Err   error         // the cause, if another error (a context's, a barrier action's); nil if none
}

// Error reads "semlock: <op> set <id>: <sentinel>: <what to do> (<errno>)",
// leaving out what is empty.
func (e *Error) Error() string {
	s := "semlock: " + e.Op
	if e.ID >= 0 {
		s += fmt.Sprintf(" set %d", e.ID)
	}
	if e.Kind != nil {
		s += ": " + e.Kind.Error()
	}
	if e.Msg != "" {
		s += ": " + e.Msg
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	if e.Errno != 0 {
		s += fmt.Sprintf(" (%s)", errnoName(e.Errno))
	}
	return s
}

// Unwrap gives the sentinel and the errno, so errors.Is works on both
// (errors.Is(err, os.ErrPermission) holds for EACCES too).
func (e *Error) Unwrap() []error {
	var out []error
	if e.Kind != nil {
		out = append(out, e.Kind)
	}
	if e.Errno != 0 {
		out = append(out, e.Errno)
	}
	if e.Err != nil {
		out = append(out, e.Err)
	}
	return out
}

// errnoName names e as the kernel headers do ("EINVAL"), or, for an errno
// golang.org/x/sys/unix has no name for, gives its number and text.
func errnoName(e syscall.Errno) string {
	if name := unix.ErrnoName(e); name != "" {
		return name
	}
	return fmt.Sprintf("errno %d: %v", int(e), e)
}

// sysErr turns a kernel error from op on set id into an *Error with the
// right sentinel and a hint that says what to do.
func sysErr(op string, id int, err error) error {
	errno, ok := err.(syscall.Errno)
	if !ok {
		return &Error{Op: op, ID: id, Msg: err.Error()}
	}
	e := &Error{Op: op, ID: id, Errno: errno}
	switch errno {
	case syscall.EIDRM, syscall.EINVAL:
		e.Kind = ErrRemoved
	case syscall.EFBIG:
		e.Kind, e.Msg = ErrStale, "the id now names a set of another layout"
	case syscall.EACCES, syscall.EPERM:
		e.Kind, e.Msg = ErrPermission, "the set belongs to another user or its mode forbids this; see ipcs -s"
	case syscall.ENOSPC, syscall.ENOMEM:
		e.Kind, e.Msg = ErrLimit, "too many semaphore sets or semaphores on this machine: see the limits with ipcs -l, and remove orphaned sets with poolrun sem gc"
	case syscall.E2BIG:
		e.Kind, e.Msg = ErrLimit, "the kernel allows fewer operations per semop than this package needs (SEMOPM): see ipcs -l"
	case syscall.ERANGE:
		e.Kind, e.Msg = ErrRange, "a value or this process's undo counter would pass 32767: use WithoutUndo for a semaphore one process only releases"
	}
	return e
}

// opErr is sysErr for a semop. EINVAL there usually means the set is
// gone, but also that this process has no undo entry left (darwin allows
// 10 a process, kern.sysv.semume): if the set is still there, say so.
func opErr(op string, id int, err error) error {
	if err == syscall.EINVAL {
		if _, serr := semStat(id); serr == nil {
			return &Error{Op: op, ID: id, Kind: ErrLimit, Errno: syscall.EINVAL,
				Msg: "the kernel refused the operation on an existing set: most likely this process holds units of too many sets with undo (on macOS at most 10 undo entries a process, kern.sysv.semume)"}
		}
	}
	return sysErr(op, id, err)
}

// checkID rejects ids the kernel cannot have: it takes a 32-bit int, and
// a larger Go int would be truncated to another set's id.
func checkID(op string, id int) error {
	if id < 0 || id > math.MaxInt32 {
		return &Error{Op: op, ID: -1, Kind: ErrRange, Msg: fmt.Sprintf("set id %d outside 0..%d", id, math.MaxInt32)}
	}
	return nil
}

// getErr is sysErr for semget, where EINVAL means the kernel refuses a
// set of nsems semaphores (SEMMSL), not a removed set.
func getErr(op string, err error) error {
	if err == syscall.EINVAL {
		return &Error{Op: op, ID: -1, Kind: ErrLimit, Errno: syscall.EINVAL,
			Msg: fmt.Sprintf("the kernel refuses a set of %d semaphores (SEMMSL, or an existing set of that key with fewer): see ipcs -l", nsems)}
	}
	return sysErr(op, -1, err)
}

func rangeErr(op string, format string, args ...any) error {
	return &Error{Op: op, ID: -1, Kind: ErrRange, Msg: fmt.Sprintf(format, args...)}
}
