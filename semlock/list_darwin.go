package semlock

import (
	"bufio"
	"bytes"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

var errNoEnt = syscall.ENOENT

// listIDs asks ipcs(1): darwin has no /proc and no SEM_STAT walk.
func listIDs() ([]int, error) {
	out, err := exec.Command("ipcs", "-s").Output()
	if err != nil {
		return nil, err
	}
	var ids []int
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) >= 2 && fs[0] == "s" {
			if id, err := strconv.Atoi(fs[1]); err == nil {
				ids = append(ids, id)
			}
		}
	}
	return ids, sc.Err()
}

func processAlive(pid int, created time.Time) bool {
	start, ok := ProcessStart(pid)
	return ok && !start.After(created.Add(time.Second))
}

// ProcessStart returns when process pid started, and false if it does not
// exist.
func ProcessStart(pid int) (time.Time, bool) {
	if pid <= 0 {
		return time.Time{}, false
	}
	kp, err := unix.SysctlKinfoProc("kern.proc.pid", pid)
	if err != nil || kp.Proc.P_pid != int32(pid) {
		return time.Time{}, false
	}
	tv := kp.Proc.P_starttime
	return time.Unix(int64(tv.Sec), int64(tv.Usec)*1000), true
}
