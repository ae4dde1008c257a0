package pool

import (
	"errors"
	"fmt"
)

// Sentinel errors. A task's error wraps one of these where it applies
// (test with errors.Is); a failed task's error is a *TaskError.
var (
	// ErrClosed: Submit or Map after Close or Stop.
	ErrClosed = errors.New("pool is closed")
	// ErrStopped: the task was queued or running when Stop was called.
	ErrStopped = errors.New("pool was stopped")
	// ErrUnknownTask: no task of that name is registered (with Define or
	// Register) in this process, or in the worker.
	ErrUnknownTask = errors.New("unknown task")
	// ErrEncode: the codec could not encode the input, or decode the
	// output.
	ErrEncode = errors.New("codec failed")
	// ErrPanic: the task panicked; the TaskError has the value and stack.
	ErrPanic = errors.New("task panicked")
	// ErrWorkerDied: the worker running the task exited (killed, crashed,
	// os.Exit) before the task returned.
	ErrWorkerDied = errors.New("worker died")
	// ErrWorkerStart: a worker could not be started or initialised.
	ErrWorkerStart = errors.New("worker did not start")
	// ErrRemote: the task returned an error in the worker; its text is in
	// the TaskError (errors do not cross process boundaries as values).
	ErrRemote = errors.New("task failed")
	// ErrTooLarge: the task's input, or its output, is more than a frame
	// between the pool and a worker holds (1 GiB, name included).
	ErrTooLarge = errors.New("too large for a task")
	// ErrNotInTask: Mutex was called with a ctx that is not a task's.
	ErrNotInTask = errors.New("not inside a pool task")
)

// TaskError is the error of a task that did not return a result: which
// task, which worker ran it, and what happened (Err). A panicking task's
// stack is in Stack, never in the Error text.
type TaskError struct {
	Task   string // the task's name
	Seq    uint64 // the task's number in its pool, from 1; 0 if it was never queued
	Worker int    // pid of the worker that ran it, 0 if none did
	Err    error  // ErrRemote, ErrPanic, ErrWorkerDied, a ctx error, ...
	Msg    string // the task's error text, the panic value, or how the worker exited
	Stack  string // the panicking goroutine's stack, for ErrPanic; not part of Error's text
}

// Error says which task failed, on which worker, and why:
//
//	pool: task "crash" #3 (worker pid 4711): worker died: signal: killed
//
// It leaves out Stack, which can run to many kilobytes, so that logging
// or wrapping the error does not print a stack: print Stack where it is
// wanted.
func (e *TaskError) Error() string {
	s := fmt.Sprintf("pool: task %q", e.Task)
	if e.Seq != 0 {
		s += fmt.Sprintf(" #%d", e.Seq)
	}
	if e.Worker != 0 {
		s += fmt.Sprintf(" (worker pid %d)", e.Worker)
	}
	switch {
	case errors.Is(e.Err, ErrRemote):
		s += ": " + e.Msg
	case e.Msg != "":
		s += ": " + e.Err.Error() + ": " + e.Msg
	default:
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns Err, so errors.Is(err, context.DeadlineExceeded) or
// errors.Is(err, pool.ErrWorkerDied) work on a task's error.
func (e *TaskError) Unwrap() error { return e.Err }
