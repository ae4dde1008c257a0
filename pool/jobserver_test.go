package pool_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/poolrun/poolrun/internal/leakcheck"
	"github.com/poolrun/poolrun/internal/spans"
	"github.com/poolrun/poolrun/pool"
)

// The tests of a pool under GNU make's jobserver run the real make: its
// recipes run this test binary as a service (POOL_TEST_HELPER=jobservice
// or jobkill) that makes a pool and runs tasks.

// span logs when it starts and ends to the file log, one write a line,
// holding its slot for 100 ms in between.
var span = pool.Define("span", func(ctx context.Context, log string) (int, error) {
	note := func(what string) error {
		f, err := os.OpenFile(log, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = fmt.Fprintf(f, "%s %d\n", what, time.Now().UnixNano())
		return err
	}
	if err := note("S"); err != nil {
		return 0, err
	}
	time.Sleep(100 * time.Millisecond)
	return 0, note("E")
})

// hold makes the file at path+".held", then runs until the file path
// exists.
var hold = pool.Define("hold", func(ctx context.Context, path string) (int, error) {
	if err := os.WriteFile(path+".held", nil, 0o644); err != nil {
		return 0, err
	}
	for {
		if _, err := os.Stat(path); err == nil {
			return 0, nil
		}
		time.Sleep(5 * time.Millisecond)
	}
})

// meet makes a file in dir and waits until want files are there: the
// tasks that meet run at once. It gives up after a minute (a token was
// lost: they never can).
var meet = pool.Define("meet", func(ctx context.Context, a struct {
	Dir  string
	Want int
}) (int, error) {
	f, err := os.CreateTemp(a.Dir, "meet-")
	if err != nil {
		return 0, err
	}
	f.Close()
	for end := time.Now().Add(time.Minute); time.Now().Before(end); time.Sleep(5 * time.Millisecond) {
		if m, _ := filepath.Glob(filepath.Join(a.Dir, "meet-*")); len(m) >= a.Want {
			return 0, nil
		}
	}
	return 0, fmt.Errorf("%d tasks never ran at once", a.Want)
})

// spanAll runs n span tasks at once into POOL_TEST_LOG on each of pools,
// and returns the errors.
func spanAll(pools []*pool.Pool, n int) error {
	var wg sync.WaitGroup
	errs := make(chan error, n*len(pools))
	for _, p := range pools {
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := span.Call(context.Background(), p, os.Getenv("POOL_TEST_LOG"))
				errs <- err
			}()
		}
	}
	wg.Wait()
	close(errs)
	var all []error
	for err := range errs {
		all = append(all, err)
	}
	return errors.Join(all...)
}

// jobServiceMain is a service started by make: a pool of four workers
// running POOL_TEST_TASKS span tasks at once into POOL_TEST_LOG.
func jobServiceMain() {
	p, err := pool.New(pool.Workers(4))
	if err != nil {
		fmt.Fprintln(os.Stderr, "service:", err)
		os.Exit(1)
	}
	n, _ := strconv.Atoi(os.Getenv("POOL_TEST_TASKS"))
	status := 0
	if err := spanAll([]*pool.Pool{p}, n); err != nil {
		fmt.Fprintln(os.Stderr, "service:", err)
		status = 1
	}
	if err := p.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "service:", err)
		status = 1
	}
	os.Exit(status)
}

// twoPoolsMain is a service of two pools of two workers each, under
// make: each runs three span tasks at once into POOL_TEST_LOG. make's
// implicit token is the process's: the two pools must count it once.
// Then it writes what a task sees of make's jobserver to POOL_TEST_ENV.
func twoPoolsMain() {
	die := func(err error) {
		fmt.Fprintln(os.Stderr, "service:", err)
		os.Exit(1)
	}
	var pools []*pool.Pool
	for range 2 {
		p, err := pool.New(pool.Workers(2))
		if err != nil {
			die(err)
		}
		pools = append(pools, p)
	}
	if err := spanAll(pools, 3); err != nil {
		die(err)
	}
	env, err := taskEnv.Call(context.Background(), pools[0], []string{"MAKEFLAGS", "POOLRUN_CAP_HELD"})
	if err != nil {
		die(err)
	}
	if err := os.WriteFile(os.Getenv("POOL_TEST_ENV"), []byte(env), 0o644); err != nil {
		die(err)
	}
	for _, p := range pools {
		if err := p.Close(); err != nil {
			die(err)
		}
	}
	os.Exit(0)
}

// taskEnv is what a task sees of the variables named: NAME=VALUE lines,
// NAME unset for those not set.
var taskEnv = pool.Define("env", func(ctx context.Context, names []string) (string, error) {
	var b strings.Builder
	for _, n := range names {
		if v, ok := os.LookupEnv(n); ok {
			fmt.Fprintf(&b, "%s=%s\n", n, v)
		} else {
			fmt.Fprintf(&b, "%s unset\n", n)
		}
	}
	return b.String(), nil
})

// jobKillMain is a service started by make -j2: a task that holds the
// implicit token, then a task whose worker is SIGKILLed holding the one
// token read from make, then two tasks that must run at once — they can
// only if the dead worker's token came back.
func jobKillMain() {
	ctx := context.Background()
	dir := os.Getenv("POOL_TEST_DIR")
	die := func(err error) {
		fmt.Fprintln(os.Stderr, "service:", err)
		os.Exit(1)
	}
	p, err := pool.New(pool.Workers(2), pool.Prefetch(1))
	if err != nil {
		die(err)
	}
	open := filepath.Join(dir, "open")
	held := hold.Submit(ctx, p, open)
	for {
		if _, err := os.Stat(open + ".held"); err == nil {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if _, err := crash.Call(ctx, p, "kill"); err == nil {
		die(fmt.Errorf("the crashing task returned"))
	}
	os.WriteFile(open, nil, 0o644)
	if _, err := held.Get(); err != nil {
		die(err)
	}
	a := struct {
		Dir  string
		Want int
	}{dir, 2}
	f1, f2 := meet.Submit(ctx, p, a), meet.Submit(ctx, p, a)
	for _, f := range []*pool.Future[int]{f1, f2} {
		if _, err := f.Get(); err != nil {
			die(err)
		}
	}
	if err := p.Close(); err != nil {
		die(err)
	}
	os.Exit(0)
}

// runMake runs make with args in dir, the Makefile's recipes running
// this binary with env, and returns its stderr; it fails the test if
// make fails or says it ended with tokens missing.
func runMake(t *testing.T, dir string, env []string, args ...string) string {
	t.Helper()
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("no make installed")
	}
	cmd := exec.Command("make", append([]string{"-C", dir}, args...)...)
	cmd.Env = append(os.Environ(), append(env, "SERVICE="+os.Args[0], "MAKEFLAGS=")...)
	var errb strings.Builder
	cmd.Stderr = &errb
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("make %v: %v\nstdout: %s\nstderr: %s", args, err, out, errb.String())
	}
	if strings.Contains(errb.String(), "INTERNAL") || strings.Contains(errb.String(), "make: ") {
		t.Errorf("make %v said: %s", args, errb.String())
	}
	return errb.String()
}

// TestPoolUnderMakeJobserver: two services under make -j3, each a pool
// of four workers with six tasks: make's -j binds their tasks, never
// more than 3 at once across both, and all 12 run.
func TestPoolUnderMakeJobserver(t *testing.T) {
	leakcheck.Check(t)
	dir := t.TempDir()
	log := filepath.Join(dir, "spans")
	mk := "all: a b\na b:\n\t+POOL_TEST_HELPER=jobservice \"$(SERVICE)\" -test.run='^$$'\n"
	if err := os.WriteFile(filepath.Join(dir, "Makefile"), []byte(mk), 0o644); err != nil {
		t.Fatal(err)
	}
	runMake(t, dir, []string{"POOL_TEST_TASKS=6", "POOL_TEST_LOG=" + log}, "-j3")
	peak, jobs := spans.Peak(t, log)
	if jobs != 12 {
		t.Errorf("%d tasks ran, want 12", jobs)
	}
	if peak > 3 {
		t.Errorf("%d tasks ran at once under make -j3, want at most 3", peak)
	}
}

// TestTwoPoolsUnderMakeCountTheTokenOnce: a service with two pools under
// make -j2 runs at most 2 tasks at once across both (its implicit token is
// counted once, not once a pool); its tasks see no jobserver word naming
// make's pipe (the workers do not have its descriptors), and no held
// poolrun unit.
func TestTwoPoolsUnderMakeCountTheTokenOnce(t *testing.T) {
	leakcheck.Check(t)
	dir := t.TempDir()
	log, envf := filepath.Join(dir, "spans"), filepath.Join(dir, "env")
	mk := "all:\n\t+POOL_TEST_HELPER=twopools \"$(SERVICE)\" -test.run='^$$'\n"
	if err := os.WriteFile(filepath.Join(dir, "Makefile"), []byte(mk), 0o644); err != nil {
		t.Fatal(err)
	}
	runMake(t, dir, []string{"POOL_TEST_LOG=" + log, "POOL_TEST_ENV=" + envf}, "-j2")
	peak, jobs := spans.Peak(t, log)
	if jobs != 6 {
		t.Errorf("%d tasks ran, want 6", jobs)
	}
	if peak > 2 {
		t.Errorf("%d tasks ran at once under make -j2 across two pools of one service, want at most 2", peak)
	}
	env, err := os.ReadFile(envf)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(env), "--jobserver") || !strings.Contains(string(env), "POOLRUN_CAP_HELD=\n") {
		t.Errorf("a task's environment:\n%s\nwant no jobserver word and POOLRUN_CAP_HELD blank", env)
	}
}

// TestPoolWithoutJobserverRunsOwnCap: a recipe make does not hand the
// jobserver to (no +: make 4.3 names it in MAKEFLAGS but closes its
// descriptors) runs its pool on the pool's own cap, after one warning
// that says to add +, as a sub-make does then.
func TestPoolWithoutJobserverRunsOwnCap(t *testing.T) {
	leakcheck.Check(t)
	dir := t.TempDir()
	log := filepath.Join(dir, "spans")
	// No +: make 4.3 hands this recipe no jobserver (and -j2's pipe only
	// to recursive ones), so the pool's four workers are its only cap.
	mk := "all:\n\tPOOL_TEST_HELPER=jobservice \"$(SERVICE)\" -test.run='^$$'\n"
	if err := os.WriteFile(filepath.Join(dir, "Makefile"), []byte(mk), 0o644); err != nil {
		t.Fatal(err)
	}
	errs := runMake(t, dir, []string{"POOL_TEST_TASKS=4", "POOL_TEST_LOG=" + log}, "-j2")
	if !strings.Contains(errs, "pool: warning: ") || !strings.Contains(errs, "prefix the recipe with +") {
		t.Errorf("make's stderr %q, want the pool's warning", errs)
	}
	if _, jobs := spans.Peak(t, log); jobs != 4 {
		t.Errorf("%d tasks ran, want 4", jobs)
	}
}

// TestPoolUnderMakeKilledWorkerGivesTokenBack: a worker SIGKILLed while
// its task holds a token read from make costs make nothing: later, two
// tasks still run at once under make -j2, and make ends with all its
// tokens.
func TestPoolUnderMakeKilledWorkerGivesTokenBack(t *testing.T) {
	leakcheck.Check(t)
	dir := t.TempDir()
	mk := "all:\n\t+POOL_TEST_HELPER=jobkill \"$(SERVICE)\" -test.run='^$$'\n"
	if err := os.WriteFile(filepath.Join(dir, "Makefile"), []byte(mk), 0o644); err != nil {
		t.Fatal(err)
	}
	runMake(t, dir, []string{"POOL_TEST_DIR=" + dir}, "-j2")
}

// TestPoolBadJobserver: a MAKEFLAGS naming descriptors that are not open
// is a one-line warning, and the pool runs with its own cap.
func TestPoolBadJobserver(t *testing.T) {
	leakcheck.Check(t)
	log := filepath.Join(t.TempDir(), "spans")
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "POOL_TEST_HELPER=jobservice", "POOL_TEST_TASKS=2", "POOL_TEST_LOG="+log,
		"MAKEFLAGS= -j4 --jobserver-auth=97,98")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != 1 || !strings.HasPrefix(lines[0], "pool: warning: ") || !strings.Contains(lines[0], "running without it") {
		t.Errorf("output %q, want one warning line", out)
	}
	if _, jobs := spans.Peak(t, log); jobs != 2 {
		t.Errorf("%d tasks ran, want 2", jobs)
	}
}
