package semlock

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

var errNoEnt = syscall.ENOENT

// listIDs reads every semid on the machine from /proc/sysvipc/sem.
func listIDs() ([]int, error) {
	f, err := os.Open("/proc/sysvipc/sem")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var ids []int
	sc := bufio.NewScanner(f)
	sc.Scan() // header
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) < 2 {
			continue
		}
		if id, err := strconv.Atoi(fs[1]); err == nil {
			ids = append(ids, id)
		}
	}
	return ids, sc.Err()
}

// processAlive reports whether pid is alive and started no later than
// created (plus a little slack): a process started after the set was
// created is a newer process that reuses the creator's pid.
func processAlive(pid int, created time.Time) bool {
	start, ok := ProcessStart(pid)
	if !ok {
		return false
	}
	return !start.After(created.Add(time.Second))
}

// ProcessStart returns when process pid started, and false if it does not
// exist (zombies count as gone).
func ProcessStart(pid int) (time.Time, bool) {
	if pid <= 0 {
		return time.Time{}, false
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return time.Time{}, false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return time.Time{}, false
	}
	fs := strings.Fields(s[i+1:])
	// fs[0] is field 3 (state); starttime is field 22.
	if len(fs) < 20 || fs[0] == "Z" || fs[0] == "X" {
		return time.Time{}, false
	}
	ticks, err := strconv.ParseInt(fs[19], 10, 64)
	if err != nil {
		return time.Time{}, false
	}
	return bootTime().Add(time.Duration(ticks) * time.Second / clockTicks), true
}

const clockTicks = 100 // USER_HZ on every Linux Go supports

func bootTime() time.Time {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return time.Time{}
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "btime "); ok {
			if sec, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil {
				return time.Unix(sec, 0)
			}
		}
	}
	return time.Time{}
}
