package main

import (
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// semSharesUndo: on Linux the command (and the background holder) share
// sem's SysV undo list, CLONE_SYSVSEM: the slot sem took is held until
// the last of them exits, with nothing to hand over.
const semSharesUndo = true

// semProcAttr starts a child that shares this process's undo list; a
// background holder (bg) also gets a session of its own.
func semProcAttr(bg bool) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Cloneflags: unix.CLONE_SYSVSEM, Setsid: bg}
}

// groupFile is a nameless temporary file (O_TMPFILE) to hold a command's
// output until it ends, as GNU parallel's --group holds it in one; a
// named one, removed at once, where O_TMPFILE is refused.
func groupFile() (*os.File, error) {
	dir := os.TempDir()
	if fd, err := unix.Open(dir, unix.O_TMPFILE|unix.O_RDWR|unix.O_CLOEXEC, 0o600); err == nil {
		return os.NewFile(uintptr(fd), dir+"/(sem output)"), nil
	}
	f, err := os.CreateTemp(dir, "poolrun-sem-")
	if err != nil {
		return nil, err
	}
	os.Remove(f.Name())
	return f, nil
}
