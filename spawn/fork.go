package spawn

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// Every child is forked from one goroutine locked to its OS thread for
// the life of the process (unless the program said UnlockedForks). On Linux PDEATHSIG fires when the thread that
// forked the child exits, not when the process does: a child forked from
// an ordinary goroutine's thread could be killed as soon as the Go runtime
// retires that thread. This thread never exits.
var (
	forkOnce sync.Once
	forkReq  chan func()
)

func onForkThread(f func()) {
	forkOnce.Do(func() {
		forkReq = make(chan func())
		go func() {
			runtime.LockOSThread() // never unlocked: the thread lives as long as the process
			for f := range forkReq {
				f()
			}
		}()
	})
	done := make(chan struct{})
	forkReq <- func() {
		defer close(done)
		f()
	}
	<-done
}

// unlockedForks is set by UnlockedForks: fork on the caller's thread.
var unlockedForks atomic.Bool

// UnlockedForks tells spawn that no goroutine of this program ends while
// locked to its OS thread (runtime.LockOSThread without a matching
// UnlockOSThread). The Go runtime ends a thread only in that case, so
// every child may then be forked from the thread Start runs on: its
// PDEATHSIG, which Linux ties to the thread that forked it, still fires
// only when the process dies. Each Start saves the hop to spawn's fork
// thread and back (two thread wake-ups; about 4 % of the wall time of a
// batch of trivial jobs). Call it first thing in main, before any Start;
// it cannot be undone.
func UnlockedForks() { unlockedForks.Store(true) }

// fork runs f, which forks a child, on a thread that outlives the child.
func fork(f func()) {
	if unlockedForks.Load() {
		f()
		return
	}
	onForkThread(f)
}
