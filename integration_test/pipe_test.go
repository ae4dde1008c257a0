//go:build linux

package integration

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/poolrun/poolrun/internal/leakcheck"
)

// A closed stdout (poolrun ... | head -1) stops the run with exit 141 in
// the default mode and with --line-buffer alike: no more jobs start.
func TestClosedStdoutStops(t *testing.T) {
	leakcheck.Check(t)
	t.Parallel()
	for _, mode := range [][]string{nil, {"--lb"}, {"--lb", "--tag"}} {
		dir := t.TempDir()
		ran := filepath.Join(dir, "ran")
		args := append(append([]string{}, mode...), "-j", "2", `echo {}; echo {} >> "$RAN"; sleep 0.02`)
		cmd := exec.Command(bin, args...)
		cmd.Env = append(os.Environ(), "RAN="+ran)
		cmd.Stdin = strings.NewReader(strings.Join(numbers(300), "\n") + "\n")
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		leakcheck.Track(cmd.Process.Pid)
		if _, err := bufio.NewReader(out).ReadString('\n'); err != nil {
			t.Fatalf("%q: reading the first line: %v", mode, err)
		}
		out.Close() // what head -1 does
		cmd.Wait()
		code := cmd.ProcessState.ExitCode()
		b, _ := os.ReadFile(ran)
		n := len(lines(string(b)))
		if code != 141 || n >= 300 {
			t.Errorf("%q with stdout closed after one line: exit %d, %d of 300 jobs ran; want 141 and the run stopped", mode, code, n)
		}
	}
}

// A process a job leaves behind outside its process group (setsid) and
// that writes later never writes into a later job's output.
func TestLeftoverOutputStaysOut(t *testing.T) {
	leakcheck.Check(t)
	t.Parallel()
	dir := t.TempDir()
	pid := filepath.Join(dir, "late.pid")
	r := poolrun(t, runOpts{env: []string{"LATEPID=" + pid}}, "-j1", ":::",
		`setsid -f sh -c 'echo $$ > "$LATEPID"; sleep 0.4; echo LATE'; sleep 0.1; echo one`,
		`sleep 0.8; echo two`,
		`echo three`)
	if r.code != 0 || r.stdout != "one\ntwo\nthree\n" {
		t.Errorf("exit %d, stdout %q; want one two three, no LATE from the leftover of job 1", r.code, r.stdout)
	}
	gone(t, pid)
}

// -k with one slow early job and many later jobs with large outputs
// (each held in a file until its turn) stays within a small fd limit:
// poolrun stops starting jobs while too many wait, and prints all in
// order.
func TestKeepOrderBoundedFiles(t *testing.T) {
	leakcheck.Check(t)
	t.Parallel()
	// Job 1 sleeps; the others print 70 000 bytes (more than the 64 KiB
	// poolrun loads into memory) and a last line with their number.
	job := `if [ {} = 1 ]; then sleep 1; fi; head -c 70000 /dev/zero | tr '\0' x; echo; echo {}`
	cmd := exec.Command("sh", "-c", `ulimit -n 128 && exec "$0" "$@"`, bin, "-k", "-j", "4", job)
	cmd.Stdin = strings.NewReader(strings.Join(numbers(150), "\n") + "\n")
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	leakcheck.Track(cmd.Process.Pid)
	cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("exit %d: %.500s", code, errb.String())
	}
	var got []string
	for _, l := range lines(out.String()) {
		if !strings.HasPrefix(l, "x") {
			got = append(got, l)
		}
	}
	if strings.Join(got, " ") != strings.Join(numbers(150), " ") {
		t.Errorf("outputs not all there in order: %.200q", strings.Join(got, " "))
	}
}
