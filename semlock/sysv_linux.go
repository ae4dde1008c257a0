//go:build linux

package semlock

import (
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// semctl commands (Linux values).
const (
	cmdGETPID  = 11
	cmdGETVAL  = 12
	cmdGETALL  = 13
	cmdGETNCNT = 14
	cmdGETZCNT = 15
	cmdIPCSTAT = unix.IPC_STAT
	cmdIPCRMID = unix.IPC_RMID
)

// canAbort reports whether a blocked semop can be woken by raising the
// abort semaphore. On Linux it can: the kernel re-runs every pending
// complex op when a value changes and fails those whose IPC_NOWAIT op
// no longer holds, so a waiter's {abort:0|IPC_NOWAIT} returns EAGAIN.
const canAbort = true

func semget(key int32, nsems, flags int) (int, error) {
	id, _, e := unix.RawSyscall(unix.SYS_SEMGET, uintptr(key), uintptr(nsems), uintptr(flags))
	if e != 0 {
		return -1, e
	}
	return int(id), nil
}

// semopNowait runs ops that cannot block (every op carries IPC_NOWAIT or
// only increments), so the raw syscall entry is safe and cheaper.
func semopNowait(id int, ops []sembuf) error {
	_, _, e := unix.RawSyscall6(unix.SYS_SEMTIMEDOP, uintptr(id), uintptr(unsafe.Pointer(&ops[0])), uintptr(len(ops)), 0, 0, 0)
	if e != 0 {
		return e
	}
	return nil
}

// semopWait runs ops that may block. If timeout > 0 the kernel gives up
// after it with EAGAIN; timeout < 0 means no limit. The call goes through
// the ordinary syscall entry so the Go scheduler hands this thread's P to
// another thread while it sleeps.
func semopWait(id int, ops []sembuf, timeout time.Duration) error {
	var tsp unsafe.Pointer // converted in the call expression, as semctl's
	var ts unix.Timespec
	if timeout >= 0 {
		ts = unix.NsecToTimespec(int64(timeout))
		tsp = unsafe.Pointer(&ts)
	}
	_, _, e := unix.Syscall6(unix.SYS_SEMTIMEDOP, uintptr(id), uintptr(unsafe.Pointer(&ops[0])), uintptr(len(ops)), uintptr(tsp), 0, 0)
	if e != 0 {
		return e
	}
	return nil
}

// semctl takes its argument as a pointer, converted to uintptr only in
// the syscall's own call expression: a uintptr made by the caller would
// not follow the caller's stack if it moved (stack growth in this
// function's prologue copies it), and the kernel would write into the old
// copy — GETALL and IPC_STAT then read zeros, and a set looked foreign.
func semctl(id, num, cmd int, arg unsafe.Pointer) (int, error) {
	r, _, e := unix.RawSyscall6(unix.SYS_SEMCTL, uintptr(id), uintptr(num), uintptr(cmd), uintptr(arg), 0, 0)
	if e != 0 {
		return -1, e
	}
	return int(r), nil
}

func semGetAll(id int, vals *[nsems]uint16) error {
	_, err := semctl(id, 0, cmdGETALL, unsafe.Pointer(vals))
	return err
}

// semStat reads the set's kernel record (struct semid64_ds) and decodes
// the fields we use by offset, so no per-arch struct needs to match.
func semStat(id int) (setStat, error) {
	var buf [256]byte
	if _, err := semctl(id, 0, cmdIPCSTAT, unsafe.Pointer(&buf[0])); err != nil {
		return setStat{}, err
	}
	return decodeStat(&buf), nil
}

func semRemove(id int) error {
	_, err := semctl(id, 0, cmdIPCRMID, nil)
	return err
}

// maxInitOps is how many ops initSet puts in one semop: all of them.
const maxInitOps = nsems
