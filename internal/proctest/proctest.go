// Package proctest waits, in tests, for facts about processes: that a
// process is gone (a zombie counts: it runs nothing), read from the pid
// file it wrote.
//
//	proctest.Gone(t, proctest.PidFrom(t, dir+"/job.pid"))
package proctest

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Alive reports whether pid runs: it exists and is not a zombie.
func Alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return syscall.Kill(pid, 0) == nil && !haveProc()
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

func haveProc() bool {
	_, err := os.Stat("/proc/self/stat")
	return err == nil
}

// PidFrom reads the pid in file, failing the test if there is none.
func PidFrom(t testing.TB, file string) int {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("pid file: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		t.Fatalf("pid file %s: %q", file, b)
	}
	return pid
}

// Gone waits up to 10 s for every pid to be gone and fails the test for
// each survivor (which it then SIGKILLs). A killed process takes a moment
// to be gone: its parent or init must notice.
func Gone(t testing.TB, pids ...int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for _, pid := range pids {
		for Alive(pid) {
			if time.Now().After(deadline) {
				t.Errorf("pid %d is still running", pid)
				syscall.Kill(pid, syscall.SIGKILL)
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}
