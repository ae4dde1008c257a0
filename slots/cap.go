package slots

import (
	"context"
	"errors"
)

// Cap is a limit on how many things run at once. Its methods are safe for
// concurrent use by goroutines. Every kind gives a slot back when its
// holder releases it; what happens when the holder dies without releasing
// depends on the kind (the SysV kinds: at once, by SEM_UNDO).
type Cap interface {
	// Acquire takes a slot, waiting until one is free or ctx is done; it
	// then returns an error that wraps ctx's (test with errors.Is).
	Acquire(ctx context.Context) (Slot, error)
	// TryAcquire takes a slot if one is free now, without waiting; ok is
	// false if none is.
	TryAcquire() (s Slot, ok bool, err error)
	// Size is how many slots the cap has, for all its users together.
	Size() int
	// Share makes what a process started on one of this cap's slots needs
	// to share the cap: a poolrun, poolrun sem or pool started in it takes
	// its first slot for free (the one it runs on) and further ones from
	// the cap. A Share serves one process (and its descendants) at a time;
	// reuse it for the next process started on a slot once the last has
	// ended, and Close it when done.
	Share() (Share, error)
	// Close lets go of the cap in this process, and gives back the slot
	// inherited from a parent job, if it holds one. A private cap is
	// removed. Slots must be released before.
	Close() error
}

// Slot is one held slot of a Cap.
type Slot interface {
	// Release gives the slot back. Call it exactly once.
	Release() error
}

// Share is what a process started on a slot gets to share the cap.
type Share interface {
	// Env is the environment variables ("NAME=value") to add to the
	// process's environment, replacing any of the same names.
	Env() []string
	// Close removes what the Share made.
	Close() error
}

// ErrNoCap is what FromEnv returns when this process did not inherit a
// cap: it was not started by a poolrun job.
var ErrNoCap = errors.New("slots: no inherited cap (POOLRUN_SEMLOCKS has no poolrun.cap)")
