//go:build !linux

package spawn

import (
	"os"
	"os/signal"
	"syscall"
	"time"
)

// sysProcAttr puts the child in its own process group. Without
// PDEATHSIG, a re-exec'd worker watches its parent itself (watchParent);
// a plain command does not die with its parent on this platform, but the
// tracker kills its process group.
func sysProcAttr(dieWithParent bool) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}

// selfExe is the path that execs this binary: os.Executable's answer.
func selfExe(path string) string { return path }

// watchParent kills this process's group when its parent pid changes
// (the parent died and this process was re-parented).
func watchParent(pid int) {
	if pid <= 0 {
		return
	}
	check := func() {
		if os.Getppid() != pid {
			syscall.Kill(0, syscall.SIGKILL)
			os.Exit(1)
		}
	}
	check()
	go func() {
		for range time.Tick(250 * time.Millisecond) {
			check()
		}
	}()
}

// waitExit: no waitid(WNOWAIT) here; the group kill after Stop happens
// once the leader is reaped, with a tiny risk of a reused group id.
func waitExit(pid int) {}

// withoutTTOU runs f with SIGTTOU ignored (there is no per-thread signal
// mask call here): process-wide for that moment, and a signal.Notify of
// SIGTTOU by the program is undone by the Reset.
func withoutTTOU(f func()) {
	if !signal.Ignored(syscall.SIGTTOU) {
		signal.Ignore(syscall.SIGTTOU)
		defer signal.Reset(syscall.SIGTTOU)
	}
	f()
}

// exiting: a zombie is not alive already (procstart); nothing more is
// known here.
func exiting(pid int) bool { return false }

// waitAnyExit blocks until one of pids has exited, or until deadline
// (darwin has no pidfds: it looks every few ms).
func waitAnyExit(pids []int, deadline time.Time) { pollExits(pids, deadline, false) }

// waitAllExit blocks until every one of pids has exited, or until
// deadline.
func waitAllExit(pids []int, deadline time.Time) { pollExits(pids, deadline, true) }
