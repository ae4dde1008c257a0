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
// and f2 hold "f1a f1b" and "f2a f2b", a line each.
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
	{`-k echo {3} ::: a ::: b`, "\n"},
	{`-k 'echo [{2}] {1}' ::: a ::: 'x y'`, "[x y] a\n"},
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
}

func TestParallelInputModel(t *testing.T) {
	leakcheck.Check(t)
	t.Parallel()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "f1"), []byte("f1a\nf1b\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "f2"), []byte("f2a\nf2b\n"), 0o644)
	gnu, _ := exec.LookPath("parallel")
	for _, c := range parallelCases {
		cmd := exec.Command("sh", "-c", `exec "$0" `+c.args, bin)
		cmd.Dir = dir
		out, err := cmd.Output()
		if err != nil {
			t.Errorf("poolrun %s: %v", c.args, err)
			continue
		}
		if string(out) != c.want {
			t.Errorf("poolrun %s:\n%q\nwant (GNU parallel's)\n%q", c.args, out, c.want)
		}
		if gnu == "" {
			continue
		}
		live := exec.Command("sh", "-c", `exec "$0" --will-cite `+c.args, gnu)
		live.Dir = dir
		if got, err := live.Output(); err == nil && string(got) != c.want {
			t.Errorf("GNU parallel %s now prints %q, recorded %q", c.args, got, c.want)
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
