//go:build linux

package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/poolrun/poolrun/internal/leakcheck"
	"github.com/poolrun/poolrun/internal/spans"
)

// The GNU make jobserver both ways (docs/jobserver.md), with the real
// make 4.3: poolrun's jobs get a jobserver backed by its cap, and a
// poolrun under make takes its slots from make's.

// recScript records one recipe or job: DIR/NAME.start and DIR/NAME.end
// get the time in ns. It holds until WANT have started (a fact, bounded
// by 10 s, so that a run that cannot reach WANT still ends and the test
// reports the count) and then HOLD seconds more: the window in which one
// too many would start too.
const recScript = `d=$1 n=$2 want=$3 hold=$4
date +%s%N > "$d/$n.start"
i=0
while [ "$(ls "$d" | grep -c '\.start$')" -lt "$want" ] && [ $i -lt 1000 ]; do sleep 0.01; i=$((i+1)); done
sleep "$hold"
date +%s%N > "$d/$n.end"`

type jsRec struct{ dir, sh string }

func newJSRec(t *testing.T) *jsRec {
	t.Helper()
	d := t.TempDir()
	r := &jsRec{dir: filepath.Join(d, "rec"), sh: script(t, d, "rec.sh", recScript)}
	if err := os.Mkdir(r.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return r
}

// counts is how many recorded runs ended and the most that ran at once;
// a record half written by a run killed on purpose is skipped.
func (r *jsRec) counts(t *testing.T) (ended, most int) {
	t.Helper()
	return spans.Records(t, r.dir, true)
}

// makefile writes a Makefile of targets t1..tN whose recipes are recipe
// with %N replaced by the target's number, and returns its path.
func makefile(t *testing.T, n int, recipe string) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("all:")
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, " t%d", i)
	}
	b.WriteString("\n")
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, "t%d:\n\t@%s\n", i, strings.ReplaceAll(recipe, "%N", strconv.Itoa(i)))
	}
	p := filepath.Join(t.TempDir(), "Makefile")
	if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func needTool(t *testing.T, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		t.Skipf("%s is not installed", name)
	}
}

// runMake runs make with args, the environment without poolrun's or a
// make's variables, and returns its combined output.
func runMake(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command("make", args...)
	cmd.Env = cleanEnv()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("make %q: %v\n%s", args, err, out)
	}
	return string(out)
}

func cleanEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "MAKEFLAGS", "MFLAGS", "CARGO_MAKEFLAGS", "MAKELEVEL", "POOLRUN_SEMLOCKS", "POOLRUN_CAP_HELD":
			continue
		}
		env = append(env, kv)
	}
	return append(env, extra...)
}

// make -j4 whose four recipes each run poolrun -j 4 over four jobs (+
// recipes: make hands them its jobserver): never more than 4 jobs at
// once, all 16 run, and make gets its tokens back (make 4.3 says
// "INTERNAL: Exiting with N jobserver tokens" when it does not).
func TestJobserverMakeRunsPoolruns(t *testing.T) {
	needTool(t, "make")
	leakcheck.Check(t)
	r := newJSRec(t)
	mk := makefile(t, 4, fmt.Sprintf("+%s -j 4 %s %s %%N-{} 4 0.3 ::: 1 2 3 4", bin, r.sh, r.dir))
	out := runMake(t, "-s", "-j4", "-f", mk)
	ended, most := r.counts(t)
	if ended != 16 || most != 4 || out != "" {
		t.Errorf("make -j4 of 4 x poolrun -j 4: %d jobs ended, %d at once, output %q: want 16, 4 and none", ended, most, out)
	}
}

// Without +, make 4.3 names its jobserver in MAKEFLAGS but closes its
// descriptors: each poolrun says so in one line and runs with its own
// cap, as a sub-make does (make: warning: jobserver unavailable).
func TestJobserverNotRecursive(t *testing.T) {
	needTool(t, "make")
	leakcheck.Check(t)
	r := newJSRec(t)
	mk := makefile(t, 2, fmt.Sprintf("%s -j 2 %s %s %%N-{} 1 0 ::: 1 2", bin, r.sh, r.dir))
	out := runMake(t, "-s", "-j2", "-f", mk)
	ls := lines(out)
	if ended, _ := r.counts(t); ended != 4 || len(ls) != 2 {
		t.Fatalf("%d jobs ended, output %q: want 4 and a warning from each poolrun", ended, out)
	}
	for _, l := range ls {
		if !strings.HasPrefix(l, "poolrun: warning: MAKEFLAGS names --jobserver-auth=") || !strings.Contains(l, "prefix the recipe with +") || !strings.HasSuffix(l, "running with poolrun's own cap") {
			t.Errorf("warning %q", l)
		}
	}
}

// poolrun -j 2 running two makes of eight recipes each: exactly 2
// recipes at once, all 16 run. (A make given -j8 on its command line
// ignores the jobserver by design, and says so; TestJobserverForcedJ.)
func TestJobserverTwoMakes(t *testing.T) {
	needTool(t, "make")
	leakcheck.Check(t)
	r := newJSRec(t)
	// -j 2: each make runs on its job's slot alone. -j 3: one of them
	// gets the third unit as a token (a make without a jobserver would
	// run one recipe at a time: 2), and never more.
	for _, j := range []int{2, 3} {
		mk := makefile(t, 8, fmt.Sprintf("%s %s $(P)%%N %d 0.2", r.sh, r.dir, j))
		for _, style := range []string{"pipe", "fifo"} {
			if style == "fifo" && !makeReadsFifo() {
				continue
			}
			os.RemoveAll(r.dir)
			os.Mkdir(r.dir, 0o755)
			res := poolrun(t, runOpts{env: cleanEnv()}, "--jobserver-style="+style, "-j", strconv.Itoa(j), "make", "-s", "-f", mk, "P={}-", ":::", "a", "b")
			ended, most := r.counts(t)
			if res.code != 0 || ended != 16 || most != j {
				t.Errorf("%s: poolrun -j %d of two makes: exit %d, %d recipes ended, %d at once: want 0, 16, %d\n%s", style, j, res.code, ended, most, j, res.stderr)
			}
		}
	}
}

// makeReadsFifo reports whether the installed make reads a fifo
// jobserver (4.4 and later; 4.3 fails on one).
func makeReadsFifo() bool {
	out, err := exec.Command("make", "--version").Output()
	if err != nil {
		return false
	}
	var major, minor int
	fmt.Sscanf(strings.TrimPrefix(strings.SplitN(string(out), "\n", 2)[0], "GNU Make "), "%d.%d", &major, &minor)
	return major > 4 || major == 4 && minor >= 4
}

// make -j8 inside a poolrun job: make 4.3 takes a -jN on its command
// line over the jobserver it inherits, with a warning (its "-jN forced
// in submake"); poolrun cannot change that, and the docs say so.
func TestJobserverForcedJ(t *testing.T) {
	needTool(t, "make")
	leakcheck.Check(t)
	r := newJSRec(t)
	mk := makefile(t, 2, fmt.Sprintf("%s %s %%N 1 0", r.sh, r.dir))
	res := poolrun(t, runOpts{env: cleanEnv()}, "-j", "2", "make", "-s", "-j8", "-f", mk, ":::", "all")
	if res.code != 0 || !strings.Contains(res.stderr, "make: warning: -j8 forced in submake: resetting jobserver mode.") {
		t.Errorf("exit %d, stderr %q: want make's warning", res.code, res.stderr)
	}
}

// Under poolrun -j 3, a make SIGKILLed while it holds tokens, then a
// make in a later job: the later one reaches 3 at once — the tokens the
// dead make held went back to the cap when its job ended.
func TestJobserverKilledMake(t *testing.T) {
	needTool(t, "make")
	leakcheck.Check(t)
	dir := t.TempDir()
	first, later := newJSRec(t), newJSRec(t)
	mk1 := makefile(t, 8, fmt.Sprintf("%s %s %%N 99 0", first.sh, first.dir)) // holds (bounded) until killed
	mk2 := makefile(t, 8, fmt.Sprintf("%s %s %%N 3 0.3", later.sh, later.dir))
	done := filepath.Join(dir, "first-done")
	// Job 1 starts make, waits until it runs 2 recipes (its implicit
	// token and the one unit left: job 2 holds the third), SIGKILLs it,
	// and ends; job 2 waits for the kill, then runs the later make, which
	// gets the units as job 1 ends.
	job1 := script(t, dir, "job1.sh", fmt.Sprintf(`make -s -f %s & pid=$!
while [ "$(ls %s | grep -c start)" -lt 2 ]; do sleep 0.01; done
kill -9 $pid; echo 1 > %s`, mk1, first.dir, done))
	job2 := script(t, dir, "job2.sh", fmt.Sprintf(`while [ ! -e %s ]; do sleep 0.01; done
make -s -f %s`, done, mk2))
	res := poolrun(t, runOpts{env: cleanEnv()}, "-j", "3", "sh", ":::", job1, job2)
	if res.code != 0 {
		t.Fatalf("poolrun: exit %d\n%s", res.code, res.stderr)
	}
	if _, most := first.counts(t); most != 2 {
		t.Errorf("the first make ran %d recipes at once before it was killed, want 2", most)
	}
	ended, most := later.counts(t)
	if ended != 8 || most != 3 {
		t.Errorf("the later make: %d recipes ended, %d at once: want 8 and 3 (no token lost)\n%s", ended, most, res.stderr)
	}
}

// Mixed nesting: poolrun -j 2 → a job running make (its jobserver the
// job's) → four + recipes each running poolrun -j 4 over four jobs: at
// most 2 leaf jobs at once, all 16 run. The inner poolruns inherit both
// the outer cap (POOLRUN_SEMLOCKS) and make's jobserver; they take
// make's, and count the outer job's slot once (it is make's).
func TestJobserverMixedNesting(t *testing.T) {
	needTool(t, "make")
	leakcheck.Check(t)
	r := newJSRec(t)
	mk := makefile(t, 4, fmt.Sprintf("+%s -j 4 %s %s %%N-{} 2 0.2 ::: 1 2 3 4", bin, r.sh, r.dir))
	for _, mj := range []string{"-j4", "-s"} { // make -j4 forces its own 4 (with a warning); make alone takes the job's jobserver
		os.RemoveAll(r.dir)
		os.Mkdir(r.dir, 0o755)
		res := poolrun(t, runOpts{env: cleanEnv()}, "-j", "2", "make", "-s", mj, "-f", mk, "X={}", ":::", "x")
		ended, most := r.counts(t)
		if mj == "-j4" {
			// make -j4 makes its own jobserver of 4: the leaves take
			// make's tokens, so at most 4 run (not 16).
			if res.code != 0 || ended != 16 || most > 4 {
				t.Errorf("make -j4 in poolrun -j 2: exit %d, %d leaves, %d at once: want 0, 16, at most 4\n%s", res.code, ended, most, res.stderr)
			}
			continue
		}
		if res.code != 0 || ended != 16 || most != 2 || res.stderr != "" {
			t.Errorf("poolrun -j 2 → make → 4 x poolrun -j 4: exit %d, %d leaves, %d at once, stderr %q: want 0, 16, 2, none", res.code, ended, most, res.stderr)
		}
	}
}

// A MAKEFLAGS that names a jobserver poolrun cannot use — descriptors
// closed or not a pipe, a fifo path that does not exist or is not a
// fifo, garbage — is one warning line, and poolrun runs with its own cap
// (-j 2: two at once, all run), as make does.
func TestJobserverBadMakeflags(t *testing.T) {
	leakcheck.Check(t)
	dir := t.TempDir()
	plain := filepath.Join(dir, "plain")
	os.WriteFile(plain, nil, 0o644)
	for _, c := range []struct{ flags, want string }{
		{" -j4 --jobserver-auth=57,58", "descriptor 57 is not open"},
		{" -j4 --jobserver-auth=0,0", "descriptor 0 is not a pipe"},
		{" --jobserver-auth=fifo:" + filepath.Join(dir, "none"), "no such file or directory"},
		{" --jobserver-auth=fifo:" + plain, "not a fifo"},
		{" --jobserver-auth=3", "want R,W"},
		{"k --jobserver-fds=a,b", "want R,W"},
	} {
		r := newJSRec(t)
		res := poolrun(t, runOpts{env: cleanEnv("MAKEFLAGS=" + c.flags)}, "-j", "2", "sh", r.sh, r.dir, "{}", "2", "0.2", ":::", "1", "2", "3")
		ended, most := r.counts(t)
		ls := lines(res.stderr)
		if res.code != 0 || ended != 3 || most != 2 || len(ls) != 1 || !strings.HasPrefix(ls[0], "poolrun: warning: MAKEFLAGS") || !strings.Contains(ls[0], c.want) || !strings.HasSuffix(ls[0], "running with poolrun's own cap") {
			t.Errorf("MAKEFLAGS=%q: exit %d, %d jobs, %d at once, stderr %q: want 0, 3, 2 and one warning with %q", c.flags, res.code, ended, most, res.stderr, c.want)
		}
	}
	// Disabled (make 4.4's -2,-2 for a recipe it does not take as
	// recursive): a warning too; --no-jobserver: none.
	res := poolrun(t, runOpts{env: cleanEnv("MAKEFLAGS= --jobserver-auth=-2,-2")}, "true", ":::", "1")
	if res.code != 0 || !strings.Contains(res.stderr, "disabled") {
		t.Errorf("-2,-2: exit %d, stderr %q", res.code, res.stderr)
	}
	res = poolrun(t, runOpts{env: cleanEnv("MAKEFLAGS= --jobserver-auth=57,58")}, "--no-jobserver", `echo "[$MAKEFLAGS]" #`, ":::", "1")
	if res.code != 0 || res.stderr != "" || res.stdout != "[]\n" {
		t.Errorf("--no-jobserver: exit %d, stdout %q, stderr %q: want no warning and MAKEFLAGS without the jobserver", res.code, res.stdout, res.stderr)
	}
}

// What a job gets: MAKEFLAGS with -jN (the cap's size) and the jobserver
// word; CARGO_MAKEFLAGS, which cargo's client reads first, rewritten
// too; a fifo style job's fifo is removed when the job ends, and when
// poolrun is SIGKILLed (by its tracker).
func TestJobserverJobEnv(t *testing.T) {
	leakcheck.Check(t)
	res := poolrun(t, runOpts{env: cleanEnv("MAKEFLAGS=k -- X=1", "CARGO_MAKEFLAGS=-j9 --jobserver-auth=7,8")}, "-j", "3", `echo "[$MAKEFLAGS] [$CARGO_MAKEFLAGS]"; [ -p /proc/self/fd/3 ] && echo pipe #`, ":::", "1")
	// (CARGO_MAKEFLAGS names descriptors poolrun was not given: it warns,
	// as TestJobserverBadMakeflags checks, and serves its jobs all the same.)
	if want := "[k -j3 --jobserver-auth=3,4 -- X=1] [ -j9 --jobserver-auth=3,4]\npipe\n"; res.code != 0 || res.stdout != want {
		t.Errorf("pipe style: exit %d, stdout %q, stderr %q: want %q", res.code, res.stdout, res.stderr, want)
	}
	dir := t.TempDir()
	res = poolrun(t, runOpts{env: cleanEnv()}, "--jobserver-style", "fifo", "-j", "2", `echo "$MAKEFLAGS"; p=${MAKEFLAGS##*fifo:}; [ -p "$p" ] && echo fifo #`, ":::", "1")
	word := strings.Fields(strings.SplitN(res.stdout, "\n", 2)[0])
	if res.code != 0 || len(word) != 2 || word[0] != "-j2" || !strings.HasPrefix(word[1], "--jobserver-auth=fifo:/") || !strings.HasSuffix(res.stdout, "\nfifo\n") {
		t.Fatalf("fifo style: exit %d, stdout %q, stderr %q", res.code, res.stdout, res.stderr)
	}
	// The fifo went with its job; its directory goes with poolrun (its
	// tracker removes it as poolrun exits).
	fifo := strings.TrimPrefix(word[1], "--jobserver-auth=fifo:")
	if _, err := os.Stat(fifo); !os.IsNotExist(err) {
		t.Errorf("the job's fifo %s outlived poolrun: %v", fifo, err)
	}
	waitGone(t, filepath.Dir(fifo))

	// SIGKILL: the tracker removes the fifo's directory.
	out := filepath.Join(dir, "word")
	cmd, _, _ := start(t, runOpts{env: cleanEnv()}, "--jobserver-style=fifo", "-j", "1", `echo "$MAKEFLAGS" > `+out+`.tmp; mv `+out+`.tmp `+out+`; exec sleep 60 #`, ":::", "1")
	waitFiles(t, out)
	b, _ := os.ReadFile(out)
	_, fifo, _ = strings.Cut(strings.TrimSpace(string(b)), "fifo:")
	if st, err := os.Stat(fifo); err != nil || st.Mode()&os.ModeNamedPipe == 0 {
		t.Fatalf("the job's fifo %q: %v", fifo, err)
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	waitGone(t, filepath.Dir(fifo))
}

// waitGone waits up to 30 s for path to be gone.
func waitGone(t *testing.T, path string) {
	t.Helper()
	for i := 0; i < 3000; i++ {
		if _, err := os.Stat(path); os.IsNotExist(err) {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Errorf("%s is still there 30 s after poolrun ended", path)
}

// cargo build -j 8 of a workspace of six independent crates inside
// poolrun -j 2: at most 2 rustc at once (cargo's jobserver client reads
// both styles: both are tested), all six built; without a jobserver
// cargo runs more. rustc runs under a wrapper that records it like a
// recipe.
func TestJobserverCargo(t *testing.T) {
	needTool(t, "cargo")
	leakcheck.Check(t)
	dir := t.TempDir()
	ws := filepath.Join(dir, "ws")
	members := ""
	for i := 1; i <= 6; i++ {
		src := filepath.Join(ws, fmt.Sprintf("c%d", i), "src")
		if err := os.MkdirAll(src, 0o755); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(ws, fmt.Sprintf("c%d", i), "Cargo.toml"), fmt.Appendf(nil, "[package]\nname = \"c%d\"\nversion = \"0.1.0\"\nedition = \"2021\"\n", i), 0o644)
		os.WriteFile(filepath.Join(src, "lib.rs"), fmt.Appendf(nil, "pub fn f() -> u32 { %d }\n", i), 0o644)
		members += fmt.Sprintf("%q,", fmt.Sprintf("c%d", i))
	}
	os.WriteFile(filepath.Join(ws, "Cargo.toml"), []byte("[workspace]\nmembers = ["+strings.TrimSuffix(members, ",")+"]\nresolver = \"2\"\n"), 0o644)
	wrap := script(t, dir, "wrap.sh", `case " $* " in *" --crate-name c"[0-9]" "*) ;; *) exec "$@" ;; esac
d=$REC_DIR n=$$
date +%s%N > "$d/$n.start"
i=0
while [ "$(ls "$d" | grep -c '\.start$')" -lt "$REC_WANT" ] && [ $i -lt 1000 ]; do sleep 0.01; i=$((i+1)); done
sleep 0.2
"$@"; st=$?
date +%s%N > "$d/$n.end"
exit $st`)
	for _, c := range []struct {
		flag       string
		want, most int
	}{{"--jobserver-style=pipe", 2, 2}, {"--jobserver-style=fifo", 2, 2}, {"--no-jobserver", 3, 3}} {
		r := newJSRec(t)
		target := filepath.Join(dir, "target")
		os.RemoveAll(target)
		res := poolrun(t, runOpts{dir: ws, env: cleanEnv("RUSTC_WRAPPER="+wrap, "REC_DIR="+r.dir, fmt.Sprintf("REC_WANT=%d", c.want), "CARGO_TARGET_DIR="+target)},
			c.flag, "-j", "2", "cargo build -q -j 8 --offline #", ":::", "x")
		ended, most := r.counts(t)
		switch {
		case res.code != 0 || ended != 6:
			t.Errorf("%s: exit %d, %d crates built: want 0 and 6\n%s", c.flag, res.code, ended, res.stderr)
		case c.flag == "--no-jobserver" && most < c.most:
			t.Errorf("%s: %d rustc at once: want at least %d (cargo's own -j 8)", c.flag, most, c.most)
		case c.flag != "--no-jobserver" && most != c.most:
			t.Errorf("%s: %d rustc at once: want %d", c.flag, most, c.most)
		}
	}
}

// make 4.3 reads only pipes: in fifo style it stops at once ("internal
// error: invalid --jobserver-auth string"), which is why pipe is the
// default. (make ≥ 4.4 reads fifos: then TestJobserverTwoMakes runs
// both styles.)
func TestJobserverFifoMake43(t *testing.T) {
	needTool(t, "make")
	if makeReadsFifo() {
		t.Skip("this make reads fifos")
	}
	leakcheck.Check(t)
	mk := makefile(t, 1, "true")
	res := poolrun(t, runOpts{env: cleanEnv()}, "--jobserver-style=fifo", "make", "-s", "-f", mk, ":::", "all")
	if res.code != 1 || !strings.Contains(res.stderr, "make: *** internal error: invalid --jobserver-auth string 'fifo:/") {
		t.Errorf("make 4.3 in fifo style: exit %d, stderr %q: want 1 and make's error", res.code, res.stderr)
	}
	res = poolrun(t, runOpts{env: cleanEnv()}, "make", "-s", "-f", mk, ":::", "all")
	if res.code != 0 || res.stderr != "" {
		t.Errorf("make 4.3 in the default style: exit %d, stderr %q", res.code, res.stderr)
	}
}

// A poolrun under make gives back every token it read, however it ends:
// --halt now,fail=1, and SIGTERM while it holds three of make's tokens.
// make 4.3 checks: it says "INTERNAL: Exiting with N jobserver tokens
// available; should be M!" when tokens were lost (checked with a client
// that keeps one).
func TestJobserverClientGivesBack(t *testing.T) {
	needTool(t, "make")
	leakcheck.Check(t)
	r := newJSRec(t)
	dir := t.TempDir()
	pidf := filepath.Join(dir, "pid")
	halt := fmt.Sprintf(`-+%s -j 4 --halt now,fail=1 sh -c 'sh %s %s $$0 4 0; exit $$0' ::: 1 2 3 4`, bin, r.sh, r.dir)
	term := fmt.Sprintf(`-+sh -c 'echo $$$$ > %s.tmp; mv %s.tmp %s; exec %s -j 4 sleep 60 ::: 1 2 3 4'`, pidf, pidf, pidf, bin)
	lose := `+@python3 -c "import os; os.read(3, 1)"`
	for _, c := range []struct {
		name, recipe string
		lost         bool
	}{{"halt", halt, false}, {"sigterm", term, false}, {"a client that keeps a token", lose, true}} {
		if c.lost {
			if _, err := exec.LookPath("python3"); err != nil {
				continue
			}
		}
		mk := makefile(t, 1, c.recipe)
		cmd := exec.Command("make", "-s", "-j4", "-f", mk)
		cmd.Env = cleanEnv()
		var out strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		if c.name == "sigterm" {
			waitFiles(t, pidf)
			b, _ := os.ReadFile(pidf)
			pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
			// Wait until it runs its four jobs (three of make's tokens).
			for i := 0; i < 3000 && countChildren(pid, "sleep") < 4; i++ {
				time.Sleep(10 * time.Millisecond)
			}
			if n := countChildren(pid, "sleep"); n != 4 {
				t.Fatalf("poolrun under make -j4 runs %d jobs, want 4", n)
			}
			syscall.Kill(pid, syscall.SIGTERM)
		}
		cmd.Wait()
		lost := strings.Contains(out.String(), "INTERNAL: Exiting with")
		if lost != c.lost {
			t.Errorf("%s: make says %q: want tokens lost %v", c.name, out.String(), c.lost)
		}
	}
}

// countChildren is how many children of pid run the command name.
func countChildren(pid int, name string) int {
	// Each thread has its own children file: the process's are all of them.
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	var kids []string
	for _, f := range tasks {
		b, _ := os.ReadFile(f)
		kids = append(kids, strings.Fields(string(b))...)
	}
	n := 0
	for _, c := range kids {
		if comm, err := os.ReadFile("/proc/" + c + "/comm"); err == nil && strings.TrimSpace(string(comm)) == name {
			n++
		}
	}
	return n
}
