package pool_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/gob"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/poolrun/poolrun/internal/leakcheck"
	"github.com/poolrun/poolrun/pool"
	"github.com/poolrun/poolrun/semlock"
)

// The test binary is its own worker: TestMain calls pool.Dispatch first.
// Helper modes (env POOL_TEST_HELPER) turn it into a small service for
// the tests that need one: a parent to SIGKILL, a main without Dispatch.
func TestMain(m *testing.M) {
	if os.Getenv("POOL_TEST_HELPER") == "nodispatch" {
		noDispatchMain() // never calls Dispatch: its workers run this again
		return
	}
	pool.Dispatch()
	// Under -race a process sleeps 1 s at exit (TSan's atexit_sleep_ms):
	// workers inherit this, so that Close does not wait for that.
	os.Setenv("GORACE", strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
	switch os.Getenv("POOL_TEST_HELPER") {
	case "parent":
		parentMain()
		return
	case "jobservice":
		jobServiceMain()
	case "jobkill":
		jobKillMain()
	case "twopools":
		twoPoolsMain()
	}
	os.Exit(m.Run())
}

var (
	echo = pool.Define("echo", func(ctx context.Context, in []byte) ([]byte, error) { return in, nil })

	square = pool.Define("square", func(ctx context.Context, n int) (int, error) { return n * n, nil })

	failing = pool.Define("fail", func(ctx context.Context, msg string) (int, error) { return 0, errors.New(msg) })

	panicky = pool.Define("panic", func(ctx context.Context, msg string) (int, error) { panicHere(msg); return 0, nil })

	pid = pool.Define("pid", func(ctx context.Context, _ int) (int, error) { return os.Getpid(), nil })

	crash = pool.Define("crash", func(ctx context.Context, how string) (int, error) {
		switch how {
		case "kill":
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
			time.Sleep(time.Minute)
		case "exit":
			os.Exit(3)
		case "goroutine-panic":
			// A panic in a goroutine of the task's own, which the worker
			// cannot recover: the process dies (exit status 2).
			go panicHere("in a goroutine of the task")
			time.Sleep(time.Minute)
		}
		return 0, nil
	})

	// sleep sleeps ms milliseconds, or until its ctx is done.
	sleep = pool.Define("sleep", func(ctx context.Context, ms int) (int, error) {
		select {
		case <-time.After(time.Duration(ms) * time.Millisecond):
			return ms, nil
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	})

	// stubborn sleeps ms milliseconds whatever its ctx says.
	stubborn = pool.Define("stubborn", func(ctx context.Context, ms int) (int, error) {
		time.Sleep(time.Duration(ms) * time.Millisecond)
		return ms, nil
	})

	// window runs for ms milliseconds and says when (unix ns).
	window = pool.Define("window", func(ctx context.Context, ms int) ([2]int64, error) {
		start := time.Now().UnixNano()
		time.Sleep(time.Duration(ms) * time.Millisecond)
		return [2]int64{start, time.Now().UnixNano()}, nil
	})

	number = pool.Define("number", func(ctx context.Context, f float64) (float64, error) { return f, nil })

	initialized atomic.Value
	greeting    = pool.DefineInit("greet", func(ctx context.Context) error {
		initialized.Store("hello from " + strconv.Itoa(os.Getpid()))
		return nil
	})
	badInit = pool.DefineInit("bad-init", func(ctx context.Context) error {
		return errors.New("no database here")
	})
	greeted = pool.Define("greeted", func(ctx context.Context, _ int) (string, error) {
		s, _ := initialized.Load().(string)
		return s, nil
	})

	// locked adds 1 to the number in a file, under the pool mutex
	// "file" or without it, slowly enough that unlocked updates race.
	locked = pool.Define("locked", func(ctx context.Context, a struct {
		Path string
		Lock bool
	}) (int, error) {
		if a.Lock {
			mu, err := pool.Mutex(ctx, "file")
			if err != nil {
				return 0, err
			}
			if err := mu.Acquire(ctx); err != nil && !errors.Is(err, semlock.ErrOwnerDead) {
				return 0, err
			}
			defer mu.Release()
		}
		b, err := os.ReadFile(a.Path)
		if err != nil {
			return 0, err
		}
		n, _ := strconv.Atoi(strings.TrimSpace(string(b)))
		time.Sleep(time.Millisecond)
		return n + 1, os.WriteFile(a.Path, []byte(strconv.Itoa(n+1)), 0o600)
	})
)

//go:noinline
func panicHere(msg string) { panic(msg) }

func newPool(t *testing.T, opts ...pool.Option) *pool.Pool {
	t.Helper()
	p, err := pool.New(opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { p.Stop() })
	return p
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func alive(pid int) bool { return syscall.Kill(pid, 0) == nil }

// waitGone waits for the processes to be gone (generously: shared box).
func waitGone(t *testing.T, pids ...int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for _, p := range pids {
		for alive(p) && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if alive(p) {
			t.Errorf("process %d still alive", p)
		}
	}
}

func TestCallAndRawBytes(t *testing.T) {
	leakcheck.Check(t)
	p := newPool(t, pool.Workers(2))
	ctx := testCtx(t)
	got, err := square.Call(ctx, p, 7)
	if err != nil || got != 49 {
		t.Fatalf("square(7) = %d, %v", got, err)
	}
	raw := []byte{0, 1, 2, 255, '"'} // not JSON: passes through untouched
	b, err := echo.Call(ctx, p, raw)
	if err != nil || !slices.Equal(b, raw) {
		t.Fatalf("echo = %q, %v", b, err)
	}
	b, err = p.Submit(ctx, "echo", []byte("by name")).Get()
	if err != nil || string(b) != "by name" {
		t.Fatalf("Submit by name = %q, %v", b, err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if s := p.Stats(); s.Completed != 3 || s.Failed != 0 || s.Workers != 0 {
		t.Errorf("stats after close: %+v", s)
	}
}

func TestFuturesAndStats(t *testing.T) {
	leakcheck.Check(t)
	p := newPool(t, pool.Workers(2))
	ctx := testCtx(t)
	var fs []*pool.Future[int]
	for i := range 100 {
		fs = append(fs, square.Submit(ctx, p, i))
	}
	for i, f := range fs {
		<-f.Done()
		if v, err := f.Get(); err != nil || v != i*i {
			t.Fatalf("future %d = %d, %v", i, v, err)
		}
	}
	if _, err := failing.Call(ctx, p, "no luck"); err == nil || !errors.Is(err, pool.ErrRemote) || !strings.Contains(err.Error(), "no luck") {
		t.Fatalf("failing task: %v", err)
	}
	s := p.Stats()
	if s.Completed != 100 || s.Failed != 1 || s.Workers != 2 || s.Running != 0 || s.Queued != 0 || s.Restarts != 0 {
		t.Errorf("stats: %+v", s)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestPanicReturnsValueAndStack(t *testing.T) {
	leakcheck.Check(t)
	p := newPool(t, pool.Workers(1))
	ctx := testCtx(t)
	_, err := panicky.Call(ctx, p, "boom")
	var te *pool.TaskError
	if !errors.As(err, &te) || !errors.Is(err, pool.ErrPanic) {
		t.Fatalf("panic: %v", err)
	}
	if te.Msg != "boom" || !strings.Contains(te.Stack, "panicHere") || te.Task != "panic" || te.Worker == 0 {
		t.Errorf("panic error: %+v", te)
	}
	// The message says what happened, without the stack: that is in Stack.
	want := fmt.Sprintf(`pool: task "panic" #%d (worker pid %d): task panicked: boom`, te.Seq, te.Worker)
	if msg := err.Error(); msg != want || strings.Contains(msg, "panicHere") {
		t.Errorf("panic error's message %q, want %q (no stack)", msg, want)
	}
	// The worker survives a panic: same pid, no restart.
	if _, err := square.Call(ctx, p, 2); err != nil {
		t.Fatal(err)
	}
	if s := p.Stats(); s.Restarts != 0 {
		t.Errorf("restarts after a panic: %+v", s)
	}
	p.Close()
}

func TestWorkerDeathFailsOnlyItsTask(t *testing.T) {
	leakcheck.Check(t)
	for _, how := range []string{"kill", "exit", "goroutine-panic"} {
		t.Run(how, func(t *testing.T) {
			p := newPool(t, pool.Workers(2))
			ctx := testCtx(t)
			// Others in flight at the same time succeed.
			var fs []*pool.Future[int]
			for i := range 50 {
				fs = append(fs, square.Submit(ctx, p, i))
			}
			_, err := crash.Call(ctx, p, how)
			var te *pool.TaskError
			if !errors.As(err, &te) || !errors.Is(err, pool.ErrWorkerDied) {
				t.Fatalf("crash %s: %v", how, err)
			}
			want := map[string]string{"kill": "signal: killed", "exit": "exit status 3", "goroutine-panic": "exit status 2"}[how]
			msg := err.Error()
			if te.Worker == 0 || !strings.Contains(msg, fmt.Sprintf("worker pid %d", te.Worker)) ||
				!strings.Contains(msg, want) || !strings.Contains(msg, `"crash"`) {
				t.Errorf("error %q: want the worker pid, %q and the task", msg, want)
			}
			for i, f := range fs {
				if v, err := f.Get(); err != nil || v != i*i {
					t.Errorf("task %d beside the crash: %d, %v", i, v, err)
				}
			}
			// The pool goes on, with a replacement.
			for i := range 20 {
				if v, err := square.Call(ctx, p, i); err != nil || v != i*i {
					t.Fatalf("after crash: %d, %v", v, err)
				}
			}
			waitFor(t, func() bool { s := p.Stats(); return s.Workers == 2 && s.Restarts == 1 }, "a replacement worker")
			if err := p.Close(); err != nil {
				t.Fatal(err)
			}
			waitGone(t, te.Worker)
		})
	}
}

func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func TestKillIdleWorker(t *testing.T) {
	leakcheck.Check(t)
	p := newPool(t, pool.Workers(1))
	ctx := testCtx(t)
	w, err := pid.Call(ctx, p, 0)
	if err != nil {
		t.Fatal(err)
	}
	syscall.Kill(w, syscall.SIGKILL)
	waitFor(t, func() bool { return p.Stats().Restarts == 1 && p.Stats().Workers == 1 }, "replacement")
	w2, err := pid.Call(ctx, p, 0)
	if err != nil || w2 == w {
		t.Fatalf("after kill: pid %d (was %d), %v", w2, w, err)
	}
	if s := p.Stats(); s.Failed != 0 {
		t.Errorf("an idle worker's death failed a task: %+v", s)
	}
	p.Close()
}

func TestLimitSlotComesBackAfterCrash(t *testing.T) {
	leakcheck.Check(t)
	p := newPool(t, pool.Workers(2), pool.Limit(1))
	ctx := testCtx(t)
	if _, err := crash.Call(ctx, p, "kill"); !errors.Is(err, pool.ErrWorkerDied) {
		t.Fatalf("crash: %v", err)
	}
	// The dead worker held the only slot: the kernel's undo gave it back.
	for i := range 4 {
		if _, err := square.Call(ctx, p, i); err != nil {
			t.Fatalf("after crash with Limit(1): %v", err)
		}
	}
	p.Close()
}

func TestLimitCapsConcurrency(t *testing.T) {
	leakcheck.Check(t)
	p := newPool(t, pool.Workers(2), pool.Limit(1))
	ctx := testCtx(t)
	var fs []*pool.Future[[2]int64]
	for range 6 {
		fs = append(fs, window.Submit(ctx, p, 20))
	}
	checkNoOverlap(t, fs)
	p.Close()
}

// checkNoOverlap fails t if two of the window tasks ran at once.
func checkNoOverlap(t *testing.T, fs []*pool.Future[[2]int64]) {
	t.Helper()
	var ws [][2]int64
	for _, f := range fs {
		w, err := f.Get()
		if err != nil {
			t.Fatal(err)
		}
		ws = append(ws, w)
	}
	slices.SortFunc(ws, func(a, b [2]int64) int { return int(a[0] - b[0]) })
	for i := 1; i < len(ws); i++ {
		if ws[i][0] < ws[i-1][1] {
			t.Errorf("two tasks ran at once under a limit of 1: %v %v", ws[i-1], ws[i])
		}
	}
}

func TestSharedLimit(t *testing.T) {
	leakcheck.Check(t)
	name := fmt.Sprintf("pooltest-%d-%d", os.Getpid(), time.Now().UnixNano()%1e6)
	t.Cleanup(func() {
		if s, err := semlock.Open(name, semlock.Semaphore, 1, 1); err == nil {
			s.Remove()
		}
	})
	p1 := newPool(t, pool.Workers(1), pool.SharedLimit(name, 1))
	p2 := newPool(t, pool.Workers(1), pool.SharedLimit(name, 1))
	ctx := testCtx(t)
	var fs []*pool.Future[[2]int64]
	for range 3 {
		fs = append(fs, window.Submit(ctx, p1, 20), window.Submit(ctx, p2, 20))
	}
	checkNoOverlap(t, fs)
	p1.Close()
	p2.Close()
	s, err := semlock.Open(name, semlock.Semaphore, 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := s.Value(); v != 1 {
		t.Errorf("shared limit value after both pools closed: %d, want 1", v)
	}
}

func TestCancelCooperativeTask(t *testing.T) {
	leakcheck.Check(t)
	p := newPool(t, pool.Workers(1))
	ctx, cancel := context.WithCancel(testCtx(t))
	f := sleep.Submit(ctx, p, 60_000)
	waitFor(t, func() bool { return p.Stats().Running == 1 }, "the task to run")
	cancel()
	if _, err := f.Get(); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
	// It returned when told: the worker stays.
	if _, err := square.Call(testCtx(t), p, 3); err != nil {
		t.Fatal(err)
	}
	if s := p.Stats(); s.Restarts != 0 || s.Failed != 1 {
		t.Errorf("stats: %+v", s)
	}
	p.Close()
}

func TestTimeoutStopsStuckWorker(t *testing.T) {
	leakcheck.Check(t)
	p := newPool(t, pool.Workers(1), pool.Timeout(300*time.Millisecond),
		pool.CancelGrace(100*time.Millisecond), pool.WaitDelay(200*time.Millisecond))
	ctx := testCtx(t)
	w, err := pid.Call(ctx, p, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, err = stubborn.Call(ctx, p, 60_000)
	var te *pool.TaskError
	if !errors.Is(err, context.DeadlineExceeded) || !errors.As(err, &te) || te.Task != "stubborn" {
		t.Fatalf("stuck task: %v", err)
	}
	waitGone(t, w)
	waitFor(t, func() bool { return p.Stats().Restarts == 1 && p.Stats().Workers == 1 }, "replacement")
	if v, err := square.Call(ctx, p, 5); err != nil || v != 25 {
		t.Fatalf("after timeout: %d, %v", v, err)
	}
	p.Close()
}

func TestCancelQueuedTask(t *testing.T) {
	leakcheck.Check(t)
	p := newPool(t, pool.Workers(1), pool.Prefetch(1))
	ctx := testCtx(t)
	busy := sleep.Submit(ctx, p, 200)
	cctx, cancel := context.WithCancel(ctx)
	queued := square.Submit(cctx, p, 4)
	cancel()
	if _, err := queued.Get(); !errors.Is(err, context.Canceled) {
		t.Fatalf("queued cancelled: %v", err)
	}
	if _, err := busy.Get(); err != nil {
		t.Fatal(err)
	}
	if s := p.Stats(); s.Queued != 0 || s.Restarts != 0 {
		t.Errorf("stats: %+v", s)
	}
	p.Close()
}

// Every option reports an invalid value as an error from New that names
// it, and New then starts nothing; nil options are ignored.
func TestInvalidOptions(t *testing.T) {
	leakcheck.Check(t)
	for _, c := range []struct {
		opt  pool.Option
		want string
	}{
		{pool.Workers(0), "Workers(0)"},
		{pool.Limit(0), "Limit(0)"},
		{pool.Limit(semlock.MaxValue + 1), "Limit(32768)"},
		{pool.SharedLimit("bad name!", 2), `SharedLimit("bad name!")`},
		{pool.SharedLimit("ok-name", 0), `SharedLimit("ok-name", 0)`},
		{pool.MaxTasks(0), "MaxTasks(0)"},
		{pool.Init(pool.Initializer{}), "Init"},
		{pool.Timeout(0), "Timeout(0s)"},
		{pool.Mutexes("bad name!"), `Mutexes("bad name!")`},
		{pool.Prefetch(0), "Prefetch(0)"},
		{pool.Prefetch(257), "Prefetch(257)"},
		{pool.CancelGrace(-time.Second), "CancelGrace(-1s)"},
		{pool.WaitDelay(0), "WaitDelay(0s)"},
		{pool.WaitDelay(-time.Second), "WaitDelay(-1s)"},
		{pool.StartTimeout(0), "StartTimeout(0s)"},
	} {
		p, err := pool.New(pool.Workers(1), c.opt)
		if err == nil {
			p.Stop()
			t.Errorf("%s accepted", c.want)
			continue
		}
		if !strings.HasPrefix(err.Error(), "pool: "+c.want) {
			t.Errorf("%s: error %q, want it to start with %q", c.want, err, "pool: "+c.want)
		}
	}
	p := newPool(t, nil, pool.Workers(1), nil)
	ctx := testCtx(t)
	var got []int
	for r := range square.Map(ctx, p, slices.Values([]int{1, 2, 3}), nil) {
		if r.Err != nil {
			t.Fatal(r.Err)
		}
		got = append(got, r.Value)
	}
	if !slices.Equal(got, []int{1, 4, 9}) {
		t.Errorf("Map with a nil option: %v, want [1 4 9]", got)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
}

// Define panics on a nil codec, as on its other programmer errors, rather
// than at the first Submit.
func TestDefineNilCodec(t *testing.T) {
	defer func() {
		r := recover()
		if msg, _ := r.(string); !strings.Contains(msg, "WithCodec(nil)") {
			t.Errorf("Define with WithCodec(nil): recovered %v, want a panic naming WithCodec(nil)", r)
		}
	}()
	pool.Define("nil-codec", func(ctx context.Context, n int) (int, error) { return n, nil }, pool.WithCodec(nil))
}

func TestMisuse(t *testing.T) {
	leakcheck.Check(t)
	if _, err := pool.New(pool.Workers(0)); err == nil {
		t.Error("Workers(0) accepted")
	}
	if _, err := pool.New(pool.Workers(-1)); err == nil {
		t.Error("Workers(-1) accepted")
	}
	if _, err := pool.New(pool.MaxTasks(0)); err == nil {
		t.Error("MaxTasks(0) accepted")
	}
	if _, err := pool.New(pool.SharedLimit("bad name!", 2)); err == nil {
		t.Error("a bad shared limit name accepted")
	}
	p := newPool(t, pool.Workers(1))
	ctx := testCtx(t)
	if _, err := p.Submit(ctx, "no-such-task", nil).Get(); !errors.Is(err, pool.ErrUnknownTask) || !strings.Contains(err.Error(), "no-such-task") {
		t.Errorf("unknown task: %v", err)
	}
	if _, err := number.Call(ctx, p, math.NaN()); !errors.Is(err, pool.ErrEncode) || !strings.Contains(err.Error(), "encode input") {
		t.Errorf("NaN input: %v", err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := square.Call(ctx, p, 1); !errors.Is(err, pool.ErrClosed) {
		t.Errorf("Submit after Close: %v", err)
	}
	if err := p.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := pool.Mutex(ctx, "file"); !errors.Is(err, pool.ErrNotInTask) {
		t.Errorf("Mutex outside a task: %v", err)
	}
}

func TestCloseDrainsAndLeavesNothing(t *testing.T) {
	leakcheck.Check(t)
	p := newPool(t, pool.Workers(2), pool.Limit(2), pool.Mutexes("file"))
	ctx := testCtx(t)
	pids := map[int]bool{}
	for range 10 {
		w, err := pid.Call(ctx, p, 0)
		if err != nil {
			t.Fatal(err)
		}
		pids[w] = true
	}
	var fs []*pool.Future[int]
	for range 6 {
		fs = append(fs, sleep.Submit(ctx, p, 50))
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	for _, f := range fs {
		if _, err := f.Get(); err != nil {
			t.Errorf("task queued before Close: %v", err)
		}
	}
	for w := range pids {
		if alive(w) {
			t.Errorf("worker %d alive after Close", w)
		}
	}
}

func TestStopFailsPending(t *testing.T) {
	leakcheck.Check(t)
	p := newPool(t, pool.Workers(2), pool.WaitDelay(200*time.Millisecond))
	ctx := testCtx(t)
	var fs []*pool.Future[int]
	for range 100 {
		fs = append(fs, stubborn.Submit(ctx, p, 10_000))
	}
	waitFor(t, func() bool { return p.Stats().Running > 0 }, "tasks to start")
	if err := p.Stop(); err != nil {
		t.Fatal(err)
	}
	for _, f := range fs {
		if _, err := f.Get(); !errors.Is(err, pool.ErrStopped) {
			t.Fatalf("after Stop: %v", err)
		}
	}
	if s := p.Stats(); s.Workers != 0 {
		t.Errorf("workers after Stop: %+v", s)
	}
}

func TestMaxTasksRecyclesWorkers(t *testing.T) {
	leakcheck.Check(t)
	p := newPool(t, pool.Workers(1), pool.MaxTasks(2))
	ctx := testCtx(t)
	seen := map[int]int{}
	for range 6 {
		w, err := pid.Call(ctx, p, 0)
		if err != nil {
			t.Fatal(err)
		}
		seen[w]++
	}
	if len(seen) != 3 {
		t.Errorf("6 tasks with MaxTasks(2) ran in %d workers: %v", len(seen), seen)
	}
	for w, n := range seen {
		if n > 2 {
			t.Errorf("worker %d ran %d tasks", w, n)
		}
	}
	p.Close()
	if s := p.Stats(); s.Recycled < 2 || s.Restarts != 0 {
		t.Errorf("stats: %+v", s)
	}
}

func TestInitializer(t *testing.T) {
	leakcheck.Check(t)
	p := newPool(t, pool.Workers(2), pool.Init(greeting))
	ctx := testCtx(t)
	s, err := greeted.Call(ctx, p, 0)
	if err != nil || !strings.HasPrefix(s, "hello from ") {
		t.Fatalf("greeted = %q, %v", s, err)
	}
	p.Close()

	_, err = pool.New(pool.Workers(2), pool.Init(badInit))
	if !errors.Is(err, pool.ErrWorkerStart) || !strings.Contains(err.Error(), "no database here") {
		t.Fatalf("failing initializer: %v", err)
	}
}

func TestMutexSharedByWorkers(t *testing.T) {
	leakcheck.Check(t)
	p := newPool(t, pool.Workers(2), pool.Mutexes("file"))
	ctx := testCtx(t)
	path := t.TempDir() + "/n"
	os.WriteFile(path, []byte("0"), 0o600)
	type arg = struct {
		Path string
		Lock bool
	}
	const n = 40
	for r := range locked.Map(ctx, p, slices.Values(slices.Repeat([]arg{{path, true}}, n)), pool.Unordered()) {
		if r.Err != nil {
			t.Fatal(r.Err)
		}
	}
	b, _ := os.ReadFile(path)
	if string(b) != strconv.Itoa(n) {
		t.Errorf("counter under the pool mutex = %s, want %d", b, n)
	}
	p.Close()
}

func TestMapOrderedUnorderedBackPressure(t *testing.T) {
	leakcheck.Check(t)
	p := newPool(t, pool.Workers(2))
	ctx := testCtx(t)
	const n = 1000
	pulled := 0
	inputs := func(yield func(int) bool) {
		for i := range n {
			pulled++
			if !yield(i) {
				return
			}
		}
	}
	got := 0
	for r := range square.Map(ctx, p, inputs, pool.Window(8)) {
		if r.Err != nil || r.Index != got || r.Value != got*got {
			t.Fatalf("ordered result %d: %+v", got, r)
		}
		got++
		if pulled > got+8 {
			t.Fatalf("Map read %d inputs with %d results consumed and a window of 8", pulled, got)
		}
	}
	if got != n {
		t.Fatalf("%d results, want %d", got, n)
	}
	seen := make([]bool, n)
	for r := range square.Map(ctx, p, slices.Values(make([]int, n)), pool.Unordered()) {
		if r.Err != nil || seen[r.Index] {
			t.Fatalf("unordered result: %+v", r)
		}
		seen[r.Index] = true
	}
	if slices.Contains(seen, false) {
		t.Error("unordered Map missed inputs")
	}
	// Stopping early cancels the rest; the pool carries on.
	for r := range sleep.Map(ctx, p, slices.Values([]int{1, 10_000, 10_000, 10_000})) {
		if r.Err != nil {
			t.Fatal(r.Err)
		}
		break
	}
	if v, err := square.Call(ctx, p, 9); err != nil || v != 81 {
		t.Fatalf("after an early break: %d, %v", v, err)
	}
	p.Close()
}

func TestMapWithCrashes(t *testing.T) {
	leakcheck.Check(t)
	p := newPool(t, pool.Workers(2))
	ctx := testCtx(t)
	ins := []string{"ok", "kill", "ok", "ok", "exit", "ok"}
	var errs int
	for r := range crash.Map(ctx, p, slices.Values(ins)) {
		if (r.Err != nil) != (ins[r.Index] != "ok") {
			t.Errorf("input %d (%s): %v", r.Index, ins[r.Index], r.Err)
		}
		if r.Err != nil {
			errs++
		}
	}
	if errs != 2 {
		t.Errorf("%d errors, want 2", errs)
	}
	p.Close()
}

// parentMain is a service that starts a pool and waits to be killed.
func parentMain() {
	p, err := pool.New(pool.Workers(2), pool.Limit(1), pool.Mutexes("file"))
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	ctx := context.Background()
	var pids []string
	for range 10 {
		w, err := pid.Call(ctx, p, 0)
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		if !slices.Contains(pids, strconv.Itoa(w)) {
			pids = append(pids, strconv.Itoa(w))
		}
	}
	stubborn.Submit(ctx, p, 60_000) // a worker busy in a task, holding the limit's slot
	time.Sleep(100 * time.Millisecond)
	fmt.Println("workers", strings.Join(pids, " "))
	time.Sleep(time.Minute)
}

func TestParentDeathLeavesNothing(t *testing.T) {
	leakcheck.Check(t)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "POOL_TEST_HELPER=parent")
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	leakcheck.Track(cmd.Process.Pid)
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "workers ") {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("helper said %q, %v", line, err)
	}
	var pids []int
	for _, f := range strings.Fields(line)[1:] {
		n, _ := strconv.Atoi(f)
		leakcheck.Track(n)
		pids = append(pids, n)
	}
	cmd.Process.Kill()
	cmd.Wait()
	waitGone(t, pids...) // leakcheck then checks that the tracker removed the sets
}

// noDispatchMain is a service whose main forgot pool.Dispatch.
func noDispatchMain() {
	done := make(chan struct{})
	go func() {
		select {
		case <-done:
		case <-time.After(60 * time.Second):
			fmt.Println("hung")
			os.Exit(9)
		}
	}()
	p, err := pool.New(pool.Workers(1))
	close(done)
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	p.Close()
	fmt.Println("no error")
}

func TestBinaryWithoutDispatch(t *testing.T) {
	leakcheck.Check(t)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "POOL_TEST_HELPER=nodispatch")
	out, err := cmd.Output()
	if err == nil || !strings.Contains(string(out), "error:") || !strings.Contains(string(out), "Dispatch") {
		t.Fatalf("service without Dispatch: %v, output %q", err, out)
	}
	t.Logf("%s", out)
}

var registerLate sync.Once

var nanOut = pool.Define("nan-out", func(ctx context.Context, _ int) (float64, error) { return math.NaN(), nil })

func TestTaskRegisteredOnlyInParent(t *testing.T) {
	leakcheck.Check(t)
	// Registered here, after TestMain's Dispatch: the workers never run
	// this code, so they do not have it.
	registerLate.Do(func() {
		pool.Register("late", func(ctx context.Context, in []byte) ([]byte, error) { return in, nil })
	})
	p := newPool(t, pool.Workers(1))
	ctx := testCtx(t)
	_, err := p.Submit(ctx, "late", []byte("x")).Get()
	if !errors.Is(err, pool.ErrUnknownTask) || !strings.Contains(err.Error(), "not registered in the worker") {
		t.Fatalf("task registered after Dispatch: %v", err)
	}
	// The worker carries on.
	if _, err := square.Call(ctx, p, 3); err != nil {
		t.Fatal(err)
	}
	p.Close()
}

func TestOutputCodecFailureAndBigPayloads(t *testing.T) {
	leakcheck.Check(t)
	p := newPool(t, pool.Workers(2))
	ctx := testCtx(t)
	if _, err := nanOut.Call(ctx, p, 0); !errors.Is(err, pool.ErrRemote) || !strings.Contains(err.Error(), "encode output") {
		t.Errorf("output the codec cannot encode: %v", err)
	}
	big := make([]byte, 8<<20) // far more than a pipe holds
	for i := range big {
		big[i] = byte(i * 7)
	}
	var fs []*pool.Future[[]byte]
	for range 4 {
		fs = append(fs, echo.Submit(ctx, p, big))
	}
	for _, f := range fs {
		if b, err := f.Get(); err != nil || !slices.Equal(b, big) {
			t.Fatalf("8 MiB echo: %d bytes, %v", len(b), err)
		}
	}
	p.Close()
}

// TestChaos submits from several goroutines while workers are being
// SIGKILLed: every task ends, with its result or ErrWorkerDied, none
// hangs, and Close leaves nothing behind.
func TestChaos(t *testing.T) {
	leakcheck.Check(t)
	p := newPool(t, pool.Workers(2), pool.Limit(2))
	ctx := testCtx(t)
	stop := make(chan struct{})
	killed := make(chan int, 1)
	go func() { // 10 kills, 10 ms apart, while 4 goroutines submit
		defer close(stop)
		n := 0
		for deadline := time.Now().Add(10 * time.Second); n < 10 && time.Now().Before(deadline); {
			time.Sleep(10 * time.Millisecond)
			if w, err := pid.Call(ctx, p, 0); err == nil {
				syscall.Kill(w, syscall.SIGKILL)
				n++
			}
		}
		killed <- n
	}()
	errs := make(chan error, 4)
	var died, total atomic.Int64
	for g := range 4 {
		go func() {
			for {
				select {
				case <-stop:
					errs <- nil
					return
				default:
				}
				for r := range square.Map(ctx, p, slices.Values(slices.Repeat([]int{g}, 500)), pool.Window(64)) {
					total.Add(1)
					switch {
					case errors.Is(r.Err, pool.ErrWorkerDied):
						died.Add(1)
					case r.Err != nil:
						errs <- r.Err
						return
					case r.Value != g*g:
						errs <- fmt.Errorf("square(%d) = %d", g, r.Value)
						return
					}
				}
			}
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	n := <-killed
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	s := p.Stats()
	t.Logf("%d kills, %d of %d tasks lost to them; %+v", n, died.Load(), total.Load(), s)
	if died.Load() > int64(n) || s.Workers != 0 || s.Restarts != int64(n) {
		t.Errorf("%d kills lost %d tasks; stats: %+v", n, died.Load(), s)
	}
}

var pidThenSleep = pool.Define("pid-then-sleep", func(ctx context.Context, path string) (int, error) {
	os.WriteFile(path, []byte(strconv.Itoa(os.Getpid())), 0o600)
	<-ctx.Done()
	return 0, ctx.Err()
})

func TestWorkerTerminatedMidTask(t *testing.T) {
	leakcheck.Check(t)
	p := newPool(t, pool.Workers(1))
	ctx := testCtx(t)
	path := t.TempDir() + "/pid"
	f := pidThenSleep.Submit(ctx, p, path)
	var w int
	waitFor(t, func() bool { b, _ := os.ReadFile(path); w, _ = strconv.Atoi(string(b)); return w != 0 }, "the task to start")
	syscall.Kill(w, syscall.SIGTERM)
	if _, err := f.Get(); !errors.Is(err, pool.ErrWorkerDied) || errors.Is(err, context.Canceled) {
		t.Fatalf("task of a SIGTERMed worker: %v", err)
	}
	if v, err := square.Call(ctx, p, 6); err != nil || v != 36 {
		t.Fatalf("after SIGTERM: %d, %v", v, err)
	}
	p.Close()
}

// TestNoWaitBehindSlowTask: tasks given ahead to a worker that is busy
// with a slow one are taken back for an idle worker.
func TestNoWaitBehindSlowTask(t *testing.T) {
	leakcheck.Check(t)
	p := newPool(t, pool.Workers(2))
	ctx := testCtx(t)
	// Many short tasks first: the pool then gives workers many ahead.
	for r := range square.Map(ctx, p, slices.Values(make([]int, 2000)), pool.Unordered()) {
		if r.Err != nil {
			t.Fatal(r.Err)
		}
	}
	slow := stubborn.Submit(ctx, p, 2000)
	var fs []*pool.Future[int]
	for i := range 50 {
		fs = append(fs, square.Submit(ctx, p, i))
	}
	for i, f := range fs {
		if v, err := f.Get(); err != nil || v != i*i {
			t.Fatalf("short task %d: %d, %v", i, v, err)
		}
	}
	select {
	case <-slow.Done():
		t.Error("the short tasks waited for the slow one")
	default:
	}
	if _, err := slow.Get(); err != nil {
		t.Fatal(err)
	}
	p.Close()
}

func TestTimeoutCountsFromStart(t *testing.T) {
	leakcheck.Check(t)
	p := newPool(t, pool.Workers(1), pool.Prefetch(1), pool.Timeout(700*time.Millisecond))
	ctx := testCtx(t)
	// Three tasks of 450 ms through one worker: the last waits 900 ms in
	// the queue, longer than the timeout, and still runs.
	var fs []*pool.Future[int]
	for range 3 {
		fs = append(fs, sleep.Submit(ctx, p, 450))
	}
	for i, f := range fs {
		if _, err := f.Get(); err != nil {
			t.Fatalf("task %d: %v", i, err)
		}
	}
	// A task that honours its ctx sees the deadline in the worker and
	// returns: the worker stays.
	if _, err := sleep.Call(ctx, p, 60_000); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("over the timeout: %v", err)
	}
	if _, err := square.Call(ctx, p, 2); err != nil {
		t.Fatal(err)
	}
	if s := p.Stats(); s.Restarts != 0 {
		t.Errorf("a task that honoured its deadline cost a restart: %+v", s)
	}
	p.Close()
}

// lockThen takes the pool mutex "file", then dies holding it ("die") or
// reports whether its last holder had died ("report").
var lockThen = pool.Define("lock-then", func(ctx context.Context, what string) (string, error) {
	mu, err := pool.Mutex(ctx, "file")
	if err != nil {
		return "", err
	}
	err = mu.Acquire(ctx)
	if what == "die" {
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
		time.Sleep(time.Minute)
	}
	defer mu.Release()
	switch {
	case errors.Is(err, semlock.ErrOwnerDead):
		return "owner died", nil
	case err != nil:
		return "", err
	}
	return "ok", nil
})

func TestMutexHolderDies(t *testing.T) {
	leakcheck.Check(t)
	p := newPool(t, pool.Workers(2), pool.Mutexes("file"))
	ctx := testCtx(t)
	if _, err := lockThen.Call(ctx, p, "die"); !errors.Is(err, pool.ErrWorkerDied) {
		t.Fatalf("holder killed: %v", err)
	}
	if s, err := lockThen.Call(ctx, p, "report"); err != nil || s != "owner died" {
		t.Fatalf("next holder: %q, %v", s, err)
	}
	if s, err := lockThen.Call(ctx, p, "report"); err != nil || s != "ok" {
		t.Fatalf("after recovery: %q, %v", s, err)
	}
	p.Close()
}

func TestMapEdges(t *testing.T) {
	leakcheck.Check(t)
	p := newPool(t, pool.Workers(2))
	ctx := testCtx(t)
	for r := range square.Map(ctx, p, slices.Values([]int(nil))) {
		t.Fatalf("a result from no inputs: %+v", r)
	}
	// An endless input and a ctx that ends: Map ends too.
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	endless := func(yield func(int) bool) {
		for i := 0; yield(i); i++ {
		}
	}
	n, failed := 0, 0
	for r := range square.Map(cctx, p, endless, pool.Window(16)) {
		if n++; n == 100 {
			cancel()
		}
		if r.Err != nil {
			if !errors.Is(r.Err, context.Canceled) {
				t.Fatalf("after cancel: %v", r.Err)
			}
			failed++
		}
	}
	if n < 100 || n > 100+16 {
		t.Errorf("%d results from an endless input cancelled after 100 (window 16)", n)
	}
	p.Close()
	// After Close: one ErrClosed, then the end.
	n = 0
	for r := range square.Map(ctx, p, endless) {
		if n++; !errors.Is(r.Err, pool.ErrClosed) || n > 1 {
			t.Fatalf("Map on a closed pool: result %d: %v", n, r.Err)
		}
	}
}

func TestStopWithManyQueued(t *testing.T) {
	leakcheck.Check(t)
	p := newPool(t, pool.Workers(2), pool.WaitDelay(200*time.Millisecond))
	ctx := testCtx(t)
	fs := make([]*pool.Future[int], 10_000)
	for i := range fs {
		fs[i] = sleep.Submit(ctx, p, 10_000)
	}
	if err := p.Stop(); err != nil {
		t.Fatal(err)
	}
	for _, f := range fs {
		if _, err := f.Get(); !errors.Is(err, pool.ErrStopped) {
			t.Fatalf("queued when stopped: %v", err)
		}
	}
}

// gobCodec is a Codec other than JSON.
type gobCodec struct{}

func (gobCodec) Marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	err := gob.NewEncoder(&b).Encode(v)
	return b.Bytes(), err
}

func (gobCodec) Unmarshal(data []byte, v any) error {
	return gob.NewDecoder(bytes.NewReader(data)).Decode(v)
}

type point struct{ X, Y int }

var swap = pool.Define("swap", func(ctx context.Context, p point) (point, error) {
	return point{p.Y, p.X}, nil
}, pool.WithCodec(gobCodec{}))

func TestCustomCodec(t *testing.T) {
	leakcheck.Check(t)
	p := newPool(t, pool.Workers(1))
	got, err := swap.Call(testCtx(t), p, point{1, 2})
	if err != nil || got != (point{2, 1}) {
		t.Fatalf("swap = %+v, %v", got, err)
	}
	p.Close()
}

// nested runs a pool of its own inside a worker.
var nested = pool.Define("nested", func(ctx context.Context, n int) (int, error) {
	p, err := pool.New(pool.Workers(1), pool.Limit(1))
	if err != nil {
		return 0, err
	}
	defer p.Close()
	return square.Call(ctx, p, n)
})

func TestNestedPool(t *testing.T) {
	leakcheck.Check(t)
	p := newPool(t, pool.Workers(1))
	if v, err := nested.Call(testCtx(t), p, 5); err != nil || v != 25 {
		t.Fatalf("a pool inside a task: %d, %v", v, err)
	}
	p.Close()
}

var goexit = pool.Define("goexit", func(ctx context.Context, _ int) (int, error) {
	runtime.Goexit()
	return 0, nil
})

func TestTaskCallsGoexit(t *testing.T) {
	leakcheck.Check(t)
	p := newPool(t, pool.Workers(1))
	ctx := testCtx(t)
	_, err := goexit.Call(ctx, p, 0)
	if !errors.Is(err, pool.ErrPanic) || !strings.Contains(err.Error(), "Goexit") {
		t.Fatalf("runtime.Goexit in a task: %v", err)
	}
	// The stack is in Stack, not in the message.
	var te *pool.TaskError
	if !errors.As(err, &te) {
		t.Fatalf("runtime.Goexit in a task: %T, want a *pool.TaskError", err)
	}
	if !strings.Contains(te.Stack, "runtime.Goexit") || strings.Contains(err.Error(), "runtime.Goexit(") {
		t.Errorf("runtime.Goexit in a task: message %q, stack %q: want the stack in Stack only", err, te.Stack)
	}
	if v, err := square.Call(ctx, p, 4); err != nil || v != 16 {
		t.Fatalf("after Goexit: %d, %v", v, err)
	}
	p.Close()
}
