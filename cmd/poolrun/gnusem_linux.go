package main

import (
	"os"
	"strconv"
	"strings"
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

// signalFamily sends sig to pid and to every descendant of it (found in
// /proc), as GNU parallel signals a timed-out job's whole family: the
// command runs in sem's process group, so the group cannot be signalled,
// and a shell's children (sh -c 'sleep 10; echo after') must go too.
// Children are found before pid is signalled, while they are still its.
func signalFamily(pid int, sig syscall.Signal) {
	family := []int{pid}
	if ents, err := os.ReadDir("/proc"); err == nil {
		parent := map[int][]int{}
		for _, e := range ents {
			p, err := strconv.Atoi(e.Name())
			if err != nil {
				continue
			}
			b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
			if err != nil {
				continue
			}
			// After the command's name, in parentheses that it may contain:
			// state, then the parent's pid.
			f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
			if len(f) < 2 {
				continue
			}
			if pp, err := strconv.Atoi(f[1]); err == nil {
				parent[pp] = append(parent[pp], p)
			}
		}
		for i := 0; i < len(family); i++ {
			family = append(family, parent[family[i]]...)
		}
	}
	for _, p := range family {
		syscall.Kill(p, sig)
	}
}

// adoptOrphans makes this process the subreaper of what the command
// starts (--timeout): a child the command left when it died (sh -c
// 'sleep 30 & ...' killed between the family's scan and its signal) is
// then this process's, for killOrphans to find.
func adoptOrphans() { unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) }

// killOrphans kills, with their families, the processes that were left
// to this process (see adoptOrphans) once a timed-out command is reaped,
// and reaps them.
func killOrphans() {
	me := strconv.Itoa(os.Getpid())
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return
	}
	for _, e := range ents {
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
		if len(f) < 2 || f[1] != me {
			continue
		}
		if p, err := strconv.Atoi(e.Name()); err == nil {
			signalFamily(p, syscall.SIGKILL)
		}
	}
	var ws syscall.WaitStatus
	for {
		if _, err := syscall.Wait4(-1, &ws, 0, nil); err != syscall.EINTR && err != nil {
			return // ECHILD: none left
		}
	}
}
