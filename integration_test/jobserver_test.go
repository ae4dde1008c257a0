//go:build linux

package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/poolrun/poolrun/internal/leakcheck"
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

// counts is how many recorded runs ended and the most that ran at once.
func (r *jsRec) counts(t *testing.T) (ended, most int) {
	t.Helper()
	type ev struct {
		at int64
		d  int
	}
	var evs []ev
	es, err := os.ReadDir(r.dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range es {
		b, err := os.ReadFile(filepath.Join(r.dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		at, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		if err != nil {
			continue // being written by a run killed on purpose
		}
		if strings.HasSuffix(e.Name(), ".end") {
			evs = append(evs, ev{at, -1})
			ended++
		} else {
			evs = append(evs, ev{at, +1})
		}
	}
	sort.Slice(evs, func(i, j int) bool {
		if evs[i].at != evs[j].at {
			return evs[i].at < evs[j].at
		}
		return evs[i].d < evs[j].d
	})
	n := 0
	for _, e := range evs {
		n += e.d
		most = max(most, n)
	}
	return ended, most
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
	mk := makefile(t, 8, fmt.Sprintf("%s %s $(P)%%N 2 0.2", r.sh, r.dir))
	for _, style := range []string{"pipe", "fifo"} {
		if style == "fifo" && !makeReadsFifo() {
			continue
		}
		os.RemoveAll(r.dir)
		os.Mkdir(r.dir, 0o755)
		res := poolrun(t, runOpts{env: cleanEnv()}, "--jobserver-style="+style, "-j", "2", "make", "-s", "-f", mk, "P={}-", ":::", "a", "b")
		ended, most := r.counts(t)
		if res.code != 0 || ended != 16 || most != 2 {
			t.Errorf("%s: poolrun -j 2 of two makes: exit %d, %d recipes ended, %d at once: want 0, 16, 2\n%s", style, res.code, ended, most, res.stderr)
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
