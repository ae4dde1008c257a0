package rebuild

import (
	"os"
	"os/exec"
	"syscall"
	"unsafe"
)

// inNewIPCNamespace makes cmd start in a private IPC namespace, where
// this test may set the next semid (root only).
func inNewIPCNamespace(cmd *exec.Cmd) error {
	if os.Geteuid() != 0 {
		return syscall.EPERM
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWIPC}
	return nil
}

// setOwner changes the owner uid of set id (IPC_SET; root only) and
// returns a function that restores it. (no IPC_64 flag: 64-bit kernels take none.) ipc64_perm starts with key, uid on
// every Linux architecture.
func setOwner(id, uid int) (func(), error) {
	const ipcSet, ipcStat = 1, 2
	var buf [256]byte
	if _, _, e := syscall.Syscall6(syscall.SYS_SEMCTL, uintptr(id), 0, ipcStat, uintptr(unsafe.Pointer(&buf[0])), 0, 0); e != 0 {
		return nil, e
	}
	old := *(*uint32)(unsafe.Pointer(&buf[4]))
	*(*uint32)(unsafe.Pointer(&buf[4])) = uint32(uid)
	if _, _, e := syscall.Syscall6(syscall.SYS_SEMCTL, uintptr(id), 0, ipcSet, uintptr(unsafe.Pointer(&buf[0])), 0, 0); e != 0 {
		return nil, e
	}
	return func() {
		*(*uint32)(unsafe.Pointer(&buf[4])) = old
		syscall.Syscall6(syscall.SYS_SEMCTL, uintptr(id), 0, ipcSet, uintptr(unsafe.Pointer(&buf[0])), 0, 0)
	}, nil
}
