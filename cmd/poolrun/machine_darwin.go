package main

import (
	"encoding/binary"
	"fmt"

	"golang.org/x/sys/unix"
)

// loadAverage is the machine's 1-minute load average (--load).
func loadAverage() (float64, error) {
	b, err := unix.SysctlRaw("vm.loadavg")
	if err != nil {
		return 0, err
	}
	// struct loadavg { fixpt_t ldavg[3]; long fscale; }
	if len(b) < 16 {
		return 0, fmt.Errorf("vm.loadavg: %d bytes", len(b))
	}
	ld := binary.LittleEndian.Uint32(b[0:4])
	scale := binary.LittleEndian.Uint64(b[len(b)-8:])
	if scale == 0 {
		return 0, fmt.Errorf("vm.loadavg: no scale")
	}
	return float64(ld) / float64(scale), nil
}

// memAvailable is the free memory the kernel reports (--memfree).
func memAvailable() (int64, error) {
	free, err := unix.SysctlUint32("vm.page_free_count")
	if err != nil {
		return 0, err
	}
	return int64(free) * int64(unix.Getpagesize()), nil
}

// setNice sets this process's niceness, which its jobs inherit (--nice).
func setNice(n int) error { return unix.Setpriority(unix.PRIO_PROCESS, 0, n) }
