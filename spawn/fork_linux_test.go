package spawn

import (
	"runtime"
	"testing"

	"golang.org/x/sys/unix"
)

// Children are forked from spawn's fork thread, or, after
// UnlockedForks, from the thread Start runs on.
func TestForkThread(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	me := unix.Gettid()
	var on int
	fork(func() { on = unix.Gettid() })
	if on == me {
		t.Errorf("forked on the caller's thread %d without UnlockedForks", me)
	}
	unlockedForks.Store(true)
	defer unlockedForks.Store(false)
	fork(func() { on = unix.Gettid() })
	if on != me {
		t.Errorf("with UnlockedForks, forked on thread %d, not the caller's %d", on, me)
	}
}
