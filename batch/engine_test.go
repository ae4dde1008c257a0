package batch

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/poolrun/poolrun/internal/leakcheck"
	"github.com/poolrun/poolrun/internal/proctest"
	"github.com/poolrun/poolrun/internal/spans"
	"github.com/poolrun/poolrun/slots"
)

// result is what a batch run in the test printed and returned.
type result struct {
	stdout, stderr string
	sum            Summary
	err            error
}

// syncBuffer is a bytes.Buffer safe for the engine's concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// run runs spec with buffers for its streams.
func runSpec(t *testing.T, ctx context.Context, spec Spec) result {
	t.Helper()
	var out, errb syncBuffer
	if spec.Stdout == nil {
		spec.Stdout = &out
	}
	spec.Stderr = &errb
	sum, err := Run(ctx, spec)
	return result{out.String(), errb.String(), sum, err}
}

func sortedLines(s string) []string {
	l := strings.Split(strings.TrimSuffix(s, "\n"), "\n")
	sort.Strings(l)
	return l
}

func numbers(n int) []string {
	var s []string
	for i := 1; i <= n; i++ {
		s = append(s, strconv.Itoa(i))
	}
	return s
}

func TestRunEveryInputOnce(t *testing.T) {
	leakcheck.Check(t)
	r := runSpec(t, context.Background(), Spec{Command: []string{"echo", "job"}, Inputs: Args(numbers(20)...), Jobs: 3})
	if r.err != nil || r.sum.Started != 20 || r.sum.Failed != 0 {
		t.Fatalf("err %v, summary %+v, stderr %s", r.err, r.sum, r.stderr)
	}
	var want []string
	for _, n := range numbers(20) {
		want = append(want, "job "+n)
	}
	sort.Strings(want)
	if got := sortedLines(r.stdout); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("output %q, want each of %q once", got, want)
	}
}

func TestRunKeepOrderAndGrouping(t *testing.T) {
	leakcheck.Check(t)
	// Later jobs end first; each prints two lines with a pause between:
	// grouped, they come out whole, and with KeepOrder in input order.
	r := runSpec(t, context.Background(), Spec{
		Command:   []string{`echo "{} one"; sleep 0.$((5 - {})); echo "{} two"`},
		Inputs:    Args("1", "2", "3", "4"),
		Jobs:      4,
		KeepOrder: true,
	})
	if r.err != nil {
		t.Fatal(r.err)
	}
	want := "1 one\n1 two\n2 one\n2 two\n3 one\n3 two\n4 one\n4 two\n"
	if r.stdout != want {
		t.Errorf("stdout %q, want %q", r.stdout, want)
	}
}

func TestRunTagAndStderr(t *testing.T) {
	leakcheck.Check(t)
	r := runSpec(t, context.Background(), Spec{
		Command:   []string{"sh", "-c", `echo out "$1"; echo err "$1" >&2`, "sh", "{}"},
		Inputs:    Args("a", "b"),
		Jobs:      1,
		KeepOrder: true,
		Tag:       true,
	})
	if r.err != nil {
		t.Fatal(r.err)
	}
	if r.stdout != "a\tout a\nb\tout b\n" || r.stderr != "a\terr a\nb\terr b\n" {
		t.Errorf("stdout %q stderr %q", r.stdout, r.stderr)
	}
}

func TestRunLineBuffered(t *testing.T) {
	leakcheck.Check(t)
	r := runSpec(t, context.Background(), Spec{
		Command: []string{"sh", "-c", `for i in 1 2 3; do echo "$1 $i"; sleep 0.01; done`, "sh", "{}"},
		Inputs:  Args("x", "y"),
		Jobs:    2,
		Output:  LineBuffered,
		Tag:     true,
	})
	if r.err != nil {
		t.Fatal(r.err)
	}
	got := sortedLines(r.stdout)
	want := []string{"x\tx 1", "x\tx 2", "x\tx 3", "y\ty 1", "y\ty 2", "y\ty 3"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("lines %q, want %q", got, want)
	}
	// A last line without a newline is printed when the job ends.
	r = runSpec(t, context.Background(), Spec{Command: []string{"printf"}, Inputs: Args("a\nb"), Output: LineBuffered})
	if r.err != nil || r.stdout != "a\nb" {
		t.Errorf("partial last line: err %v stdout %q", r.err, r.stdout)
	}
}

func TestRunFailuresRetriesAndHalt(t *testing.T) {
	leakcheck.Check(t)
	dir := t.TempDir()
	// Each input fails the first time and succeeds the second.
	r := runSpec(t, context.Background(), Spec{
		Command: []string{`test -e {}.seen || { touch {}.seen; exit 3; }; echo ok`},
		Inputs:  Args(filepath.Join(dir, "a"), filepath.Join(dir, "b")),
		Retries: 2,
	})
	if r.err != nil || r.sum.Failed != 0 || r.stdout != "ok\nok\n" {
		t.Errorf("retries: err %v summary %+v stdout %q", r.err, r.sum, r.stdout)
	}
	r = runSpec(t, context.Background(), Spec{Command: []string{"sh", "-c", "exit $1", "sh"}, Inputs: Args("0", "1", "2", "0", "5")})
	if r.err != nil || r.sum.Failed != 3 || r.sum.Started != 5 {
		t.Errorf("failures: err %v summary %+v", r.err, r.sum)
	}
	// Halt soon at the first failure: one job at a time, so nothing after it starts.
	r = runSpec(t, context.Background(), Spec{
		Command: []string{"sh", "-c", "echo $1; exit $1", "sh"},
		Inputs:  Args("0", "0", "7", "0", "0"),
		Jobs:    1,
		Halt:    Halt{When: HaltSoon, On: HaltOnFail, Count: 1},
	})
	if r.err != nil || !r.sum.Halted || r.sum.Started != 3 || r.sum.Failed != 1 || r.stdout != "0\n0\n7\n" {
		t.Errorf("halt soon: err %v summary %+v stdout %q", r.err, r.sum, r.stdout)
	}
}

func TestRunHaltNowStopsRunningJobs(t *testing.T) {
	leakcheck.Check(t)
	dir := t.TempDir()
	// Job 1 sleeps long, writing its pid; job 2 fails once job 1 runs.
	pidFile := filepath.Join(dir, "pid")
	r := runSpec(t, context.Background(), Spec{
		Command: []string{fmt.Sprintf(`if [ {} = 1 ]; then echo $$ > %[1]s.tmp; mv %[1]s.tmp %[1]s; exec sleep 60; fi; while [ ! -e %[1]s ]; do sleep 0.01; done; exit 9`, pidFile)},
		Inputs:  Args("1", "2"),
		Jobs:    2,
		Halt:    Halt{When: HaltNow, On: HaltOnFail, Count: 1},
	})
	if r.err != nil || !r.sum.Halted || r.sum.Failed != 1 || r.sum.Stopped != 1 {
		t.Errorf("err %v summary %+v", r.err, r.sum)
	}
	proctest.Gone(t, proctest.PidFrom(t, pidFile)) // job 1, stopped
}

func TestRunTimeoutKillsGroup(t *testing.T) {
	leakcheck.Check(t)
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "grandchild")
	// The job's grandchild ignores TERM: the group's KILL after WaitDelay gets it.
	r := runSpec(t, context.Background(), Spec{
		Command:   []string{fmt.Sprintf(`: {}; sh -c 'trap "" TERM; echo $$ > %[1]s.tmp; mv %[1]s.tmp %[1]s; exec sleep 60' & while [ ! -e %[1]s ]; do sleep 0.01; done; wait`, pidFile)},
		Inputs:    Args("x"),
		Timeout:   3 * time.Second, // time enough for the grandchild to say its pid, even on a busy machine
		WaitDelay: 100 * time.Millisecond,
	})
	if r.err != nil || r.sum.Failed != 1 {
		t.Errorf("err %v summary %+v", r.err, r.sum)
	}
	proctest.Gone(t, proctest.PidFrom(t, pidFile)) // the timed-out job's grandchild
}

func TestRunContextStopsEverything(t *testing.T) {
	leakcheck.Check(t)
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	// Cancel once both jobs run.
	go func() {
		for {
			es, _ := filepath.Glob(filepath.Join(dir, "*.pid"))
			if len(es) == 2 {
				cancel()
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()
	r := runSpec(t, ctx, Spec{
		Command: []string{fmt.Sprintf(`echo $$ > %s/{}.tmp && mv %s/{}.tmp %s/{}.pid; exec sleep 60`, dir, dir, dir)},
		Inputs:  Args("1", "2", "3", "4"),
		Jobs:    2,
	})
	if !errors.Is(r.err, context.Canceled) || r.sum.Started != 2 || r.sum.Stopped != 2 || r.sum.Failed != 0 {
		t.Errorf("err %v summary %+v", r.err, r.sum)
	}
	proctest.Gone(t, proctest.PidFrom(t, filepath.Join(dir, "1.pid")), proctest.PidFrom(t, filepath.Join(dir, "2.pid")))
}

func TestRunJoblogAndResume(t *testing.T) {
	leakcheck.Check(t)
	dir := t.TempDir()
	log := filepath.Join(dir, "jobs.tsv")
	spec := Spec{Command: []string{"sh", "-c", `echo $1; exit $(($1 % 2))`, "sh"}, Inputs: Args("1", "2", "3", "4"), Joblog: log, Jobs: 2}
	r := runSpec(t, context.Background(), spec)
	if r.err != nil || r.sum.Failed != 2 {
		t.Fatalf("err %v summary %+v", r.err, r.sum)
	}
	st, err := readJoblog(log)
	if err != nil || len(st) != 4 || st[1] || !st[2] || st[3] || !st[4] {
		t.Fatalf("joblog says %v (%v)", st, err)
	}
	spec.Inputs, spec.Resume = Args("1", "2", "3", "4", "5"), ResumeFailed
	r = runSpec(t, context.Background(), spec)
	if r.err != nil || r.sum.Skipped != 2 || r.sum.Started != 3 || strings.Join(sortedLines(r.stdout), " ") != "1 3 5" {
		t.Errorf("resume-failed: err %v summary %+v stdout %q", r.err, r.sum, r.stdout)
	}
	spec.Inputs, spec.Resume = Args("1", "2", "3", "4", "5", "6"), ResumeAll
	r = runSpec(t, context.Background(), spec)
	if r.err != nil || r.sum.Started != 1 || r.stdout != "6\n" {
		t.Errorf("resume: err %v summary %+v stdout %q", r.err, r.sum, r.stdout)
	}
	if _, err := Run(context.Background(), Spec{Inputs: Args("x"), Resume: ResumeAll}); !isSpecError(err, "Resume") {
		t.Errorf("Resume without Joblog: %v", err)
	}
}

func isSpecError(err error, field string) bool {
	var se *SpecError
	return errors.As(err, &se) && se.Field == field
}

func TestRunResultsAndDryRun(t *testing.T) {
	leakcheck.Check(t)
	dir := t.TempDir()
	res := filepath.Join(dir, "res")
	r := runSpec(t, context.Background(), Spec{Command: []string{"sh", "-c", `echo out $1; echo err $1 >&2`, "sh"}, Inputs: Args("a b", "c/d"), Results: res})
	if r.err != nil {
		t.Fatal(r.err)
	}
	if r.stdout != "" || r.stderr != "" {
		t.Errorf("with Results, printed stdout %q stderr %q: want nothing, as GNU parallel", r.stdout, r.stderr)
	}
	// GNU parallel's layout: RES/1/VALUE/{seq,stdout,stderr}, / in a value as \_.
	for seq, in := range map[string]string{"1": "a b", "2": "c/d"} {
		d := filepath.Join(res, "1", strings.ReplaceAll(in, "/", `\_`))
		out, _ := os.ReadFile(filepath.Join(d, "stdout"))
		errb, _ := os.ReadFile(filepath.Join(d, "stderr"))
		sq, _ := os.ReadFile(filepath.Join(d, "seq"))
		if string(out) != "out "+in+"\n" || string(errb) != "err "+in+"\n" || string(sq) != seq {
			t.Errorf("results of job %s in %s: stdout %q stderr %q seq %q", seq, d, out, errb, sq)
		}
	}
	r = runSpec(t, context.Background(), Spec{Command: []string{"gzip {} && mv {}.gz archive/"}, Inputs: Args("a b.log"), DryRun: true})
	if r.err != nil || r.stdout != "gzip 'a b.log' && mv 'a b.log'.gz archive/\n" || r.sum.Started != 0 {
		t.Errorf("dry run: err %v stdout %q summary %+v", r.err, r.stdout, r.sum)
	}
}

// A command that cannot be started is that job's failure, said on
// stderr; the other jobs run.
func TestRunMissingProgram(t *testing.T) {
	leakcheck.Check(t)
	r := runSpec(t, context.Background(), Spec{Command: []string{"{}"}, Inputs: Args("true", "/nonexistent/prog", "true")})
	if r.err != nil || r.sum.Failed != 1 || r.sum.Started != 3 || !strings.Contains(r.stderr, "job 2") {
		t.Errorf("err %v summary %+v stderr %q", r.err, r.sum, r.stderr)
	}
}

// errWriter fails every write with err.
type errWriter struct{ err error }

func (w errWriter) Write([]byte) (int, error) { return 0, w.err }

func TestRunOutputClosed(t *testing.T) {
	leakcheck.Check(t)
	r := runSpec(t, context.Background(), Spec{Command: []string{"echo"}, Inputs: Args(numbers(200)...), Jobs: 2, Stdout: errWriter{syscall.EPIPE}})
	if !errors.Is(r.err, ErrOutputClosed) || r.sum.Started >= 200 {
		t.Errorf("err %v summary %+v: want ErrOutputClosed and the batch stopped early", r.err, r.sum)
	}
}

// A write that fails (a full disk) stops the batch with an error naming
// the file: for Stdout, the joblog and the results.
func TestRunWriteErrors(t *testing.T) {
	leakcheck.Check(t)
	r := runSpec(t, context.Background(), Spec{Command: []string{"echo"}, Inputs: Args(numbers(200)...), Jobs: 1, Stdout: errWriter{syscall.ENOSPC}})
	var we *WriteError
	if !errors.As(r.err, &we) || !errors.Is(r.err, syscall.ENOSPC) || r.sum.Started >= 200 {
		t.Errorf("stdout: err %v summary %+v: want a WriteError and the batch stopped early", r.err, r.sum)
	}
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skip("no /dev/full")
	}
	r = runSpec(t, context.Background(), Spec{Command: []string{"echo"}, Inputs: Args(numbers(50)...), Jobs: 1, Joblog: "/dev/full"})
	if !errors.As(r.err, &we) || we.Path != "/dev/full" || r.sum.Started != 0 {
		t.Errorf("joblog: err %v summary %+v: want a WriteError naming /dev/full and the batch stopped early", r.err, r.sum)
	}
	res := t.TempDir()
	full := filepath.Join(res, "1", numbers(50)[1])
	if err := os.MkdirAll(full, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/dev/full", filepath.Join(full, "stdout")); err != nil {
		t.Fatal(err)
	}
	r = runSpec(t, context.Background(), Spec{Command: []string{"echo"}, Inputs: Args(numbers(50)...), Jobs: 1, Results: res})
	if !errors.As(r.err, &we) || we.Path != filepath.Join(full, "stdout") || r.sum.Started >= 50 {
		t.Errorf("results: err %v summary %+v: want a WriteError naming %s/stdout", r.err, r.sum, full)
	}
}

// Run takes its slots of the Cap it is given: two batches sharing a cap
// of 2 never run more than 2 jobs between them.
func TestRunSharedCap(t *testing.T) {
	leakcheck.Check(t)
	c, err := slots.New(2)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	dir := t.TempDir()
	log := filepath.Join(dir, "spans")
	sh := spans.Script(t, dir)
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = Run(context.Background(), Spec{
				Command: []string{"sh", sh}, Inputs: Args(numbers(5)...), Jobs: 2, Cap: c,
				Env: append(os.Environ(), "SPANS="+log),
			})
		}()
	}
	wg.Wait()
	if errs[0] != nil || errs[1] != nil {
		t.Fatal(errs)
	}
	if peak, jobs := spans.Peak(t, log); peak > 2 || jobs != 10 {
		t.Errorf("%d jobs, %d at once: want 10, at most 2", jobs, peak)
	}
}

func TestRunBadSpec(t *testing.T) {
	for field, spec := range map[string]Spec{
		"Jobs":      {Jobs: -5},
		"Retries":   {Retries: -2},
		"KeepOrder": {KeepOrder: true, Output: Ungrouped},
		"Tag":       {Tag: true, Output: Ungrouped},
		"Halt":      {Halt: Halt{When: HaltSoon}},
		"Command":   {Command: []string{"echo", "{=perl=}"}},
	} {
		spec.Inputs = Args("x")
		if _, err := Run(context.Background(), spec); !isSpecError(err, field) {
			t.Errorf("%s: %v, want a SpecError for %s", field, err, field)
		}
	}
}

// AsManyAsPossible runs every job (as many at once as the descriptor
// limit allows, up to 1000).
func TestRunAsManyAsPossible(t *testing.T) {
	leakcheck.Check(t)
	r := runSpec(t, context.Background(), Spec{Command: []string{"echo"}, Inputs: Args(numbers(30)...), Jobs: AsManyAsPossible})
	if r.err != nil || r.sum.Started != 30 || len(sortedLines(r.stdout)) != 30 || r.stderr != "" {
		t.Errorf("err %v summary %+v stderr %q", r.err, r.sum, r.stderr)
	}
}

// Verbose says each command on stderr as it starts; Dir is the jobs'
// directory; Delay spaces the starts (the joblog's start times).
func TestRunVerboseDirDelay(t *testing.T) {
	leakcheck.Check(t)
	dir := t.TempDir()
	r := runSpec(t, context.Background(), Spec{Command: []string{"pwd"}, Inputs: Args("a", "b"), Jobs: 1, Verbose: true, Dir: dir})
	if r.err != nil || r.stdout != dir+"\n"+dir+"\n" || r.stderr != "pwd a\npwd b\n" {
		t.Errorf("err %v stdout %q stderr %q", r.err, r.stdout, r.stderr)
	}
	log := filepath.Join(dir, "jobs.tsv")
	r = runSpec(t, context.Background(), Spec{Command: []string{"true"}, Inputs: Args("x", "y", "z"), Jobs: 3, Delay: 200 * time.Millisecond, Joblog: log})
	b, _ := os.ReadFile(log)
	var starts []float64
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n")[1:] {
		f, _ := strconv.ParseFloat(strings.Split(l, "\t")[2], 64)
		starts = append(starts, f)
	}
	sort.Float64s(starts)
	if r.err != nil || len(starts) != 3 {
		t.Fatalf("err %v joblog %q", r.err, b)
	}
	for i := 1; i < 3; i++ {
		// The joblog has milliseconds: a gap of 200 ms may read 0.199.
		if gap := starts[i] - starts[i-1]; gap < 0.199 {
			t.Errorf("starts %.3fs apart, want at least the delay of 0.2s", gap)
		}
	}
}
