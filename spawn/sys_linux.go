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

// watchParent: PDEATHSIG does the job on Linux.
func watchParent(pid int) {}
