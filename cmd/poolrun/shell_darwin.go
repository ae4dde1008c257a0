package main

import "golang.org/x/sys/unix"

// invokingShell walks up from poolrun's parent to the first process that
// is a shell, through sysctl kern.proc.pid, and returns its program if it
// is bash or zsh.
func invokingShell() string {
	pid := unix.Getppid()
	for depth := 0; pid > 1 && depth < 64; depth++ {
		kp, err := unix.SysctlKinfoProc("kern.proc.pid", pid)
		if err != nil {
			return ""
		}
		name := unix.ByteSliceToString(kp.Proc.P_comm[:])
		if knownShell(name) {
			return lookShell(shellName(name))
		}
		pid = int(kp.Eproc.Ppid)
	}
	return ""
}
