package spawn_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/poolrun/poolrun/internal/procstart"
	"github.com/poolrun/poolrun/rebuild"
	"github.com/poolrun/poolrun/semlock"
	"github.com/poolrun/poolrun/spawn"
)

// Modes of the test binary besides running the tests, chosen by env.
const (
	bareEnv       = "SPAWN_TEST_BARE"       // exit at once (the bare fork/exec benchmark)
	noDispatchEnv = "SPAWN_TEST_NODISPATCH" // a main that never calls Dispatch
	setUserEnv    = "SPAWN_TEST_SETUSER"    // a plain process holding a shared set (keep_test.go)
	ttyEnv        = "SPAWN_TEST_TTY"        // a process on a terminal starting a child that uses it (tty_test.go)
	testRootEnv   = "SPAWN_TEST_ROOT"       // the pid of the process running the tests, set for every helper
)

func TestMain(m *testing.M) {
	if os.Getenv(testRootEnv) == "" {
		os.Setenv(testRootEnv, strconv.Itoa(os.Getpid())) // the helpers inherit it
	}
	if os.Getenv(bareEnv) != "" {
		os.Stdout.Write([]byte{'.'}) // "started", for the benchmark
		os.Exit(0)
	}
	if os.Getenv(noDispatchEnv) != "" {
		noDispatchMain()
		return
	}
	if mode := os.Getenv(setUserEnv); mode != "" {
		setUserMain(mode)
		return
	}
	if mode := os.Getenv(ttyEnv); mode != "" {
		ttyMain(mode)
		return
	}
	if raceEnabled && os.Getenv("GORACE") == "" {
		// A race-enabled binary sleeps 1 s at exit by default; the
		// helpers this test binary re-execs need not.
		os.Setenv("GORACE", "atexit_sleep_ms=0")
	}
	spawn.Register("share", shareRole)
	spawn.Register("attach", attachRole)
	spawn.Register("sleeper", sleeperRole)
	spawn.Register("parent", parentRole)
	spawn.Register("stubborn", stubbornRole)
	spawn.Register("logger", loggerRole)
	spawn.Register("retrack", retrackRole)
	spawn.Register("leaves", leavesRole)
	spawn.Register("event-waiter", eventWaiterRole)
	spawn.Register("keeper-parent", keeperParentRole)
	spawn.Register("keeper-mid", keeperMidRole)
	spawn.Register("guarded", guardedRole)
	spawn.Register("fail", func(context.Context) error { return fmt.Errorf("failed on purpose") })
	spawn.Dispatch()
	os.Exit(m.Run())
}

// noDispatchMain is a main that forgot spawn.Dispatch and tries to start
// a worker: it must get ErrNoDispatch, not a copy of itself.
func noDispatchMain() {
	err := spawn.Worker(context.Background(), "sleeper").Start()
	fmt.Printf("main ran; worker: %v\n", err)
	os.Exit(0)
}

// shareRole reports what it sees of the parent's sets and changes them.
func shareRole(ctx context.Context) error {
	set, err := rebuild.FromEnv()
	if err != nil {
		return err
	}
	defer set.Close()
	slots, _ := set.Lookup("slots")
	lock, _ := set.Lookup("lock")
	if slots == nil || lock == nil {
		return fmt.Errorf("got %v", set.Names())
	}
	v, err := slots.Value()
	if err != nil {
		return err
	}
	took, err := lock.TryAcquire()
	if err != nil {
		return err
	}
	for i := 0; i < 2; i++ {
		if err := slots.Acquire(ctx); err != nil {
			return err
		}
	}
	fmt.Printf("role=%s value=%d lock-taken=%v\n", spawn.Role(), v, took)
	return nil
}

// attachRole reattaches its handles, says so on stdout and exits: the
// benchmark's worker.
func attachRole(ctx context.Context) error {
	set, err := rebuild.FromEnv()
	if err != nil {
		return err
	}
	os.Stdout.Write([]byte{'.'})
	return set.Close()
}

// sleeperRole attaches, starts a grandchild in its process group, prints
// the grandchild's pid and waits to be killed.
func sleeperRole(ctx context.Context) error {
	set, err := rebuild.FromEnv()
	if err != nil {
		return err
	}
	defer set.Close()
	gc := exec.Command("sleep", "1000")
	if err := gc.Start(); err != nil {
		return err
	}
	fmt.Println(gc.Process.Pid)
	<-ctx.Done()
	return nil
}

// stubbornRole ignores SIGTERM, starts a grandchild that does too, and
// prints its pid.
func stubbornRole(ctx context.Context) error {
	signal.Ignore(syscall.SIGTERM)
	gc := exec.Command("sh", "-c", "trap '' TERM; while :; do sleep 1; done")
	if err := gc.Start(); err != nil {
		return err
	}
	fmt.Println(gc.Process.Pid)
	for {
		time.Sleep(time.Hour)
	}
}

// loggerRole writes to stderr what the parent's logger must sort out.
func loggerRole(ctx context.Context) error {
	l := hclog.New(&hclog.LoggerOptions{Output: os.Stderr, JSONFormat: true, Level: hclog.Trace})
	l.Warn("disk almost full", "free", 3)
	l.Debug("detail")
	fmt.Fprintln(os.Stderr, "plain line")
	fmt.Fprint(os.Stderr, "last words without newline")
	return nil
}

// parentRole creates 3 tracked private sets and 4 sleeper workers that
// share them, prints what it made, and waits to be killed.
func parentRole(ctx context.Context) error {
	locks := map[string]*semlock.SemLock{}
	var ids []string
	for i := 0; i < 3; i++ {
		s, err := spawn.NewTracked(semlock.Semaphore, 1, 1)
		if err != nil {
			return err
		}
		locks[fmt.Sprint("s", i)] = s
		ids = append(ids, strconv.Itoa(s.ID()))
	}
	type result struct {
		pid, gc int
		err     error
	}
	results := make(chan result)
	for i := 0; i < 4; i++ {
		go func() {
			r, w, err := os.Pipe()
			if err != nil {
				results <- result{err: err}
				return
			}
			defer r.Close()
			c := spawn.Worker(ctx, "sleeper")
			c.Locks, c.Stdout, c.Stderr = locks, w, os.Stderr
			err = c.Start()
			w.Close()
			if err != nil {
				results <- result{err: err}
				return
			}
			line, err := bufio.NewReader(r).ReadString('\n')
			gc, _ := strconv.Atoi(strings.TrimSpace(line))
			results <- result{c.Process.Pid, gc, err}
		}()
	}
	var pids []string
	for i := 0; i < 4; i++ {
		r := <-results
		if r.err != nil {
			return r.err
		}
		pids = append(pids, strconv.Itoa(r.pid), strconv.Itoa(r.gc))
	}
	trackers, err := bothTrackers()
	if err != nil {
		return err
	}
	fmt.Printf("trackers=%s sets=%s pids=%s\n", joinInts(trackers), strings.Join(ids, ","), strings.Join(pids, ","))
	<-ctx.Done()
	return nil
}

// bothTrackers waits until this process's two trackers run (the second
// is started in the background after the first Track) and returns their
// pids.
func bothTrackers() ([]int, error) {
	deadline := time.Now().Add(30 * time.Second)
	for {
		pids := spawn.TrackerPids()
		if len(pids) == 2 {
			return pids, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("trackers %v, want two, 30 s after the first Track", pids)
		}
		time.Sleep(time.Millisecond)
	}
}

// joinInts writes ns as "1,2,3".
func joinInts(ns []int) string {
	s := make([]string, len(ns))
	for i, n := range ns {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ",")
}

// ints parses "1,2,3".
func ints(t testing.TB, s string) []int {
	t.Helper()
	var ns []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(f)
		if err != nil {
			t.Fatalf("%q: not a list of numbers", s)
		}
		ns = append(ns, n)
	}
	return ns
}

// hclogLines parses JSON log output into its records.
func hclogLines(t *testing.T, out string) []map[string]any {
	t.Helper()
	var recs []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		recs = append(recs, m)
	}
	return recs
}

// gone waits until none of pids runs (zombies count as gone), up to limit.
func gone(pids []int, limit time.Duration) (time.Duration, bool) {
	start := time.Now()
	for {
		alive := false
		for _, p := range pids {
			if _, ok := procstart.Start(p); ok {
				alive = true
				break
			}
		}
		if !alive {
			return time.Since(start), true
		}
		if time.Since(start) > limit {
			return time.Since(start), false
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// kernelSets reads the semids in the kernel's list.
func kernelSets(t testing.TB) map[int]bool {
	b, err := os.ReadFile("/proc/sysvipc/sem")
	if err != nil {
		t.Skipf("no /proc/sysvipc/sem: %v", err)
	}
	ids := map[int]bool{}
	for _, line := range strings.Split(string(b), "\n")[1:] {
		fs := strings.Fields(line)
		if len(fs) > 1 {
			if id, err := strconv.Atoi(fs[1]); err == nil {
				ids[id] = true
			}
		}
	}
	return ids
}

// retrackRole tracks a set, kills both its trackers, waits for a
// replacement (which must learn of the first set), tracks a second set,
// prints what it has and waits to be killed.
func retrackRole(ctx context.Context) error {
	a, err := spawn.NewTracked(semlock.Semaphore, 1, 1)
	if err != nil {
		return err
	}
	old, err := bothTrackers()
	if err != nil {
		return err
	}
	for _, p := range old {
		syscall.Kill(p, syscall.SIGKILL)
	}
	for p := spawn.TrackerPid(); p == 0 || slices.Contains(old, p); p = spawn.TrackerPid() {
		time.Sleep(time.Millisecond)
	}
	b, err := spawn.NewTracked(semlock.Semaphore, 1, 1)
	if err != nil {
		return err
	}
	fmt.Printf("tracker=%d sets=%d,%d old=%s\n", spawn.TrackerPid(), a.ID(), b.ID(), joinInts(old))
	<-ctx.Done()
	return nil
}

// leavesRole starts a grandchild that ignores SIGTERM (and prints its pid
// once it does) and returns when told to stop, leaving it behind.
func leavesRole(ctx context.Context) error {
	gc := exec.Command("sh", "-c", "trap '' TERM; echo $$; while :; do sleep 1; done")
	gc.Stdout = os.Stdout
	if err := gc.Start(); err != nil {
		return err
	}
	<-ctx.Done()
	return nil
}

// eventWaiterRole waits for the event the parent shared as "go", then
// says so.
func eventWaiterRole(ctx context.Context) error {
	set, err := rebuild.FromEnv()
	if err != nil {
		return err
	}
	defer set.Close()
	s, ok := set.Lookup("go")
	if !ok {
		return fmt.Errorf("no event in %v", set.Names())
	}
	ev, err := semlock.AttachEvent(s.Handle())
	if err != nil {
		return err
	}
	fmt.Println("waiting")
	if err := ev.Wait(ctx); err != nil {
		return err
	}
	fmt.Println("set")
	return nil
}
