//go:build darwin

package semlock

import (
	"encoding/binary"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// semctl commands (darwin values).
const (
	cmdGETNCNT = 3
	cmdGETPID  = 4
	cmdGETVAL  = 5
	cmdGETALL  = 6
	cmdGETZCNT = 7
	cmdIPCSTAT = unix.IPC_STAT
	cmdIPCRMID = unix.IPC_RMID
)

// canAbort is false on darwin: it has no semtimedop, so every wait that
// can be cancelled or timed polls with IPC_NOWAIT and a growing back-off.
const canAbort = false

func semget(key int32, nsems, flags int) (int, error) {
	id, _, e := syscall.Syscall(unix.SYS_SEMGET, uintptr(key), uintptr(nsems), uintptr(flags))
	if e != 0 {
		return -1, e
	}
	return int(id), nil
}

func semopNowait(id int, ops []sembuf) error {
	_, _, e := syscall.Syscall(unix.SYS_SEMOP, uintptr(id), uintptr(unsafe.Pointer(&ops[0])), uintptr(len(ops)))
	if e != 0 {
		return e
	}
	return nil
}

// semopWait blocks without limit when timeout < 0. darwin has no timed
// semop: callers that need a deadline or cancellation poll instead (see
// wait.go), so a timeout >= 0 here runs the ops once with IPC_NOWAIT.
func semopWait(id int, ops []sembuf, timeout time.Duration) error {
	if timeout >= 0 {
		var nw [maxOps]sembuf
		n := copy(nw[:], ops)
		for i := range nw[:n] {
			nw[i].flg |= unix.IPC_NOWAIT
		}
		return semopNowait(id, nw[:n])
	}
	return semopNowait(id, ops)
}

// semctl takes its argument as a pointer, converted to uintptr only in
// the syscall's own call expression: a uintptr made by the caller would
// not follow the caller's stack if it moved (stack growth in this
// function's prologue copies it), and the kernel would write into the old
// copy — GETALL and IPC_STAT then read zeros, and a set looked foreign.
func semctl(id, num, cmd int, arg unsafe.Pointer) (int, error) {
	r, _, e := syscall.Syscall6(unix.SYS_SEMCTL, uintptr(id), uintptr(num), uintptr(cmd), uintptr(arg), 0, 0)
	if e != 0 {
		return -1, e
	}
	return int(r), nil
}

func semGetAll(id int, vals *[nsems]uint16) error {
	_, err := semctl(id, 0, cmdGETALL, unsafe.Pointer(vals))
	return err
}

// semStat decodes darwin's user64_semid_ds (#pragma pack(4)): ipc_perm
// {uid, gid, cuid, cgid uint32; mode, seq uint16; key int32} (24 bytes),
// sem_base int32, sem_nsems uint16 (+2), sem_otime int64, pad, sem_ctime.
func semStat(id int) (setStat, error) {
	var buf [256]byte
	if _, err := semctl(id, 0, cmdIPCSTAT, unsafe.Pointer(&buf[0])); err != nil {
		return setStat{}, err
	}
	le := binary.LittleEndian
	return setStat{
		uid:   int(le.Uint32(buf[0:])),
		cuid:  int(le.Uint32(buf[8:])),
		mode:  uint32(le.Uint16(buf[16:])) & 0o777,
		key:   int32(le.Uint32(buf[20:])),
		nsems: int(le.Uint16(buf[28:])),
		otime: time.Unix(int64(le.Uint64(buf[32:])), 0),
		ctime: time.Unix(int64(le.Uint64(buf[44:])), 0),
	}, nil
}

func semRemove(id int) error {
	_, err := semctl(id, 0, cmdIPCRMID, nil)
	return err
}

// darwin's semop takes at most 5 ops (MAX_SOPS, else E2BIG).
const darwinMaxSops = 5

// maxInitOps is how many ops initSet puts in one semop.
const maxInitOps = darwinMaxSops

// Every op array of a wait, try or release must fit: the token check and
// a unit's ops (darwin waits poll, so no abort op). This fails to compile
// if they do not.
const _ = uint(darwinMaxSops - (tokOps + unitOps))

// The same for Event, Barrier and Condition: every op array is the token
// check and at most two ops (their waits poll here, without the abort op,
// but for a Barrier's, which carries breakage).
const (
	_ = uint(darwinMaxSops - (tokOps + eventSetOps))
	_ = uint(darwinMaxSops - (tokOps + eventWaitOps))
	_ = uint(darwinMaxSops - (tokOps + barrierArmOps))
	_ = uint(darwinMaxSops - (tokOps + barrierArriveOps))
	_ = uint(darwinMaxSops - (tokOps + barrierLastOps))
	_ = uint(darwinMaxSops - (tokOps + 1 + barrierWaitOps)) // with the abort op
	_ = uint(darwinMaxSops - (tokOps + barrierResetOps))
	_ = uint(darwinMaxSops - (tokOps + condTakeOps))
	_ = uint(darwinMaxSops - (tokOps + condNotifyOps))
)
