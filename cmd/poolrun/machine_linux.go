package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// loadAverage is the machine's load as GNU parallel's --load measures it:
// the processes running or ready to run now (not the kernel's 1-minute
// average, which lags by a minute), from /proc/loadavg's fourth field,
// without this process, which is running as it reads it.
func loadAverage() (float64, error) {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0, err
	}
	f := strings.Fields(string(b))
	if len(f) < 4 {
		return 0, fmt.Errorf("/proc/loadavg: %q", b)
	}
	running, _, _ := strings.Cut(f[3], "/")
	n, err := strconv.ParseFloat(running, 64)
	return max(n-1, 0), err
}

// memAvailable is how much memory can be had without swapping: the
// kernel's MemAvailable (--memfree).
func memAvailable() (int64, error) {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "MemAvailable:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("/proc/meminfo has no MemAvailable")
}

// setNice sets the niceness of every thread of this process, so that
// every job, started from whichever thread, inherits it (--nice). On
// Linux a niceness belongs to a thread; threads made later inherit it
// from the thread that makes them.
func setNice(n int) error {
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return unix.Setpriority(unix.PRIO_PROCESS, 0, n)
	}
	for _, t := range tasks {
		tid, err := strconv.Atoi(t.Name())
		if err != nil {
			continue
		}
		if err := unix.Setpriority(unix.PRIO_PROCESS, tid, n); err != nil && err != unix.ESRCH {
			return err
		}
	}
	return nil
}
