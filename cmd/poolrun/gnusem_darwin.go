package main

import (
	"os"
	"syscall"
)

// semSharesUndo: darwin has no CLONE_SYSVSEM; the background holder takes
// the slot anew before sem exits, and a --fg command holds no slot of its
// own (sem holds it for it).
const semSharesUndo = false

// semProcAttr gives a background holder (bg) a session of its own.
func semProcAttr(bg bool) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setsid: bg}
}

// groupFile is a temporary file, removed at once, to hold a command's
// output until it ends.
func groupFile() (*os.File, error) {
	f, err := os.CreateTemp("", "poolrun-sem-")
	if err != nil {
		return nil, err
	}
	os.Remove(f.Name())
	return f, nil
}

// signalFamily sends sig to pid (darwin has no /proc to find its
// descendants in).
func signalFamily(pid int, sig syscall.Signal) { syscall.Kill(pid, sig) }

// adoptOrphans does nothing on darwin (no subreaper).
func adoptOrphans() {}

// killOrphans does nothing on darwin.
func killOrphans() {}
