//go:build linux

package integration

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/poolrun/poolrun/internal/leakcheck"
)

// With a descriptor limit too small for -j jobs, poolrun runs fewer at
// once, says so in one line, and runs every job (it used to fail most of
// them with "too many open files").
func TestDescriptorLimit(t *testing.T) {
	leakcheck.Check(t)
	t.Parallel()
	sh := `ulimit -n 32 || exit 99; exec "$0" -j 8 -k echo ::: $(seq 300)`
	out, err := exec.Command("sh", "-c", sh, bin).Output()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
		if code == 99 {
			t.Skip("ulimit -n 32 refused")
		}
		if !strings.Contains(string(ee.Stderr), "file descriptors") {
			t.Errorf("stderr does not say why fewer jobs run:\n%s", ee.Stderr)
		}
	} else if err != nil {
		t.Fatal(err)
	}
	got := lines(string(out))
	if code != 0 || len(got) != 300 || got[0] != "1" || got[299] != "300" {
		t.Errorf("exit %d, %d lines (want 0 and 300 in order)", code, len(got))
	}
	// The warning: run again to see stderr (Output keeps it only on failure).
	cmd := exec.Command("sh", "-c", sh, bin)
	var errb strings.Builder
	cmd.Stderr = &errb
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(errb.String(), "only enough file descriptors") || len(lines(errb.String())) != 1 {
		t.Errorf("stderr: %q, want one line saying fewer jobs run", errb.String())
	}
	// A limit too small for even one job: refused before any job, exit 255.
	// (Where it is refused depends on what fails first: the tracker's
	// start, or the engine's sizing.)
	r, err := exec.Command("sh", "-c", `ulimit -n 12 || exit 99; exec "$0" -j 2 echo ::: a b`, bin).CombinedOutput()
	ee, _ := err.(*exec.ExitError)
	if s := string(r); ee == nil || ee.ExitCode() != 255 || !strings.Contains(s, "too few file descriptors") && !strings.Contains(s, "too many open files") || strings.Contains(s, "a\n") {
		t.Errorf("ulimit -n 12: %v, %q; want exit 255, a refusal that names the limit, and no job", err, s)
	}
}

// With the kernel's limit on semaphore sets (SEMMNI) just big enough for
// the cap and one slot's share of it, or for the cap alone, poolrun -j 3
// runs every job, and says in one line that poolruns started in some jobs
// will not share the cap. It used to count jobs that never ran as failed
// (8 of 9). The limit is set inside a private IPC namespace (root only).
func TestSemaphoreSetLimit(t *testing.T) {
	leakcheck.Check(t)
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("needs root: sets kernel.sem inside unshare --ipc")
	}
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Skip("unshare(1) not found")
	}
	for _, c := range []struct {
		semmni int
		code   int
		jobs   int
		stderr string
	}{
		{2, 0, 9, "do not share the cap"},
		{1, 0, 9, "do not share the cap"},
	} {
		sh := `echo "250 32000 32 ` + strconv.Itoa(c.semmni) + `" > /proc/sys/kernel/sem || exit 99
exec "$0" -j 3 echo ::: 1 2 3 4 5 6 7 8 9`
		cmd := exec.Command("unshare", "--ipc", "sh", "-c", sh, bin)
		var out, errb strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if code == 99 || strings.Contains(errb.String(), "unshare") {
			t.Skipf("cannot set kernel.sem in a private IPC namespace: %s", errb.String())
		}
		if code != c.code || len(lines(out.String())) != c.jobs || !strings.Contains(errb.String(), c.stderr) || len(lines(errb.String())) != 1 {
			t.Errorf("SEMMNI %d: exit %d, %d jobs, stderr %q; want exit %d, %d jobs, stderr with %q",
				c.semmni, code, len(lines(out.String())), errb.String(), c.code, c.jobs, c.stderr)
		}
	}
}

// A --results directory or a joblog that cannot be written (a full disk)
// is a clear error naming the file and a non-zero exit, not output
// silently lost.
func TestFullDisk(t *testing.T) {
	leakcheck.Check(t)
	t.Parallel()
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skip("no /dev/full")
	}
	r := poolrun(t, runOpts{}, "--joblog", "/dev/full", "echo", ":::", "a", "b")
	if r.code != 255 || !strings.Contains(r.stderr, "/dev/full") || !strings.Contains(r.stderr, "no space left") {
		t.Errorf("joblog on a full disk: exit %d, stderr %q", r.code, r.stderr)
	}
	dir := t.TempDir()
	if err := os.MkdirAll(dir+"/res/1/a", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/dev/full", dir+"/res/1/a/stdout"); err != nil {
		t.Fatal(err)
	}
	r = poolrun(t, runOpts{}, "--results", dir+"/res", "-j", "1", "echo", ":::", "a", "b", "c")
	if r.code != 255 || !strings.Contains(r.stderr, dir+"/res/1/a/stdout") || !strings.Contains(r.stderr, "no space left") {
		t.Errorf("results on a full disk: exit %d, stderr %q", r.code, r.stderr)
	}
	// stdout on a full disk.
	cmd := exec.Command(bin, "echo", ":::", "a", "b")
	f, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var errb strings.Builder
	cmd.Stdout, cmd.Stderr = f, &errb
	err = cmd.Run()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 255 || !strings.Contains(errb.String(), "no space left") {
		t.Errorf("stdout on a full disk: %v, stderr %q", err, errb.String())
	}
}
