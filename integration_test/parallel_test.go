//go:build linux

package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/poolrun/poolrun/internal/leakcheck"
)

// parallelCases are GNU parallel command lines from its tutorial and man
// page, with what GNU parallel 20221122 prints for them (recorded; when
// parallel is installed, the test also compares with it live). Files f1
// and f2 hold "f1a f1b" and "f2a f2b", a line each; cs holds "x,y" and
// "z,w".
var parallelCases = []struct {
	args string
	want string
}{
	{`-k echo ::: a b ::: 1 2`, "a 1\na 2\nb 1\nb 2\n"},
	{`-k echo {2}-{1} ::: a b ::: 1 2`, "1-a\n2-a\n1-b\n2-b\n"},
	{`-k echo ::: a b c ::: 1 2 ::: x`, "a 1 x\na 2 x\nb 1 x\nb 2 x\nc 1 x\nc 2 x\n"},
	{`-k echo {} ::: a b :::+ 1 2 3`, "a 1\nb 2\n"},
	{`-k --link echo ::: a b c ::: 1 2`, "a 1\nb 2\nc 1\n"},
	{`-k --link echo ::: a b ::: 1 2 3 4 5`, "a 1\nb 2\na 3\nb 4\na 5\n"},
	{`-k -a f1 echo ::: x y`, "f1a x\nf1a y\nf1b x\nf1b y\n"},
	{`-k echo :::: f1 f2`, "f1a f2a\nf1a f2b\nf1b f2a\nf1b f2b\n"},
	{`-k -a f1 -a f2 echo`, "f1a f2a\nf1a f2b\nf1b f2a\nf1b f2b\n"},
	{`-k echo :::: f1 ::: z`, "f1a z\nf1b z\n"},
	{`-k echo ::: a b :::: f1 :::+ 1 2`, "a f1a 1\na f1b 2\nb f1a 1\nb f1b 2\n"},
	{`-k --tag echo ::: a b ::: 1`, "a 1\ta 1\nb 1\tb 1\n"},
	{`-k echo {1.} {2/} {2//} {2/.} ::: a.tar.gz ::: d/e.txt`, "a.tar e.txt d e\n"},
	{`-k echo {} ::: a ::: 'b c'`, "a b c\n"},
	{`-k echo [{.}] [{/.}] [{//}] ::: .hidden d/.f a/b/ a//b`, "[] [] [.]\n[d/] [] [d]\n[a/b/] [] [a]\n[a//b] [b] [a]\n"},
	{`-k echo {3} ::: a ::: b`, "\n"},
	{`-k 'echo [{2}] {1}' ::: a ::: 'x y'`, "[x y] a\n"},
	// Inputs per job, columns.
	{`-k -n 2 echo ::: a b c d e`, "a b\nc d\ne\n"},
	{`-k -N2 echo {1}-{2} ::: a b c`, "a-b\nc-\n"},
	{`-k -n 2 --tag echo ::: a b c`, "a b\ta b\nc\tc\n"},
	{`-k -n 2 echo ::: a b ::: 1 2`, "a 1 a 2\nb 1 b 2\n"},
	{`-k --colsep , echo {2} {1} ::: a,b c,d`, "b a\nd c\n"},
	{`-k --colsep , echo {2} :::: cs`, "y\nw\n"},
	{`-k --colsep , echo :::: cs`, "x y\nz w\n"},
	{`-k --colsep '[,;]' echo {3} ::: 'a,b;c'`, "c\n"},
	// Several words are one line of shell code, as parallel runs it.
	{`-k echo {}\; echo done ::: x y`, "x\ndone\ny\ndone\n"},
	{`-k echo {} \| tr a-z A-Z ::: x`, "X\n"},
	{`-k echo {} \&\& echo ok ::: a`, "a\nok\n"},
	{`-k echo 'a  b' ::: x`, "a b x\n"},
	{`-k sh -c 'echo A $0 B' ::: x`, "\n"},
	{`-k -q sh -c 'echo A $0 B' ::: x`, "A x B\n"},
	{`-k FOO=bar sh -c 'echo $FOO' ::: 1`, "\n"},
	{`-k echo {} '>' /dev/null ::: a`, ""},
	{`-k --tag printf 'a\nb\n' ::: x`, "x\tanbn"},
	// Shell builtins run in the shell, as parallel runs everything there.
	{`--workdir sub pwd ::: a`, "SUB\n"},
	{`-k cd sub \&\& pwd ::: a`, "SUB\n"},
	{`--dryrun echo ::: a`, "echo a\n"},
	{`-k --delay 0.05 echo ::: a b`, "a\nb\n"},
	{`--env FOO echo ::: a`, "a\n"},
}

func TestParallelInputModel(t *testing.T) {
	leakcheck.Check(t)
	t.Parallel()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "f1"), []byte("f1a\nf1b\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "f2"), []byte("f2a\nf2b\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "cs"), []byte("x,y\nz,w\n"), 0o644)
	os.Mkdir(filepath.Join(dir, "sub"), 0o755)
	gnu := peer("parallel")
	for i, c := range parallelCases {
		if !sampled(i) {
			continue
		}
		cmd := exec.Command("sh", "-c", `exec "$0" `+c.args, bin)
		cmd.Dir = dir
		out, err := cmd.Output()
		if err != nil {
			t.Errorf("poolrun %s: %v", c.args, err)
			continue
		}
		want := strings.ReplaceAll(c.want, "SUB", filepath.Join(dir, "sub"))
		if string(out) != want {
			t.Errorf("poolrun %s:\n%q\nwant (GNU parallel's)\n%q", c.args, out, want)
		}
		if gnu == "" {
			continue
		}
		live := exec.Command("sh", "-c", `exec "$0" --will-cite `+c.args, gnu)
		live.Dir = dir
		if got, err := live.Output(); err == nil && string(got) != want {
			t.Errorf("GNU parallel %s now prints %q, recorded %q", c.args, got, want)
		}
	}
}

// A source that links to nothing before it is bad input.
func TestLinkWithoutSource(t *testing.T) {
	r := poolrun(t, runOpts{}, "echo", ":::+", "a")
	if r.code != 255 || !strings.Contains(r.stderr, ":::+") {
		t.Errorf("exit %d, stderr %q", r.code, r.stderr)
	}
}

// parallelStatuses are GNU parallel 20221122's exit statuses for --halt
// and -j forms, recorded (and compared live when parallel is installed).
var parallelStatuses = []struct {
	args string
	want int
}{
	{`-j1 --halt now,fail=1 'exit {}' ::: 0 3 4`, 3},
	{`-j1 --halt soon,fail=1 'exit {}' ::: 0 3 4`, 3},
	{`-j1 --halt now,success=1 'exit {}' ::: 2 0 4`, 0},
	{`-j1 --halt soon,fail=2 'exit {}' ::: 3 5 7`, 2},
	{`-j1 --halt now,done=1 'exit {}' ::: 3 5`, 3},
	{`-j1 --halt now,fail=50% 'exit {}' ::: 0 6 0 0`, 25},
	{`-j1 --halt now,fail=50% 'exit {}' ::: 0 0 0 6 6 6`, 50},
	{`-j1 --halt now,success=50% 'exit {}' ::: 3 4 0 5`, 75},
	{`-j1 --halt now,success=3 'exit {}' ::: 3 4 0 5`, 3},
	{`-j1 --halt now,success=25% 'exit {}' ::: 3 0 4 5`, 0},
	{`-j1 --halt 2 'exit {}' ::: 0 4 5`, 4},
	{`-j1 --halt -2 'exit {}' ::: 3 0 5`, 0},
	{`-j 0 true ::: a b`, 0},
	{`-j +1 false ::: a b`, 2},
	{`-j -1 true ::: a`, 0},
	{`--will-cite exit 3 ::: a`, 1},
	{`no-such-program-poolrun ::: a b c`, 3},
}

func TestParallelExitStatuses(t *testing.T) {
	leakcheck.Check(t)
	t.Parallel()
	gnu := peer("parallel")
	status := func(prog, args string) int {
		err := exec.Command("sh", "-c", `exec "$0" `+args+` >/dev/null 2>&1`, prog).Run()
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0
	}
	for _, c := range parallelStatuses {
		if got := status(bin, c.args); got != c.want {
			t.Errorf("poolrun %s: exit %d, want %d (GNU parallel's)", c.args, got, c.want)
		}
		if gnu != "" {
			if got := status(gnu, "--will-cite "+c.args); got != c.want {
				t.Errorf("GNU parallel %s now exits %d, recorded %d", c.args, got, c.want)
			}
		}
	}
}

// --joblog +FILE appends to FILE, as in GNU parallel (it used to write a
// file named "+FILE").
func TestJoblogAppend(t *testing.T) {
	leakcheck.Check(t)
	t.Parallel()
	dir := t.TempDir()
	for _, in := range []string{"a", "b"} {
		if r := poolrun(t, runOpts{dir: dir}, "--joblog", "+jobs.tsv", "echo", ":::", in); r.code != 0 {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
	}
	b, err := os.ReadFile(filepath.Join(dir, "jobs.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	got := lines(string(b))
	// GNU parallel 20221122 writes no header when it appends, even to a
	// new file.
	if len(got) != 2 || !strings.HasSuffix(got[0], "echo a") || !strings.HasSuffix(got[1], "echo b") {
		t.Errorf("joblog:\n%s\nwant both runs' lines, no header", b)
	}
	if _, err := os.Stat(filepath.Join(dir, "+jobs.tsv")); err == nil {
		t.Error("a file named +jobs.tsv was written")
	}
}

// What --halt and --timeout say on stderr is GNU parallel's (20221122),
// with poolrun's name: plain lines for the person at the terminal.
func TestParallelMessages(t *testing.T) {
	leakcheck.Check(t)
	t.Parallel()
	for _, c := range []struct {
		args   []string
		stderr string
	}{
		{[]string{"-j1", "--halt", "now,fail=1", "exit {}", ":::", "0", "3", "4"}, "poolrun: This job failed:\nexit 3\n"},
		{[]string{"-j1", "--halt", "now,success=1", "exit {}", ":::", "2", "0"}, "poolrun: This job succeeded:\nexit 0\n"},
		{[]string{"-t", "echo", ":::", "a"}, "echo a\n"},
		{[]string{"--timeout", "0.3", "sleep", ":::", "30"}, "poolrun: Warning: This job was killed because it timed out:\npoolrun: Warning: sleep 30\n"},
	} {
		if r := poolrun(t, runOpts{}, c.args...); r.stderr != c.stderr {
			t.Errorf("poolrun %q: stderr %q, want %q", c.args, r.stderr, c.stderr)
		}
	}
}
