//go:build linux

package integration

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/poolrun/poolrun/internal/leakcheck"
)

// Functions exported from bash work, as under GNU parallel: shell code
// runs under the shell poolrun was started from when it is bash, and
// under $PARALLEL_SHELL when that is set; sh otherwise.
func TestShellOfTheCaller(t *testing.T) {
	leakcheck.Check(t)
	t.Parallel()
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash")
	}
	for _, c := range []struct {
		shell, script, want string
	}{
		{"bash", `f() { echo "f:$1"; }; export -f f; "$0" -k f ::: a b`, "f:a\nf:b\n"},
		{"bash", `f() { echo "f:$*"; }; export -f f; "$0" -k f {} x ::: a`, "f:a x\n"},
		{"bash", `"$0" '[[ -n $BASH_VERSION ]] && echo bash {}' ::: 1`, "bash 1\n"},
		{"sh", `"$0" 'echo "[$BASH_VERSION]" {}' ::: 1`, "[] 1\n"},
		{"sh", `PARALLEL_SHELL=bash "$0" '[[ -n $BASH_VERSION ]] && echo bash {}' ::: 1`, "bash 1\n"},
	} {
		out, err := exec.Command(c.shell, "-c", c.script, bin).CombinedOutput()
		if err != nil || string(out) != c.want {
			t.Errorf("%s -c %s: %v, output %q; want %q", c.shell, c.script, err, out, c.want)
		}
	}
	cmd := exec.Command(bin, "echo", ":::", "a")
	cmd.Env = append(os.Environ(), "PARALLEL_SHELL=/nonexistent/shell")
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 255 || !strings.Contains(string(out), "PARALLEL_SHELL") {
		t.Errorf("a PARALLEL_SHELL that does not exist: %v, %q; want exit 255 and a line naming it", err, out)
	}
}

// --nice runs the jobs at that niceness; --load and --memfree that are
// met start the jobs; remote-host flags are refused, naming the flag.
func TestNiceLoadMemfreeAndRefusals(t *testing.T) {
	leakcheck.Check(t)
	t.Parallel()
	r := poolrun(t, runOpts{}, "-j", "2", "--nice", "7", "-k", "cut -d' ' -f19 /proc/self/stat; true", ":::", "a", "b")
	if r.code != 0 || r.stdout != "7\n7\n" {
		t.Errorf("--nice 7: exit %d stdout %q stderr %q; want the niceness of each job, 7", r.code, r.stdout, r.stderr)
	}
	r = poolrun(t, runOpts{}, "--load", "100000", "--memfree", "1k", "-k", "echo", ":::", "a", "b")
	if r.code != 0 || r.stdout != "a\nb\n" {
		t.Errorf("--load/--memfree met: exit %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
	for _, args := range [][]string{{"-S", "host1", "echo", ":::", "a"}, {"--sshlogin", "h", "echo"}, {"--onall", "echo"}, {"--memfree", "lots", "echo"}, {"--nice", "99", "echo"}, {"--trim", "x", "echo"}} {
		r := poolrun(t, runOpts{}, args...)
		if r.code != 255 || r.stdout != "" || !strings.HasPrefix(r.stderr, "poolrun: "+args[0]) || strings.Count(r.stderr, "\n") != 1 {
			t.Errorf("poolrun %q: exit %d stdout %q stderr %q; want 255 and one line naming %s", args, r.code, r.stdout, r.stderr, args[0])
		}
	}
}
