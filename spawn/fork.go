package spawn

import (
	"runtime"
	"sync"
)

// Every child is forked from one goroutine locked to its OS thread for
// the life of the process. On Linux PDEATHSIG fires when the thread that
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
