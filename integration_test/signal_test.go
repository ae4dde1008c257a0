//go:build linux

package integration

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/poolrun/poolrun/internal/leakcheck"
)

// holdScript writes its pid, and a grandchild's (one that ignores
// SIGTERM), to files named after its input, then sleeps.
func holdScript(t *testing.T, dir string) string {
	return script(t, dir, "hold.sh", `d=$(dirname "$0")
(trap '' TERM; exec sleep 300) &
echo $! > "$d/gc.$1.pid"
echo $$ > "$d/job.$1.pid"
sleep 300`)
}

func pidFiles(dir string, inputs ...string) []string {
	var fs []string
	for _, in := range inputs {
		fs = append(fs, filepath.Join(dir, "job."+in+".pid"), filepath.Join(dir, "gc."+in+".pid"))
	}
	return fs
}

// --timeout kills the job's whole process group: its grandchildren too,
// even one that ignores SIGTERM.
func TestTimeoutKillsGrandchildren(t *testing.T) {
	leakcheck.Check(t)
	t.Parallel()
	dir := t.TempDir()
	hold := holdScript(t, dir)
	begin := time.Now()
	r := poolrun(t, runOpts{}, "-j", "2", "--timeout", "1s", "--grace", "300ms", "sh", hold, ":::", "a", "b")
	if r.code != 2 {
		t.Errorf("exit %d, want 2 (two timeouts); stderr %s", r.code, r.stderr)
	}
	if d := time.Since(begin); d > 30*time.Second {
		t.Errorf("took %v", d)
	}
	if !strings.Contains(r.stderr, "timed out") {
		t.Errorf("stderr does not report the timeout: %q", r.stderr)
	}
	gone(t, pidFiles(dir, "a", "b")...)
}

// SIGINT and SIGTERM stop every job's process group, remove the private
// cap, and exit 255, as GNU parallel.
func TestSignalCleanup(t *testing.T) {
	leakcheck.Check(t)
	t.Parallel()
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		dir := t.TempDir()
		hold := holdScript(t, dir)
		cmd, _, errb := start(t, runOpts{}, "-j", "2", "--grace", "300ms", "sh", hold, ":::", "a", "b", "c")
		files := pidFiles(dir, "a", "b")
		waitFiles(t, files...)
		cmd.Process.Signal(sig)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			<-done
			t.Fatalf("%v: poolrun did not exit; stderr %s", sig, errb)
		}
		if want := 255; cmd.ProcessState.ExitCode() != want {
			t.Errorf("%v: exit %d, want %d", sig, cmd.ProcessState.ExitCode(), want)
		}
		gone(t, files...)
		if _, err := os.Stat(filepath.Join(dir, "job.c.pid")); err == nil {
			t.Errorf("%v: a job started after the signal", sig)
		}
	}
}

// SIGKILL of poolrun: its jobs die with it (and their grandchildren) and
// its private set is removed (leakcheck), so a shared cap is never
// oversubscribed by orphans.
func TestSIGKILLCleanup(t *testing.T) {
	leakcheck.Check(t)
	t.Parallel()
	dir := t.TempDir()
	hold := holdScript(t, dir)
	cmd, _, _ := start(t, runOpts{}, "-j", "3", "sh", hold, ":::", "a", "b", "c", "d")
	files := pidFiles(dir, "a", "b", "c")
	waitFiles(t, files...)
	cmd.Process.Kill()
	cmd.Wait()
	gone(t, files...)
}

// Bad input: one line on stderr with a usage hint, exit 255, no job run.
func TestBadInput(t *testing.T) {
	leakcheck.Check(t)
	t.Parallel()
	dir := t.TempDir()
	marker := filepath.Join(dir, "ran")
	job := []string{"touch", marker}
	for _, args := range [][]string{
		{"--frobnicate"},
		{"-j", "x2"},
		{"-j", "abc"},
		{"-a", filepath.Join(dir, "missing.txt")},
		{"-a", dir}, // a directory
		{"--sem", "bad name!"},
		{"--timeout", "forever"},
		{"--halt", "sometimes"},
		{"--retries", "0"},
		{"--resume"},
		{"-j"},
		{"-u", "-k"},
		{"--nice", "x"},
	} {
		r := poolrun(t, runOpts{}, append(append(args, job...), ":::", "x")...)
		checkBad(t, args, r)
	}
	// An unterminated '{' in the command.
	for _, c := range [][]string{{"touch", marker + "{"}, {"touch", "{.", marker}, {"touch {/ " + marker}} {
		r := poolrun(t, runOpts{}, append(c, ":::", "x")...)
		checkBad(t, c, r)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Error("a job ran despite bad input")
	}
}

func checkBad(t *testing.T, args []string, r result) {
	t.Helper()
	if r.code != 255 {
		t.Errorf("%q: exit %d, want 255", args, r.code)
	}
	if ls := lines(r.stderr); len(ls) != 1 || !strings.HasPrefix(ls[0], "poolrun: ") || !strings.Contains(ls[0], "poolrun --help") {
		t.Errorf("%q: stderr %q, want one line with a usage hint", args, r.stderr)
	}
	if r.stdout != "" {
		t.Errorf("%q: stdout %q", args, r.stdout)
	}
	_ = fmt.Sprint
}

// A closed stdout (poolrun ... | head -1) stops the run cleanly: exit
// 141 (as if killed by SIGPIPE), every job's group stopped, the cap
// removed (leakcheck).
func TestClosedStdout(t *testing.T) {
	leakcheck.Check(t)
	t.Parallel()
	cmd := exec.Command(bin, "-j", "2", "echo")
	cmd.Stdin = strings.NewReader(strings.Repeat("a line of output\n", 2000))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	leakcheck.Track(cmd.Process.Pid)
	b := make([]byte, 2)
	if _, err := io.ReadFull(out, b); err != nil {
		t.Fatal(err)
	}
	out.Close()
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatal("poolrun did not stop after its stdout was closed")
	}
	if code := cmd.ProcessState.ExitCode(); code != 141 {
		t.Errorf("exit %d, want 141", code)
	}
}
