//go:build linux

package integration

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/poolrun/poolrun/internal/leakcheck"
)

// bin is the poolrun binary built by TestMain.
var bin string

// TestMain builds cmd/poolrun into a temporary directory (with -race when
// the tests run with -race) and runs the tests against it.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "poolrun-it-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	bin = filepath.Join(dir, "poolrun")
	args := []string{"build", "-o", bin}
	if raceEnabled {
		args = append(args, "-race")
	}
	args = append(args, "github.com/poolrun/poolrun/cmd/poolrun")
	build := exec.Command("go", args...)
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building poolrun:", err)
		os.RemoveAll(dir)
		os.Exit(2)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// result is how a poolrun run ended.
type result struct {
	stdout, stderr string
	code           int
}

// runOpts are the extras of a poolrun run.
type runOpts struct {
	stdin string
	env   []string
	dir   string
}

// poolrun runs the binary with args and waits (at most 60 s) for it.
func poolrun(t *testing.T, o runOpts, args ...string) result {
	t.Helper()
	cmd, out, errb := start(t, o, args...)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("poolrun %q did not end within 60 s; stderr:\n%s", args, errb)
	}
	return result{stdout: out.String(), stderr: errb.String(), code: cmd.ProcessState.ExitCode()}
}

// start starts the binary with args; the caller waits.
func start(t *testing.T, o runOpts, args ...string) (*exec.Cmd, *bytes.Buffer, *bytes.Buffer) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), o.env...)
	cmd.Dir = o.dir
	if o.stdin != "" {
		cmd.Stdin = strings.NewReader(o.stdin)
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	leakcheck.Track(cmd.Process.Pid)
	return cmd, &out, &errb
}

// script writes an executable sh script into dir and returns its path.
func script(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// spanScript logs "S <ns>" when a job starts and "E <ns>" before it ends
// into $SPANS, holding its slot for a moment in between.
func spanScript(t *testing.T, dir string) string {
	return script(t, dir, "span.sh", `echo "S $(date +%s%N)" >> "$SPANS"
sleep 0.15
echo "E $(date +%s%N)" >> "$SPANS"`)
}

// maxOverlap reads a spans file and returns the largest number of jobs
// that ran at once, and how many jobs ran. A logged span lies inside the
// job's real run, which lies inside its hold of a slot, so logged spans
// overlap no more than slots do.
func maxOverlap(t *testing.T, path string) (peak, jobs int) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	type ev struct {
		at    int64
		delta int
	}
	var evs []ev
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		f := strings.Fields(line)
		if len(f) != 2 {
			t.Fatalf("bad span line %q", line)
		}
		at, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			t.Fatalf("bad span line %q", line)
		}
		d := 1
		if f[0] == "E" {
			d = -1
		} else {
			jobs++
		}
		evs = append(evs, ev{at, d})
	}
	sort.Slice(evs, func(i, j int) bool {
		if evs[i].at != evs[j].at {
			return evs[i].at < evs[j].at
		}
		return evs[i].delta < evs[j].delta // an end before a start at the same instant
	})
	n := 0
	for _, e := range evs {
		n += e.delta
		peak = max(peak, n)
	}
	return peak, jobs
}

// gone waits up to 10 s for every pid in the files to be gone (a zombie
// counts as gone: it runs nothing) and fails the test for each survivor.
func gone(t *testing.T, pidFiles ...string) {
	t.Helper()
	var pids []int
	for _, f := range pidFiles {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatalf("pid file: %v", err)
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil {
			t.Fatalf("pid file %s: %q", f, b)
		}
		pids = append(pids, pid)
	}
	deadline := time.Now().Add(10 * time.Second)
	for _, pid := range pids {
		for alive(pid) {
			if time.Now().After(deadline) {
				t.Errorf("pid %d is still running", pid)
				syscall.Kill(pid, syscall.SIGKILL)
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

// waitFiles waits up to 30 s for the files to exist.
func waitFiles(t *testing.T, files ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, f := range files {
		for {
			if st, err := os.Stat(f); err == nil && st.Size() > 0 {
				break
			}
			if ctx.Err() != nil {
				t.Fatalf("%s never appeared", f)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

func lines(s string) []string {
	s = strings.TrimSuffix(s, "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}
