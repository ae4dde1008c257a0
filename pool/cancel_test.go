package pool_test

import (
	"context"
	"errors"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/poolrun/poolrun/internal/leakcheck"
	"github.com/poolrun/poolrun/pool"
)

// gate runs until the file at path exists, whatever its ctx says.
var gate = pool.Define("gate", func(ctx context.Context, path string) (int, error) {
	for {
		if _, err := os.Stat(path); err == nil {
			return os.Getpid(), nil
		}
		time.Sleep(5 * time.Millisecond)
	}
})

// stuckAt writes its pid to the file at path, then sleeps a minute,
// whatever its ctx says.
var stuckAt = pool.Define("stuck-at", func(ctx context.Context, path string) (int, error) {
	if err := os.WriteFile(path, []byte(strconv.Itoa(os.Getpid())), 0o600); err != nil {
		return 0, err
	}
	time.Sleep(time.Minute)
	return 0, nil
})

// TestCancelPrefetchedTask: cancelling a task given ahead to a worker,
// not started, answers it at once and costs the task the worker runs
// nothing: no stop, no restart.
func TestCancelPrefetchedTask(t *testing.T) {
	leakcheck.Check(t)
	const grace = 200 * time.Millisecond
	p := newPool(t, pool.Workers(1), pool.Prefetch(4), pool.CancelGrace(grace),
		pool.WaitDelay(200*time.Millisecond))
	ctx := testCtx(t)
	open := t.TempDir() + "/open"
	long := gate.Submit(ctx, p, open)
	waitFor(t, func() bool { return p.Stats().Running == 1 }, "the long task to be sent")
	cctx, cancel := context.WithCancel(ctx)
	short := sleep.Submit(cctx, p, 1)
	waitFor(t, func() bool { return p.Stats().Running == 2 }, "the short task to be sent ahead")
	cancel()
	if _, err := short.Get(); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled prefetched task: %v", err)
	}
	// The worker answers the cancelled task while the long one still
	// runs (it cannot end before the gate opens)...
	waitFor(t, func() bool { return p.Stats().Running == 1 }, "the worker to answer the cancelled task")
	// ... and is not stopped for it once CancelGrace has passed.
	time.Sleep(3 * grace)
	if err := os.WriteFile(open, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := long.Get(); err != nil {
		t.Fatalf("the running task, innocent: %v", err)
	}
	if v, err := square.Call(ctx, p, 3); err != nil || v != 9 {
		t.Fatalf("after: %d, %v", v, err)
	}
	if s := p.Stats(); s.Restarts != 0 || s.Failed != 1 || s.Completed != 2 {
		t.Errorf("stats: %+v", s)
	}
	p.Close()
}

// TestMapBreakWithPrefetched: breaking out of a Map whose tasks were
// given ahead, deep, to workers cancels them all without stopping a
// worker or failing a task of another submitter that runs meanwhile.
func TestMapBreakWithPrefetched(t *testing.T) {
	leakcheck.Check(t)
	const grace = 200 * time.Millisecond
	p := newPool(t, pool.Workers(2), pool.CancelGrace(grace), pool.WaitDelay(200*time.Millisecond))
	ctx := testCtx(t)
	// Many short tasks first: the pool then gives workers many ahead.
	for r := range square.Map(ctx, p, slices.Values(make([]int, 2000)), pool.Unordered()) {
		if r.Err != nil {
			t.Fatal(r.Err)
		}
	}
	open := t.TempDir() + "/open"
	other := gate.Submit(ctx, p, open) // another submitter's task, running throughout
	waitFor(t, func() bool { return p.Stats().Running == 1 }, "the other task to be sent")
	n := 0
	for r := range sleep.Map(ctx, p, slices.Values(slices.Repeat([]int{20}, 3000)), pool.Unordered()) {
		if r.Err != nil {
			t.Fatal(r.Err)
		}
		if n++; n == 5 {
			if s := p.Stats(); s.Running < 10 {
				t.Logf("only %d tasks in flight at the break: %+v", s.Running, s)
			}
			break
		}
	}
	// Every cancelled task is answered, the other task still runs.
	waitFor(t, func() bool { s := p.Stats(); return s.Running == 1 && s.Queued == 0 }, "the cancelled tasks to be answered")
	time.Sleep(3 * grace) // past CancelGrace: no worker is stopped
	if err := os.WriteFile(open, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := other.Get(); err != nil {
		t.Fatalf("the other submitter's task: %v", err)
	}
	for i := range 10 {
		if v, err := square.Call(ctx, p, i); err != nil || v != i*i {
			t.Fatalf("after the break: %d, %v", v, err)
		}
	}
	if s := p.Stats(); s.Restarts != 0 || s.Workers != 2 {
		t.Errorf("stats: %+v", s)
	}
	p.Close()
}

// TestStuckCancelledTaskWithTasksBehind: a cancelled task that ignores
// its ctx past CancelGrace costs its worker (stopped, replaced) but not
// the tasks given to it ahead: they run elsewhere and succeed.
func TestStuckCancelledTaskWithTasksBehind(t *testing.T) {
	leakcheck.Check(t)
	p := newPool(t, pool.Workers(1), pool.Prefetch(8), pool.CancelGrace(100*time.Millisecond),
		pool.WaitDelay(300*time.Millisecond))
	ctx := testCtx(t)
	path := t.TempDir() + "/pid"
	cctx, cancel := context.WithCancel(ctx)
	stuck := stuckAt.Submit(cctx, p, path)
	var behind []*pool.Future[int]
	for i := range 5 {
		behind = append(behind, square.Submit(ctx, p, i))
	}
	var w int
	waitFor(t, func() bool { b, _ := os.ReadFile(path); w, _ = strconv.Atoi(string(b)); return w != 0 }, "the stuck task to start")
	if s := p.Stats(); s.Running != 6 {
		t.Fatalf("tasks given to the worker: %+v, want 6", s)
	}
	cancel()
	if _, err := stuck.Get(); !errors.Is(err, context.Canceled) {
		t.Fatalf("stuck task: %v", err)
	}
	for i, f := range behind {
		if v, err := f.Get(); err != nil || v != i*i {
			t.Errorf("task %d behind the stuck one: %d, %v", i, v, err)
		}
	}
	waitGone(t, w)
	if s := p.Stats(); s.Restarts != 1 || s.Failed != 1 {
		t.Errorf("stats: %+v", s)
	}
	p.Close()
}

// TestMapCtxCancelWithPrefetched: a Map whose ctx ends while its tasks
// are given ahead, deep, to a worker that runs another submitter's task:
// they are answered at once, that task and the worker are unharmed.
func TestMapCtxCancelWithPrefetched(t *testing.T) {
	leakcheck.Check(t)
	const grace = 200 * time.Millisecond
	p := newPool(t, pool.Workers(1), pool.Prefetch(64), pool.CancelGrace(grace), pool.WaitDelay(200*time.Millisecond))
	ctx := testCtx(t)
	open := t.TempDir() + "/open"
	other := gate.Submit(ctx, p, open)
	mctx, cancel := context.WithCancel(ctx)
	go func() { // once the worker holds 63 of the Map's tasks behind the other one
		for deadline := time.Now().Add(20 * time.Second); p.Stats().Running < 64 && time.Now().Before(deadline); {
			time.Sleep(time.Millisecond)
		}
		cancel()
	}()
	n := 0
	for r := range square.Map(mctx, p, slices.Values(make([]int, 500))) {
		if !errors.Is(r.Err, context.Canceled) {
			t.Fatalf("result %d after the Map's ctx ended: %+v", n, r)
		}
		n++
	}
	if n == 0 {
		t.Fatal("no results")
	}
	waitFor(t, func() bool { s := p.Stats(); return s.Running == 1 && s.Queued == 0 }, "the cancelled tasks to be answered")
	time.Sleep(3 * grace)
	if err := os.WriteFile(open, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := other.Get(); err != nil {
		t.Fatalf("the other submitter's task: %v", err)
	}
	if s := p.Stats(); s.Restarts != 0 {
		t.Errorf("stats: %+v", s)
	}
	p.Close()
}

// TestTimeoutWithPrefetched: the Timeout clock of a task given ahead
// starts when it runs, not while it waits in its worker behind another.
func TestTimeoutWithPrefetched(t *testing.T) {
	leakcheck.Check(t)
	p := newPool(t, pool.Workers(1), pool.Prefetch(5), pool.Timeout(2*time.Second),
		pool.CancelGrace(100*time.Millisecond), pool.WaitDelay(200*time.Millisecond))
	ctx := testCtx(t)
	var fs []*pool.Future[int]
	for range 5 { // the last waits 4 × 700 ms behind the others, in the worker
		fs = append(fs, stubborn.Submit(ctx, p, 700))
	}
	for i, f := range fs {
		if _, err := f.Get(); err != nil {
			t.Errorf("task %d: %v", i, err)
		}
	}
	if s := p.Stats(); s.Restarts != 0 {
		t.Errorf("stats: %+v", s)
	}
	p.Close()
}
