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

// groupFile is an anonymous file to hold a command's output until it
// ends, as GNU parallel's --group holds it in a temporary file: a memfd
// (tmpfs, as /tmp often is; making one costs a syscall, where a file on a
// disk's /tmp costs a journalled inode per call), else a nameless file in
// $TMPDIR (O_TMPFILE), else a named one, removed at once.
func groupFile() (*os.File, error) {
	if fd, err := unix.MemfdCreate("poolrun-sem-output", unix.MFD_CLOEXEC); err == nil {
		return os.NewFile(uintptr(fd), "(sem output)"), nil
	}
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
