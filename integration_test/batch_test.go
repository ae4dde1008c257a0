//go:build linux

package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/poolrun/poolrun/internal/leakcheck"
)

// The README's first command runs the sample batch, in input order.
func TestExampleBatch(t *testing.T) {
	leakcheck.Check(t)
	t.Parallel()
	r := poolrun(t, runOpts{dir: ".."}, "-j", "4", "-k", "-a", "examples/batch/inputs.txt", "--", "sh", "examples/batch/job.sh", "{}")
	if r.code != 0 {
		t.Fatalf("exit %d, stderr:\n%s", r.code, r.stderr)
	}
	in, _ := os.ReadFile("../examples/batch/inputs.txt")
	words := lines(string(in))
	got := lines(r.stdout)
	if len(got) != len(words) {
		t.Fatalf("%d lines for %d inputs:\n%s", len(got), len(words), r.stdout)
	}
	for i, w := range words {
		if !strings.HasPrefix(got[i], fmt.Sprintf("job %d ", i+1)) || !strings.Contains(got[i], w+" -> "+strings.ToUpper(w)) {
			t.Errorf("line %d = %q, want job %d's report on %q", i+1, got[i], i+1, w)
		}
	}
}

// -k prints outputs in input order even when later jobs finish first.
func TestKeepOrder(t *testing.T) {
	leakcheck.Check(t)
	t.Parallel()
	var in []string
	for i := 1; i <= 8; i++ {
		in = append(in, strconv.Itoa(i))
	}
	r := poolrun(t, runOpts{}, append([]string{"-j", "4", "-k", "sleep 0.$((9-{})); echo {}; echo err{} >&2", ":::"}, in...)...)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if got := strings.Join(lines(r.stdout), " "); got != strings.Join(in, " ") {
		t.Errorf("stdout order %q, want %q", got, strings.Join(in, " "))
	}
	if got := strings.Join(lines(r.stderr), " "); got != "err1 err2 err3 err4 err5 err6 err7 err8" {
		t.Errorf("stderr order %q", got)
	}
}

// Under load each job's output comes out whole: its stdout lines as one
// block on stdout, its stderr lines as one block on stderr, never mixed
// with another job's, small outputs and large ones (past the in-memory
// size) alike, with and without -k.
func TestWholeOutputs(t *testing.T) {
	leakcheck.Check(t)
	t.Parallel()
	const jobs, perJob = 24, 200
	writer := `i=0; while [ $i -lt ` + strconv.Itoa(perJob) + ` ]; do echo "$1 $i"; echo "$1 e$i" >&2; i=$((i+1)); done
if [ "$1" = 5 ] || [ "$1" = 17 ]; then head -c 300000 /dev/zero | tr '\0' x; echo; fi`
	w := script(t, t.TempDir(), "w.sh", writer)
	var in []string
	for i := 1; i <= jobs; i++ {
		in = append(in, strconv.Itoa(i))
	}
	for _, keep := range []bool{false, true} {
		args := []string{"-j", "6", "sh", w}
		if keep {
			args = append([]string{"-k"}, args...)
		}
		r := poolrun(t, runOpts{}, append(append(args, ":::"), in...)...)
		if r.code != 0 {
			t.Fatalf("exit %d: %.500s", r.code, r.stderr)
		}
		checkBlocks(t, "stdout", r.stdout, jobs, perJob, "", keep)
		checkBlocks(t, "stderr", r.stderr, jobs, perJob, "e", keep)
	}
}

// checkBlocks checks that out is one contiguous, complete block of lines
// per job.
func checkBlocks(t *testing.T, what, out string, jobs, perJob int, prefix string, ordered bool) {
	t.Helper()
	seen := map[string]bool{}
	cur, n := "", 0
	var order []string
	flush := func() {
		if cur != "" && n != perJob {
			t.Errorf("%s: job %s: a block of %d lines, want %d (interleaved?)", what, cur, n, perJob)
		}
	}
	for _, l := range lines(out) {
		if strings.HasPrefix(l, "xxxx") {
			if len(l) != 300000 {
				t.Errorf("%s: a big output line of %d bytes", what, len(l))
			}
			continue
		}
		f := strings.Fields(l)
		if len(f) != 2 || !strings.HasPrefix(f[1], prefix) {
			t.Fatalf("%s: stray line %.80q", what, l)
		}
		if f[0] != cur {
			flush()
			if seen[f[0]] {
				t.Fatalf("%s: job %s's lines come in two blocks", what, f[0])
			}
			seen[f[0]], cur, n = true, f[0], 0
			order = append(order, cur)
		}
		if f[1] != prefix+strconv.Itoa(n) {
			t.Fatalf("%s: job %s line %d is %q", what, cur, n, l)
		}
		n++
	}
	flush()
	if len(seen) != jobs {
		t.Errorf("%s: %d jobs' blocks, want %d", what, len(seen), jobs)
	}
	if ordered {
		for i, s := range order {
			if s != strconv.Itoa(i+1) {
				t.Errorf("%s with -k: block %d is job %s", what, i+1, s)
				break
			}
		}
	}
}

// Retries: a job is run up to --retries times; only the last attempt's
// output is printed.
func TestRetries(t *testing.T) {
	leakcheck.Check(t)
	t.Parallel()
	dir := t.TempDir()
	flaky := script(t, dir, "flaky.sh", `f="$1"; n=$(cat "$f" 2>/dev/null || echo 0); n=$((n+1)); echo $n > "$f"
echo "attempt $n"; [ $n -ge 3 ]`)
	r := poolrun(t, runOpts{}, "--retries", "3", "sh", flaky, ":::", filepath.Join(dir, "a"))
	if r.code != 0 || r.stdout != "attempt 3\n" {
		t.Errorf("--retries 3: exit %d, stdout %q, want 0 and attempt 3 only", r.code, r.stdout)
	}
	log := filepath.Join(dir, "log")
	r = poolrun(t, runOpts{}, "--retries", "2", "--joblog", log, "sh", flaky, ":::", filepath.Join(dir, "b"))
	if r.code != 1 || r.stdout != "attempt 2\n" {
		t.Errorf("--retries 2: exit %d, stdout %q, want 1 and attempt 2", r.code, r.stdout)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "b"))
	if strings.TrimSpace(string(b)) != "2" {
		t.Errorf("--retries 2 ran the job %s times", b)
	}
	jl := readJoblog(t, log)
	if len(jl) != 1 || jl[0][6] != "1" {
		t.Errorf("joblog %q", jl)
	}
}

// --halt now kills the running jobs at the first failure; --halt soon
// lets them finish and starts no more.
func TestHalt(t *testing.T) {
	leakcheck.Check(t)
	t.Parallel()
	dir := t.TempDir()
	job := script(t, dir, "job.sh", `d=$(dirname "$0"); case $1 in
fail) sleep 0.3; exit 7;;
slow) echo $$ > "$d/slow.pid"; sleep 60;;
esac`)
	begin := time.Now()
	r := poolrun(t, runOpts{}, "-j", "3", "--halt", "now,fail=1", "sh", job, ":::", "slow", "fail", "never1", "never2")
	if r.code != 7 { // GNU parallel's: the failing job's status for fail=1
		t.Errorf("--halt now: exit %d, want 7; stderr %s", r.code, r.stderr)
	}
	if d := time.Since(begin); d > 30*time.Second {
		t.Errorf("--halt now took %v: the running job was not killed", d)
	}
	gone(t, filepath.Join(dir, "slow.pid"))

	job2 := script(t, dir, "job2.sh", `d=$(dirname "$0"); case $1 in
fail) exit 3;;
slow) sleep 0.5; touch "$d/slow.done";;
*) touch "$d/ran.$1";;
esac`)
	r = poolrun(t, runOpts{}, "-j", "2", "--halt", "soon,fail=1", "sh", job2, ":::", "slow", "fail", "x1", "x2", "x3")
	if r.code != 3 {
		t.Errorf("--halt soon: exit %d, want 3 (the failing job's)", r.code)
	}
	if _, err := os.Stat(filepath.Join(dir, "slow.done")); err != nil {
		t.Errorf("--halt soon killed the running job")
	}
	if m, _ := filepath.Glob(filepath.Join(dir, "ran.*")); len(m) > 1 {
		t.Errorf("--halt soon started %v after the failure", m)
	}
}

// Exit status: 0, the number of failed jobs, 101 past 100.
func TestExitCodes(t *testing.T) {
	leakcheck.Check(t)
	t.Parallel()
	if r := poolrun(t, runOpts{}, "true", ":::", "1", "2"); r.code != 0 {
		t.Errorf("all ok: exit %d", r.code)
	}
	if r := poolrun(t, runOpts{}, "exit {}", ":::", "0", "1", "2", "0", "3"); r.code != 3 {
		t.Errorf("3 failures: exit %d", r.code)
	}
	in := strings.Repeat("x\n", 120)
	if r := poolrun(t, runOpts{stdin: in}, "-j", "4", "false"); r.code != 101 {
		t.Errorf("120 failures: exit %d, want 101", r.code)
	}
	// A program that is not found is each job's failure, as with GNU
	// parallel (exit 2 for two jobs), not an error before any job.
	if r := poolrun(t, runOpts{}, "no-such-command-poolrun-test", ":::", "a", "b"); r.code != 2 || strings.Count(r.stderr, "poolrun: job ") != 2 || !strings.Contains(r.stderr, "no-such-command-poolrun-test") {
		t.Errorf("unknown command: exit %d, stderr %q; want 2 and a line per job", r.code, r.stderr)
	}
}

// --dry-run, --tag, --line-buffer, --results, -0 and the no-command mode.
func TestOutputModes(t *testing.T) {
	leakcheck.Check(t)
	t.Parallel()
	dir := t.TempDir()
	r := poolrun(t, runOpts{}, "--dry-run", "-k", "gzip {} && mv {.}.gz {/.}", ":::", "a b/c.txt", "d")
	if want := "gzip 'a b/c.txt' && mv 'a b/c'.gz c\ngzip d && mv d.gz d\n"; r.stdout != want || r.code != 0 {
		t.Errorf("--dry-run: %q (exit %d), want %q", r.stdout, r.code, want)
	}
	r = poolrun(t, runOpts{}, "-k", "--tag", "-q", "printf", "a\\nb\\n", ":::", "x", "y")
	if want := "x\ta\nx\tb\ny\ta\ny\tb\n"; r.stdout != want {
		t.Errorf("--tag: %q, want %q", r.stdout, want)
	}
	r = poolrun(t, runOpts{}, "--line-buffer", "-j", "3", "echo 1 {}; sleep 0.1; echo 2 {}", ":::", "a", "b", "c")
	if got := lines(r.stdout); len(got) != 6 {
		t.Errorf("--line-buffer: %q", r.stdout)
	}
	res := filepath.Join(dir, "res")
	r = poolrun(t, runOpts{}, "--results", res, "echo out {}; echo err {} >&2", ":::", "p", "q")
	if b, _ := os.ReadFile(filepath.Join(res, "1", "q", "stdout")); string(b) != "out q\n" || r.stdout != "" {
		t.Errorf("--results stdout %q (printed %q: want nothing)", b, r.stdout)
	}
	if b, _ := os.ReadFile(filepath.Join(res, "1", "p", "stderr")); string(b) != "err p\n" || r.stderr != "" {
		t.Errorf("--results stderr %q (printed %q: want nothing)", b, r.stderr)
	}
	r = poolrun(t, runOpts{stdin: "a b\x00c\nd\x00", dir: t.TempDir()}, "-0", "-k", "echo", "[{}]")
	if r.stdout != "[a b]\n[c\nd]\n" {
		t.Errorf("-0: %q", r.stdout)
	}
	// [x] is a glob to the shell: run where no file can match it.
	r = poolrun(t, runOpts{stdin: "x,y,z", dir: t.TempDir()}, "-d", ",", "-k", "echo", "[{}]")
	if r.stdout != "[x]\n[y]\n[z]\n" {
		t.Errorf("-d ,: %q", r.stdout)
	}
	r = poolrun(t, runOpts{stdin: "echo one\necho two | tr a-z A-Z\n"}, "-k")
	if r.stdout != "one\nTWO\n" {
		t.Errorf("no command: %q", r.stdout)
	}
	r = poolrun(t, runOpts{}, "-k", "-j", "2", "echo", "{#}", "{%}", ":::", "a", "b")
	if r.stdout != "1 1\n2 2\n" && r.stdout != "1 2\n2 1\n" {
		t.Errorf("{#} {%%}: %q", r.stdout)
	}
}

// Inputs are read as they come: the first job runs while stdin is still
// open.
func TestStreamingInput(t *testing.T) {
	leakcheck.Check(t)
	t.Parallel()
	dir := t.TempDir()
	cmd := exec.Command(bin, "echo x > "+dir+"/{}")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var errb strings.Builder
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	leakcheck.Track(cmd.Process.Pid)
	fmt.Fprintln(stdin, "first")
	waitFiles(t, filepath.Join(dir, "first"))
	fmt.Fprintln(stdin, "second")
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("poolrun: %v %s", err, errb.String())
	}
	waitFiles(t, filepath.Join(dir, "second"))
}

// --bar draws a progress bar with an ETA on stderr when it is a terminal
// (script(1) gives poolrun one), and nothing when it is not.
func TestProgressBar(t *testing.T) {
	leakcheck.Check(t)
	t.Parallel()
	scriptCmd, err := exec.LookPath("script")
	if err != nil {
		t.Skip("script(1) not found: no pseudo-terminal to test --bar on")
	}
	cmd := exec.Command(scriptCmd, "-qec", bin+" --bar -j 2 sleep ::: 0.3 0.3 0.3 0.3", "/dev/null")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if s := string(out); !strings.Contains(s, "100% [") || !strings.Contains(s, "4/4 done") || !strings.Contains(s, "ETA") {
		t.Errorf("no progress bar in %q", s)
	}
	// Drawn whatever stderr is, as GNU parallel draws it (scripts that
	// redirect stderr to a log keep their bar there).
	r := poolrun(t, runOpts{}, "--bar", "true", ":::", "a")
	if r.code != 0 || !strings.Contains(r.stderr, "100% [") || !strings.Contains(r.stderr, "1/1 done") || !strings.HasSuffix(r.stderr, "\n") {
		t.Errorf("--bar on a stderr that is not a terminal: exit %d, stderr %q; want the bar, ending its line", r.code, r.stderr)
	}
}

// A slot's capture files are reused by its next job, except when the
// finished job left processes behind that may still write: those writes
// never show up in another job's output.
func TestLeftoverWritesStayOut(t *testing.T) {
	leakcheck.Check(t)
	t.Parallel()
	r := poolrun(t, runOpts{}, "-j", "1", "-k", ":::", "(sleep 0.3; echo LATE; echo LATE >&2) & echo one", "sleep 0.6; echo two", "echo three")
	if r.stdout != "one\ntwo\nthree\n" || strings.Contains(r.stderr, "LATE") {
		t.Errorf("stdout %q, stderr %q: want one two three, no LATE", r.stdout, r.stderr)
	}
}
