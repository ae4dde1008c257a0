package spawn

import (
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"

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
//
// It waits in the runtime's poller on a pidfd (readable once the process
// has exited), not in a blocking waitid: a goroutine parked in the poller
// holds no thread, where a blocking wait per running child costs a thread
// that the scheduler hands its P away from and wakes again, a few context
// switches per child. Without pidfds (Linux < 5.3, or a seccomp policy
// refusing pidfd_open) it falls back to the blocking wait.
func waitExit(pid int) {
	if waitExitPidfd(pid) {
		return
	}
	var info unix.Siginfo
	for {
		err := unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
		if err != syscall.EINTR {
			return
		}
	}
}

// waitExitPidfd waits for pid's exit through a pidfd in the poller; false
// if it cannot (then nothing was waited for).
func waitExitPidfd(pid int) bool {
	fd, err := unix.PidfdOpen(pid, unix.PIDFD_NONBLOCK)
	if err != nil {
		return false
	}
	f := os.NewFile(uintptr(fd), "pidfd")
	defer f.Close()
	rc, err := f.SyscallConn()
	if err != nil {
		return false
	}
	exited := false
	err = rc.Read(func(fd uintptr) bool {
		// A pidfd polls readable once the process has exited (it is
		// then a zombie until reaped). Not yet: park in the poller.
		n, err := unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}, 0)
		if err == syscall.EINTR {
			return false
		}
		exited = err == nil && n > 0
		return exited || err != nil // an error: the blocking wait says why
	})
	return err == nil && exited
}

// withoutTTOU runs f with SIGTTOU blocked in the calling thread only (the
// kernel's terminal checks treat a blocked SIGTTOU as ignored), so that
// no handler or signal.Notify of the program is touched. The thread is
// locked meanwhile and its mask restored before it is unlocked.
func withoutTTOU(f func()) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var set, old unix.Sigset_t
	const bits = 8 * uint(unsafe.Sizeof(set.Val[0])) // 64, or 32 on 32-bit systems
	n := uint(unix.SIGTTOU) - 1
	set.Val[n/bits] |= 1 << (n % bits)
	if err := unix.PthreadSigmask(unix.SIG_BLOCK, &set, &old); err != nil {
		f() // cannot happen for a valid set; f may then raise SIGTTOU
		return
	}
	defer unix.PthreadSigmask(unix.SIG_SETMASK, &old, nil)
	f()
}

// pfExiting is the kernel's PF_EXITING task flag: set when the task has
// begun to exit (do_exit), before its exit-time semaphore undo.
const pfExiting = 0x4

// exiting reports whether process pid has begun to exit: a zombie, or
// PF_EXITING in the flags of /proc/PID/stat. Such a process runs no more
// code of its own and can no longer use a set (its exit-time undo may be
// running, making it a set's last pid).
func exiting(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return false
	}
	fs := strings.Fields(s[i+1:])
	// fs[0] is field 3 (state); the flags are field 9.
	if len(fs) < 7 {
		return false
	}
	if fs[0] == "Z" || fs[0] == "X" {
		return true
	}
	flags, err := strconv.ParseUint(fs[6], 10, 64)
	return err == nil && flags&pfExiting != 0
}

// waitAnyExit blocks until one of pids has exited (or is gone), or until
// deadline. It sleeps in the kernel on the processes' pidfds (poll): no
// polling, and a pidfd names one process, never a later one with its pid.
func waitAnyExit(pids []int, deadline time.Time) { waitExits(pids, deadline, false) }

// waitAllExit blocks until every one of pids has exited, or until
// deadline.
func waitAllExit(pids []int, deadline time.Time) { waitExits(pids, deadline, true) }

func waitExits(pids []int, deadline time.Time, all bool) {
	if len(pids) == 0 {
		return
	}
	fds := make([]unix.PollFd, 0, len(pids))
	defer func() {
		for _, f := range fds {
			unix.Close(int(f.Fd))
		}
	}()
	for _, pid := range pids {
		fd, err := unix.PidfdOpen(pid, 0)
		switch {
		case err == nil:
			fds = append(fds, unix.PollFd{Fd: int32(fd), Events: unix.POLLIN})
		case err == unix.ESRCH: // exited and reaped already
			if !all {
				return
			}
		default: // no pidfds here (Linux < 5.3, seccomp): look every few ms
			pollExits(pids, deadline, all)
			return
		}
	}
	for len(fds) > 0 {
		left := time.Until(deadline)
		if left <= 0 {
			return
		}
		n, err := unix.Poll(fds, int(min(left.Milliseconds()+1, 1<<30)))
		if err == unix.EINTR {
			continue
		}
		if err != nil || n == 0 || !all {
			return // an exit, the deadline, or an error that polling again would repeat
		}
		live := fds[:0]
		for _, f := range fds {
			if f.Revents != 0 {
				unix.Close(int(f.Fd))
				continue
			}
			live = append(live, f)
		}
		fds = live
	}
}
