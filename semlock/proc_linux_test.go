package semlock_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// cpuTicks returns utime+stime of process pid from /proc (clock ticks).
func cpuTicks(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	fs := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	ut, _ := strconv.Atoi(fs[11])
	st, _ := strconv.Atoi(fs[12])
	return ut + st
}

// semWaitThread returns the thread of process pid that sleeps in
// semtimedop, or 0 if none does; readable is false if no thread's syscall
// could be read (that needs the right to ptrace it: root, or the same user
// without Yama restrictions).
func semWaitThread(pid int) (tid int, readable bool) {
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*", pid))
	for _, task := range tasks {
		b, err := os.ReadFile(task + "/syscall")
		if err != nil {
			continue
		}
		readable = true
		if f := strings.Fields(string(b)); len(f) > 0 && f[0] == strconv.Itoa(unix.SYS_SEMTIMEDOP) {
			tid, _ := strconv.Atoi(filepath.Base(task))
			return tid, true
		}
	}
	return 0, readable
}

// wakeups returns how many times thread tid of pid has gone to sleep and
// woken again (voluntary context switches).
func wakeups(t *testing.T, pid, tid int) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/status", pid, tid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "voluntary_ctxt_switches:"); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(v))
			return n
		}
	}
	t.Fatal("no voluntary_ctxt_switches in " + string(b))
	return 0
}
