//go:build linux

package integration

import (
	"bytes"
	"context"
	"fmt"
	"github.com/poolrun/poolrun/internal/proctest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
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

// peer is the path of a peer program (GNU parallel) to compare with live,
// or "" when it is not installed or the tests run with -race: a race
// build of poolrun starts slowly, and the race run is there for
// poolrun's races, not for the peers (the plain run compares them).
func peer(name string) string {
	if raceEnabled {
		return ""
	}
	p, _ := exec.LookPath(name)
	return p
}

// sampled reports whether case i of a table of recorded cases runs: every
// case, or with -race every fifth (the plain run runs them all), which
// keeps the race run within CI's time.
func sampled(i int) bool { return !raceEnabled || i%5 == 0 }

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

// gone waits up to 10 s for every pid in the files to be gone (a zombie
// counts as gone: it runs nothing) and fails the test for each survivor.
func gone(t *testing.T, pidFiles ...string) {
	t.Helper()
	var pids []int
	for _, f := range pidFiles {
		pids = append(pids, proctest.PidFrom(t, f))
	}
	proctest.Gone(t, pids...)
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
