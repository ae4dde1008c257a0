//go:build linux

package integration

import (
	"bytes"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/poolrun/poolrun/internal/leakcheck"
)

// A signal poolrun was started with ignored stays ignored: under nohup
// (SIGHUP) the batch and `sem run` go on, and so does `sem run` as a
// background job of a script (SIGINT). A batch stops on SIGINT all the
// same, as GNU parallel does (TestIgnoredSIGINTStopsBatch).
func TestIgnoredSignalsStayIgnored(t *testing.T) {
	leakcheck.Check(t)
	t.Parallel()
	name := "poolrun-it-nohup-" + filepath.Base(t.TempDir())
	t.Cleanup(func() { poolrun(t, runOpts{}, "sem", "rm", name) })
	job := `echo x > "$0.started"; sleep 0.5; echo done`
	for _, c := range []struct {
		trap string
		sig  syscall.Signal
		args []string // the marker path is appended
	}{
		{"HUP", syscall.SIGHUP, []string{"-j", "2", "-q", "sh", "-c", job, ":::"}},
		{"INT", syscall.SIGINT, []string{"sem", "run", name, "--", "sh", "-c", job}},
		{"HUP", syscall.SIGHUP, []string{"sem", "run", name, "--", "sh", "-c", job}},
	} {
		f := filepath.Join(t.TempDir(), "j")
		// sh sets the signal to ignored and execs poolrun, as nohup does:
		// the pid is poolrun's.
		args := append([]string{"-c", `trap "" ` + c.trap + `; exec "$0" "$@"`, bin}, c.args...)
		cmd := exec.Command("sh", append(args, f)...)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		leakcheck.Track(cmd.Process.Pid)
		waitFiles(t, f+".started")
		cmd.Process.Signal(c.sig)
		cmd.Wait()
		if code := cmd.ProcessState.ExitCode(); code != 0 || out.String() != "done\n" {
			t.Errorf("%v with SIG%s ignored: exit %d, stdout %q, stderr %q; want 0 and done", c.args[:2], c.trap, code, out.String(), errb.String())
		}
	}
}

// A batch started with SIGINT ignored (a script's background job) stops on
// it, exit 255, as GNU parallel does.
func TestIgnoredSIGINTStopsBatch(t *testing.T) {
	leakcheck.Check(t)
	t.Parallel()
	f := filepath.Join(t.TempDir(), "j")
	job := `echo x > "$0.started"; sleep 30; echo done`
	cmd := exec.Command("sh", "-c", `trap "" INT; exec "$0" "$@"`, bin, "-q", "sh", "-c", job, ":::", f)
	var out bytes.Buffer
	cmd.Stdout = &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	leakcheck.Track(cmd.Process.Pid)
	waitFiles(t, f+".started")
	cmd.Process.Signal(syscall.SIGINT)
	cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code != 255 || out.String() != "" {
		t.Errorf("SIGINT to a batch started with it ignored: exit %d, stdout %q; want 255 and the job stopped", code, out.String())
	}
}

// SIGHUP starts no more jobs and lets the running ones finish: the run
// ends with their status, as GNU parallel's.
func TestSIGHUPDrains(t *testing.T) {
	leakcheck.Check(t)
	t.Parallel()
	if signal.Ignored(syscall.SIGHUP) {
		// This test's process was started with SIGHUP ignored (nohup):
		// poolrun would inherit that and rightly keep it ignored.
		// Handling it here makes it the default again in children.
		signal.Notify(make(chan os.Signal, 1), syscall.SIGHUP)
	}
	dir := t.TempDir()
	gate := filepath.Join(dir, "gate")
	job := `echo x > "$0.started"; while [ ! -e ` + gate + ` ]; do sleep 0.01; done; echo done $0`
	a := filepath.Join(dir, "a")
	cmd := exec.Command(bin, "-j", "1", "-q", "sh", "-c", job, ":::", a, filepath.Join(dir, "b"))
	var out bytes.Buffer
	cmd.Stdout = &out
	errFile, err := os.Create(filepath.Join(dir, "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	defer errFile.Close()
	cmd.Stderr = errFile
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	leakcheck.Track(cmd.Process.Pid)
	waitFiles(t, a+".started")
	cmd.Process.Signal(syscall.SIGHUP)
	// The job ends only once poolrun has said it starts no more.
	deadline := time.Now().Add(30 * time.Second)
	for {
		b, _ := os.ReadFile(errFile.Name())
		if bytes.Contains(b, []byte("SIGHUP received")) || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	os.WriteFile(gate, nil, 0o644)
	cmd.Wait()
	b, _ := os.ReadFile(errFile.Name())
	if code := cmd.ProcessState.ExitCode(); code != 0 || out.String() != "done "+a+"\n" || !bytes.Contains(b, []byte("No new jobs will be started")) {
		t.Errorf("SIGHUP: exit %d, stdout %q, stderr %q; want 0 and only the running job's output", code, out.String(), b)
	}
}
