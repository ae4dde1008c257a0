package procstart

import (
	"time"

	"golang.org/x/sys/unix"
)

// Start returns when process pid started, and false if it does not exist
// or has exited (a zombie runs nothing any more).
func Start(pid int) (time.Time, bool) {
	if pid <= 0 {
		return time.Time{}, false
	}
	kp, err := unix.SysctlKinfoProc("kern.proc.pid", pid)
	if err != nil || kp.Proc.P_pid != int32(pid) || kp.Proc.P_stat == sZOMB {
		return time.Time{}, false
	}
	tv := kp.Proc.P_starttime
	return time.Unix(int64(tv.Sec), int64(tv.Usec)*1000), true
}

// sZOMB is p_stat of a process that exited and awaits collection by its
// parent (<sys/proc.h>).
const sZOMB = 5
