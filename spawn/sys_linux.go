package spawn

import "syscall"

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
