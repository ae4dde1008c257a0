//go:build linux

package integration

import (
	"bytes"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/poolrun/poolrun/internal/leakcheck"
)

// A signal poolrun was started with ignored (nohup: SIGHUP; a background
// job of a script: SIGINT) stays ignored: the batch and `sem run` go on.
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
		{"INT", syscall.SIGINT, []string{"-j", "2", "-q", "sh", "-c", job, ":::"}},
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
