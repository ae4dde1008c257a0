package procstart

import (
	"os"
	"strconv"
	"strings"
	"time"
)

// Start returns when process pid started, and false if it does not exist
// or has exited (state Z, zombie, or X, dead: it runs nothing any more).
// The time has the kernel's resolution for it, 1/100 s.
func Start(pid int) (time.Time, bool) {
	if pid <= 0 {
		return time.Time{}, false
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return time.Time{}, false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')') // the command name may hold spaces and ')'
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

// bootTime is the btime line of /proc/stat. It is read at each call:
// the kernel derives it from the wall clock, so it moves when the clock
// is stepped, as the sets' creation times do.
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
