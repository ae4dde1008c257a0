package spawn

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// sysProcAttr puts the child in its own process group and, unless it is
// the tracker (which must outlive this process), kills it when this
// process dies.
func sysProcAttr(dieWithParent bool) *syscall.SysProcAttr {
	a := &syscall.SysProcAttr{Setpgid: true}
	if dieWithParent {
		a.Pdeathsig = syscall.SIGKILL
	}
	return a
}

// selfExe is the path that execs this very binary: /proc/self/exe names
// the running image even if its file was replaced or deleted since (an
// upgrade), so a worker never runs another version of the program.
func selfExe(path string) string { return "/proc/self/exe" }

// watchParent: PDEATHSIG does the job on Linux.
func watchParent(pid int) {}

// waitExit blocks until process pid has exited, without reaping it: while
// it is a zombie its pid, and so its process group id, cannot be reused,
// which makes a kill of its group safe.
func waitExit(pid int) {
	var info unix.Siginfo
	for {
		err := unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
		if err != syscall.EINTR {
			return
		}
	}
}
