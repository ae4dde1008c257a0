//go:build linux

package integration

import (
	"bytes"
	"os/exec"
	"strings"
	"testing"

	"github.com/poolrun/poolrun/internal/leakcheck"
)

// plusCases are command lines of GNU parallel's --plus replacement
// strings (and --shellquote, --halt done), with what GNU parallel
// 20221122 prints and exits with (recorded; compared live too when
// parallel is installed). stderr is parallel's with "parallel" written
// PROG.
var plusCases = []struct {
	args           string
	stdin          string
	stdout, stderr string
	status         int
}{
	{args: `-k --plus echo {##} ::: a b c`, stdout: "3\n3\n3\n"},
	{args: `-k --plus -n2 echo {##} {0#} ::: a b c d e`, stdout: "3 1\n3 2\n3 3\n"},
	{args: `-k --plus -N2 echo {##} {1} ::: a b c`, stdout: "2 a\n2 c\n"},
	{args: `-k --plus -L2 echo {##} ::: a b c`, stdout: "2\n2\n"},
	{args: `-k --plus -j1 echo {##} {0#} {0%} ::: a b c d e f g h i j k`, stdout: "11 01 1\n11 02 1\n11 03 1\n11 04 1\n11 05 1\n11 06 1\n11 07 1\n11 08 1\n11 09 1\n11 10 1\n11 11 1\n"},
	{args: `-k --plus -j 12 echo {0%} ::: a`, stdout: "01\n"},
	{args: `-k --plus echo {##} {}`, stdin: "x\ny\n", stdout: "2 x\n2 y\n"},
	{args: `-k --plus --tagstring {0#}/{##} echo {} ::: a b`, stdout: "1/2\ta\n2/2\tb\n"},
	{args: `-k --plus echo {+/} {+.} {+..} {+...} {..} {...} {/..} {/...} ::: dir.x/sub/a.b.c.d a a.b /x.y/z`,
		stdout: "dir.x/sub d c.d b.c.d dir.x/sub/a.b dir.x/sub/a a.b a\n    a a a a\n b   a.b a.b a.b a.b\n/x.y y/z   /x.y/z /x.y/z z z\n"},
	{args: `-k --plus echo {2+/} {-1+.} {1/..} {2...} ::: d/a.b.c ::: e/f.g.h.i`, stdout: "e i a e/f\n"},
	{args: `-k --plus echo {:-x} {:2} {1:1:2} {:10} {:3:10} {:10:2} ::: abcd 0 ''`, stdout: "abcd cd bc  d \nx     \nx     \n"},
	{args: `-k --plus echo {#a*b} {##a*b} {%b*c} {%%b*c} ::: aabbcc abab`, stdout: "bcc bcc aabbc aabbc\nab ab abab abab\n"},
	{args: `-k --plus echo {/b/X} {//b/X} {/#a/X} {/%c/X} ::: aabbcc`, stdout: "aaXbcc aaXXcc Xabbcc aabbcX\n"},
	{args: `-k --plus echo {^a} {^^b} '{,A}' '{,,B}' {^^é} ::: abAB é`, stdout: "AbAB aBAB abAB abAb abAB\né é é é é\n"},
	{args: `-k --plus echo {2:-def} {-1#a} {1^^[a-c]} ::: abc ::: ''`, stdout: "def  ABC\n"},
	{args: `-k --plus --dry-run echo {##} '{+.}' "{/x y/z}" ::: "a.b c"`, stdout: "echo 1 'b c' 'a.b c'\n"},
	{args: `-k --plus 'echo "{/ /_}"' ::: 'a b'`, stdout: "a_b\n"},
	{args: `-k --plus -I @@ echo @@ {+.} ::: a.b`, stdout: "a.b b\n"},
	// --shellquote prints the command lines quoted for the shell instead
	// of running them.
	{args: `-k --shellquote ::: 'a b' "it's" 'x$y' plain`, stdout: "'a b'\n'it'\"'\"'s'\n'x$y'\nplain\n"},
	{args: `-k --shellquote`, stdin: "a b\nc\n", stdout: "'a b'\nc\n"},
	{args: `-k --shellquote echo ::: 'a b' c`, stdout: "'echo '\"'\"'a b'\"'\"\n'echo c'\n"},
	{args: `-k --shellquote --shellquote ::: 'a b'`, stdout: "\"'\"'a b'\"'\"\n"},
	{args: `-k --shellquote ::: a b ::: 'c d'`, stdout: "'a c d'\n'b c d'\n"},
	{args: `-k --shellquote echo {} x ::: "it's" a,b ''`, stdout: "'echo '\"'\"'it'\"'\"'\"'\"'\"'\"'\"'\"'s'\"'\"' x'\n'echo '\"'\"'a,b'\"'\"' x'\n'echo '\"'\"''\"'\"' x'\n"},
	// The quoting --shellquote, --dry-run and -t show is parallel's Q.
	{args: `-k --dry-run echo {} x ::: a,b "'" '' "a'b'" c=d`, stdout: "echo 'a,b' x\necho \"'\" x\necho '' x\necho 'a'\"'\"'b'\"'\" x\necho 'c=d' x\n"},
	// --csv: each input a CSV record, as perl's Text::CSV parses it (a
	// quoted field may hold the separator, "" and newlines).
	{args: `--csv echo {1} of {2} at {3}`, stdin: "\"1 big, 2 small\",\"2\"\"x4\"\" plank\",12.34\n", stdout: "1 big, 2 small of 2\"x4\" plank at 12.34\n"},
	{args: `--csv --colsep ';' echo Field 1: {1} Field 2: {2}`, stdin: "\"Start of field 1 with newline\nLine 2 in field 1\";value 2\n", stdout: "Field 1: Start of field 1 with newline\nLine 2 in field 1 Field 2: value 2\n"},
	{args: `-k --csv echo '[{1}]' '[{2}]'`, stdin: "a,b\n c , d \n\nx,\"y \"\"q\"\" z\"\na,\n", stdout: "[a] [b]\n[ c ] [ d ]\n[] []\n[x] [y \"q\" z]\n[a] []\n"},
	{args: `-k --csv --colsep ';' echo '[{1}]' '[{2}]'`, stdin: " c ; d \na;b,c\n", stdout: "[c] [d]\n[a] [b,c]\n"},
	{args: `-k --csv echo '[{1}]' '[{2}]' ::: 'a,b' '"c,d",e'`, stdout: "[a] [b]\n[c,d] [e]\n"},
	{args: `-k --csv --header : echo '[{h1}]' '[{h2}]'`, stdin: "h1,h2\n1,\"2,3\"\n", stdout: "[1] [2,3]\n"},
	{args: `-k --csv -n2 echo`, stdin: "a,b\nc,\"d\ne\"\n", stdout: "a b c d\ne\n"},
	{args: `-k --csv --plus --tag echo '{2+.}'`, stdin: "x,y.z\n", stdout: "x y.z\tz\n"},
	// --halt done=N: parallel's exit status is the number of failed
	// jobs, but 101 when none failed (its min() skips the undefined
	// count); done=N% the percentage failed, rounded up.
	{args: `-j1 --halt now,done=2 'exit {}' ::: 3 5 7`, stderr: "PROG: This job finished:\nexit 3\nPROG: This job finished:\nexit 5\n", status: 2},
	{args: `-j1 --halt soon,done=2 'exit {}' ::: 0 0 0`, stderr: "PROG: This job finished:\nexit 0\nPROG: This job finished:\nexit 0\n", status: 101},
	{args: `-j1 --halt now,done=1 'exit {}' ::: 0 0`, stderr: "PROG: This job finished:\nexit 0\n", status: 0},
	{args: `-j1 --halt now,done=50% 'exit {}' ::: 1 0 0 0`, stderr: "PROG: This job finished:\nexit 1\nPROG: This job finished:\nexit 0\n", status: 25},
	{args: `-j1 --halt now,done=50% 'exit {}' ::: 0 0 4 0`, stderr: "PROG: This job finished:\nexit 0\nPROG: This job finished:\nexit 0\n", status: 0},
	{args: `-j1 --halt now,fail=50% 'exit {}' ::: 1 0 0`, stderr: "PROG: This job failed:\nexit 1\n", status: 34},
	// The status is fixed when it halts: a job still running then that
	// fails later does not change it.
	// The jobs end in order, each waiting for facts (a file, a pid reaped),
	// not for time: A, then B once C has started, then C half a second
	// after B was reaped.
	{args: `-j3 --halt soon,done=2 ::: 'echo $$ > a; exit 0' 'until [ -e c ] && [ -e a ] && ! kill -0 $(cat a) 2>/dev/null; do sleep 0.01; done; echo $$ > b; exit 0' 'touch c; until [ -e b ] && ! kill -0 $(cat b) 2>/dev/null; do sleep 0.01; done; sleep 0.5; exit 3'`, stderr: "PROG: This job finished:\necho $$ > a; exit 0\nPROG: This job finished:\nuntil [ -e c ] && [ -e a ] && ! kill -0 $(cat a) 2>/dev/null; do sleep 0.01; done; echo $$ > b; exit 0\nPROG: Starting no more jobs. Waiting for 1 jobs to finish.\nPROG: This job finished:\ntouch c; until [ -e b ] && ! kill -0 $(cat b) 2>/dev/null; do sleep 0.01; done; sleep 0.5; exit 3\n", status: 101},
}

func TestParallelPlus(t *testing.T) {
	leakcheck.Check(t)
	t.Parallel()
	gnu := peer("parallel")
	// parallel's --csv needs perl's Text::CSV: without it, those cases
	// compare with the recording only.
	csvOK := exec.Command("perl", "-MText::CSV", "-e", "1").Run() == nil
	run := func(prog, args, stdin string) result {
		cmd := exec.Command("sh", "-c", `exec "$0" `+args, prog)
		cmd.Dir = t.TempDir()
		cmd.Stdin = strings.NewReader(stdin)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		if _, ok := err.(*exec.ExitError); err != nil && !ok {
			t.Fatal(err)
		}
		return result{stdout: out.String(), stderr: errb.String(), code: cmd.ProcessState.ExitCode()}
	}
	for i, c := range plusCases {
		if !sampled(i) {
			continue
		}
		want := result{stdout: c.stdout, code: c.status}
		check := func(who, prog, name, args string) {
			got := run(prog, args, c.stdin)
			wantErr := strings.ReplaceAll(c.stderr, "PROG", name)
			if got.stdout != want.stdout || got.stderr != wantErr || got.code != want.code {
				t.Errorf("%s %s:\nstdout %q, stderr %q, exit %d\nwant (GNU parallel's)\nstdout %q, stderr %q, exit %d",
					who, c.args, got.stdout, got.stderr, got.code, want.stdout, wantErr, want.code)
			}
		}
		check("poolrun", bin, "poolrun", c.args)
		if gnu != "" && (csvOK || !strings.Contains(c.args, "--csv")) {
			check("GNU parallel (live)", gnu, "parallel", "--will-cite "+c.args)
		}
	}
}

// What poolrun cannot do as GNU parallel does with --plus it refuses
// before running anything (exit 255), with a line that says why, rather
// than run another command.
func TestPlusRefused(t *testing.T) {
	leakcheck.Check(t)
	t.Parallel()
	for _, c := range []struct {
		args []string
		why  string
	}{
		{[]string{"echo", "{##}", ":::", "a"}, "add --plus"},
		{[]string{"--plus", "echo", "{slot}", ":::", "a"}, "{%}"},
		{[]string{"--plus", "echo", "{uniq}", ":::", "a", "a"}, "skips jobs"},
		{[]string{"--plus", "echo", "{host}", ":::", "a"}, "remote hosts"},
		{[]string{"--plus", "echo", "{2#}", ":::", "a"}, "positional"},
		{[]string{"--plus", "-X", "echo", "{##}", ":::", "a", "b"}, "-X"},
		{[]string{"--plus", "--pipe", "echo", "{##}"}, "--pipe"},
		{[]string{"--plus", "echo", "{#(?=a)}", ":::", "a"}, "RE2"},
		{[]string{"--csv", "--colsep", "::", "echo", ":::", "a"}, "one character"},
		{[]string{"--csv", "--pipe", "cat"}, "--csv"},
		// Not CSV: parallel dies there (exit 25 or 255, as perl's die
		// leaves errno); poolrun stops the run as for an input it cannot
		// read, with 255.
		{[]string{"--csv", "echo", ":::", `a,"b"c`}, `CSV has unexpected format: ^a,"b"c^`},
		{[]string{"--csv", "echo", ":::", `a,b"c`}, `CSV has unexpected format: ^a,b"c^`},
	} {
		r := poolrun(t, runOpts{stdin: "x\n"}, c.args...)
		if r.code != 255 || !strings.Contains(r.stderr, c.why) || r.stdout != "" || strings.Count(r.stderr, "\n") != 1 {
			t.Errorf("poolrun %q: exit %d, stdout %q, stderr %q; want 255 and one line saying %q", c.args, r.code, r.stdout, r.stderr, c.why)
		}
	}
}
