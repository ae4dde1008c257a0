//go:build linux

package integration

import (
	"fmt"
	"github.com/poolrun/poolrun/internal/spans"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/poolrun/poolrun/internal/leakcheck"
)

func numbers(n int) []string {
	var s []string
	for i := 1; i <= n; i++ {
		s = append(s, fmt.Sprint(i))
	}
	return s
}

// -j N: never more than N jobs at once (and N do run at once).
func TestCapJobs(t *testing.T) {
	leakcheck.Check(t)
	t.Parallel()
	dir := t.TempDir()
	spanLog := filepath.Join(dir, "spans")
	span := spans.Script(t, dir)
	r := poolrun(t, runOpts{env: []string{"SPANS=" + spanLog}}, append([]string{"-j", "3", "sh", span, ":::"}, numbers(15)...)...)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	peak, jobs := spans.Peak(t, spanLog)
	if jobs != 15 || peak > 3 {
		t.Errorf("%d jobs, at most %d at once: want 15 jobs, at most 3", jobs, peak)
	}
	t.Logf("peak overlap %d of 3", peak)
}

// Two runs sharing --sem NAME -j 2 run at most 2 jobs at once between
// them; a run with another -j says the set keeps its size.
func TestCapSharedSem(t *testing.T) {
	leakcheck.Check(t)
	t.Parallel()
	dir := t.TempDir()
	spanLog := filepath.Join(dir, "spans")
	span := spans.Script(t, dir)
	name := fmt.Sprintf("poolrun-it-%d", os.Getpid())
	t.Cleanup(func() { poolrun(t, runOpts{}, "sem", "rm", name) })
	var wg sync.WaitGroup
	res := make([]result, 2)
	for i := range res {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res[i] = poolrun(t, runOpts{env: []string{"SPANS=" + spanLog}}, append([]string{"--sem", name, "-j", "2", "sh", span, ":::"}, numbers(6)...)...)
		}()
	}
	wg.Wait()
	for i, r := range res {
		if r.code != 0 {
			t.Errorf("run %d: exit %d: %s", i, r.code, r.stderr)
		}
	}
	peak, jobs := spans.Peak(t, spanLog)
	if jobs != 12 || peak > 2 {
		t.Errorf("%d jobs, at most %d at once: want 12, at most 2", jobs, peak)
	}
	r := poolrun(t, runOpts{}, "--sem", name, "-j", "5", "true", ":::", "x")
	if r.code != 0 || !strings.Contains(r.stderr, "exists with 2 slots") {
		t.Errorf("-j 5 on a 2-slot set: exit %d, stderr %q", r.code, r.stderr)
	}
	ls := poolrun(t, runOpts{}, "sem", "ls")
	if !strings.Contains(ls.stdout, name) || !strings.Contains(ls.stdout, "2/2") {
		t.Errorf("sem ls does not show %s with 2/2:\n%s", name, ls.stdout)
	}
}

// Nested runs share the parent's cap through POOLRUN_SEMLOCKS: the leaf
// jobs of all the nested runs never exceed the outer -j, and a nested run
// never deadlocks, even at -j 1 (the job's own slot serves its first
// child).
func TestCapNested(t *testing.T) {
	leakcheck.Check(t)
	t.Parallel()
	for _, outer := range []string{"3", "1"} {
		dir := t.TempDir()
		spanLog := filepath.Join(dir, "spans")
		span := spans.Script(t, dir)
		inner := script(t, dir, "inner.sh", `exec "$POOLRUN_BIN" -j 3 sh `+span+` ::: a b c d`)
		r := poolrun(t, runOpts{env: []string{"SPANS=" + spanLog, "POOLRUN_BIN=" + bin}}, "-j", outer, "sh", inner, ":::", "1", "2", "3", "4")
		if r.code != 0 {
			t.Fatalf("outer -j %s: exit %d: %s", outer, r.code, r.stderr)
		}
		peak, jobs := spans.Peak(t, spanLog)
		if n, _ := strconv.Atoi(outer); jobs != 16 || peak > n {
			t.Errorf("outer -j %s: %d leaf jobs, at most %d at once: want 16, at most %s", outer, jobs, peak, outer)
		}
	}
}

// poolrun sem run NAME -j 1: GNU sem's job; two at once take turns.
func TestSemRun(t *testing.T) {
	leakcheck.Check(t)
	t.Parallel()
	dir := t.TempDir()
	spanLog := filepath.Join(dir, "spans")
	span := spans.Script(t, dir)
	name := fmt.Sprintf("poolrun-it-semrun-%d", os.Getpid())
	t.Cleanup(func() { poolrun(t, runOpts{}, "sem", "rm", name) })
	var wg sync.WaitGroup
	codes := make([]int, 4)
	for i := range codes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i] = poolrun(t, runOpts{env: []string{"SPANS=" + spanLog}}, "sem", "run", name, "-j", "1", "--", "sh", span).code
		}()
	}
	wg.Wait()
	peak, jobs := spans.Peak(t, spanLog)
	if jobs != 4 || peak != 1 {
		t.Errorf("sem run -j 1: %d runs, %d at once", jobs, peak)
	}
	if r := poolrun(t, runOpts{}, "sem", "run", name, "--", "sh", "-c", "exit 7"); r.code != 7 {
		t.Errorf("sem run exit status %d, want the command's 7", r.code)
	}
	if r := poolrun(t, runOpts{}, "sem", "rm", name); r.code != 0 {
		t.Errorf("sem rm: %d %s", r.code, r.stderr)
	}
	if r := poolrun(t, runOpts{}, "sem", "ls"); strings.Contains(r.stdout, name) {
		t.Errorf("sem ls still shows %s after sem rm", name)
	}
}

// poolrun sem gc removes an orphaned private set (its creator and the
// creator's tracker were SIGKILLed). It sweeps every orphan of this user,
// so it runs only inside a private IPC namespace (unshare --ipc, root),
// never against the sets of other tests or programs on the machine.
func TestSemGC(t *testing.T) {
	leakcheck.Check(t)
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("sem gc sweeps this user's orphans machine-wide: it is tested only in a private IPC namespace (unshare --ipc), which needs root")
	}
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Skip("sem gc is tested only in a private IPC namespace: unshare(1) not found")
	}
	// In the namespace: a run of two sleeps, stopped (so that it cannot
	// start a new tracker), then SIGKILL to its children (the trackers
	// among them) and to it: its cap is left behind.
	sh := `"$0" -j 2 sleep ::: 30 30 & p=$!
i=0; until [ "$("$0" sem ls | wc -l)" -gt 1 ] || [ $i -gt 300 ]; do sleep 0.05; i=$((i+1)); done
sleep 0.2
kill -STOP $p; for c in $(pgrep -P $p); do kill -9 $c; done; kill -9 $p; wait
echo LS; "$0" sem ls; echo GC; "$0" sem gc; echo AFTER; "$0" sem ls`
	cmd := exec.Command("unshare", "--ipc", "sh", "-c", sh, bin)
	out, err := cmd.CombinedOutput()
	if err != nil && strings.Contains(string(out), "unshare") {
		t.Skipf("unshare --ipc: %s", out)
	}
	o := string(out)
	_, after, _ := strings.Cut(o, "AFTER\n")
	if !strings.Contains(o, "removed set") || len(lines(after)) != 1 {
		t.Errorf("sem gc in a private IPC namespace did not remove the orphaned cap:\n%s", o)
	}
}

// Two runs started at once inside one job of a -j 1 cap (two poolruns,
// or a poolrun and a sem run of a --sem cap) share the job's one unit:
// their jobs never overlap, and neither waits for ever for the other.
func TestCapNestedConcurrent(t *testing.T) {
	leakcheck.Check(t)
	t.Parallel()
	name := fmt.Sprintf("poolrun-it-nestc-%d", os.Getpid())
	t.Cleanup(func() { poolrun(t, runOpts{}, "sem", "rm", name) })
	for _, c := range []struct {
		outer, inner string
		jobs         int
	}{
		{`-j 1`, `"$POOLRUN_BIN" -j 2 sh "$SPAN" ::: a b c & "$POOLRUN_BIN" -j 2 sh "$SPAN" ::: d e f & wait`, 6},
		{`--sem ` + name + ` -j 1`, `"$POOLRUN_BIN" sem run ` + name + ` -- sh "$SPAN" & "$POOLRUN_BIN" --sem ` + name + ` sh "$SPAN" ::: x y & wait`, 3},
	} {
		dir := t.TempDir()
		spanLog := filepath.Join(dir, "spans")
		span := spans.Script(t, dir)
		inner := script(t, dir, "inner.sh", c.inner)
		args := append(strings.Fields(c.outer), "sh", inner, ":::", "1")
		r := poolrun(t, runOpts{env: []string{"SPANS=" + spanLog, "SPAN=" + span, "POOLRUN_BIN=" + bin}}, args...)
		if r.code != 0 {
			t.Fatalf("%s: exit %d: %s", c.outer, r.code, r.stderr)
		}
		peak, jobs := spans.Peak(t, spanLog)
		if peak > 1 || jobs != c.jobs {
			t.Errorf("outer %s: %d leaf jobs, %d at once: want %d, at most 1", c.outer, jobs, peak, c.jobs)
		}
	}
}
