package e2e

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
	"syscall"
	"testing"
	"time"

	"github.com/poolrun/poolrun/etcd/internal/etcdtest"
	"github.com/poolrun/poolrun/pool"
)

// Tests of package pool with an etcd SharedLimit: the test binary is the
// service (its TestMain calls pool.Dispatch), and runs as one more
// process (E2E_HELPER=pool) where two services must share a cap.

// countTask runs while it has a file in dir/run, counts the files there
// (more than max: dir/over gets the count) and leaves a mark in dir/ran.
var countTask = pool.Define("count", func(ctx context.Context, a struct {
	Dir string
	Max int
	ID  string
}) (int, error) {
	f := filepath.Join(a.Dir, "run", strconv.Itoa(os.Getpid()))
	if err := os.WriteFile(f, nil, 0o644); err != nil {
		return 0, err
	}
	defer os.Remove(f)
	if m, _ := filepath.Glob(filepath.Join(a.Dir, "run", "*")); len(m) > a.Max {
		os.WriteFile(filepath.Join(a.Dir, "over", a.ID), []byte(strconv.Itoa(len(m))), 0o644)
	}
	time.Sleep(20 * time.Millisecond)
	return 0, os.WriteFile(filepath.Join(a.Dir, "ran", a.ID), nil, 0o644)
})

// pidTask writes its worker's pid to path, then sleeps a minute, unless
// its ctx ends first.
var pidTask = pool.Define("pid-then-sleep", func(ctx context.Context, path string) (int, error) {
	if err := os.WriteFile(path, []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		return 0, err
	}
	select {
	case <-time.After(time.Minute):
	case <-ctx.Done():
	}
	return 0, nil
})

// childTask starts a sleep 60, writes its pid to path, and waits for it
// (or its ctx).
var childTask = pool.Define("child-then-sleep", func(ctx context.Context, path string) (int, error) {
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	if err := os.WriteFile(path, []byte(strconv.Itoa(cmd.Process.Pid)), 0o644); err != nil {
		return 0, err
	}
	go func() { <-ctx.Done(); cmd.Process.Kill() }()
	cmd.Wait()
	return 0, nil
})

// killSelf SIGKILLs its own worker.
var killSelf = pool.Define("kill-self", func(ctx context.Context, _ int) (int, error) {
	syscall.Kill(os.Getpid(), syscall.SIGKILL)
	select {}
})

// poolServiceMain is one service: a pool of four workers on the shared
// limit $E2E_URL (3 slots) running eight count tasks named $E2E_NAME-i.
func poolServiceMain() {
	p, err := pool.New(pool.Workers(4), pool.SharedLimit(os.Getenv("E2E_URL"), 3))
	if err != nil {
		fmt.Fprintln(os.Stderr, "service:", err)
		os.Exit(1)
	}
	var wg sync.WaitGroup
	status := 0
	var mu sync.Mutex
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a := struct {
				Dir string
				Max int
				ID  string
			}{os.Getenv("E2E_DIR"), 3, os.Getenv("E2E_NAME") + "-" + strconv.Itoa(i)}
			if _, err := countTask.Call(context.Background(), p, a); err != nil {
				mu.Lock()
				fmt.Fprintln(os.Stderr, "service:", err)
				status = 1
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if err := p.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "service:", err)
		status = 1
	}
	os.Exit(status)
}

func helperEnv(t *testing.T) {
	t.Helper()
	t.Setenv("POOLRUN_ETCD_HELPER", filepath.Join(bin, "poolrun-etcd"))
}

// TestTwoPoolsShareEtcdCap: two services, each a pool of four workers on
// pool.SharedLimit("etcd://…/NAME", 3): at most 3 tasks at once across
// them, all 16 run, nothing left in etcd.
func TestTwoPoolsShareEtcdCap(t *testing.T) {
	m := etcdtest.Start(t)
	helperEnv(t)
	dir := t.TempDir()
	for _, d := range []string{"run", "ran", "over"} {
		os.Mkdir(filepath.Join(dir, d), 0o755)
	}
	url := "etcd://" + m.Client + "/pools"
	var cmds []*exec.Cmd
	var outs []*strings.Builder
	for _, name := range []string{"a", "b"} {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), "E2E_HELPER=pool", "E2E_URL="+url, "E2E_DIR="+dir, "E2E_NAME="+name)
		var b strings.Builder
		cmd.Stdout, cmd.Stderr = &b, &b
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds, outs = append(cmds, cmd), append(outs, &b)
	}
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Errorf("service %d: %v: %s", i, err, outs[i])
		}
	}
	if ran, _ := os.ReadDir(filepath.Join(dir, "ran")); len(ran) != 16 {
		t.Errorf("%d tasks ran, want 16", len(ran))
	}
	if over, _ := os.ReadDir(filepath.Join(dir, "over")); len(over) > 0 {
		t.Errorf("%d tasks saw more than 3 running at once", len(over))
	}
	if ks := keys(t, m.Client); len(ks) > 0 {
		t.Errorf("left in etcd: %q", ks)
	}
}

// TestPoolKilledWorkerGivesEtcdSlotBack: a worker SIGKILLed while its
// task holds the only slot gives it back at once (the TTL is an hour):
// the next task runs.
func TestPoolKilledWorkerGivesEtcdSlotBack(t *testing.T) {
	m := etcdtest.Start(t)
	helperEnv(t)
	p, err := pool.New(pool.Workers(1), pool.SharedLimit("etcd://"+m.Client+"/workerkill?ttl=1h", 1))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := killSelf.Call(ctx, p, 0); !errors.Is(err, pool.ErrWorkerDied) {
		t.Fatalf("the killed task: %v, want ErrWorkerDied", err)
	}
	path := filepath.Join(t.TempDir(), "pid")
	f := pidTask.Submit(ctx, p, path)
	waitFor(t, "the next task to hold the slot", func() bool { _, err := os.Stat(path); return err == nil })
	cancel()
	f.Get()
}

// TestPoolFencedWhenEtcdStops: etcd stops while two tasks hold the
// cap's two slots, one of them having started a process: their workers
// stop them at once, with the process (the tasks fail), the pool says so,
// and the next task fails to get a slot rather than run outside one.
func TestPoolFencedWhenEtcdStops(t *testing.T) {
	m := etcdtest.Start(t)
	helperEnv(t)
	p, err := pool.New(pool.Workers(2), pool.Prefetch(1), pool.SharedLimit("etcd://"+m.Client+"/fence?ttl=2s", 2))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	path := filepath.Join(t.TempDir(), "pid")
	f := pidTask.Submit(context.Background(), p, path)
	cpath := path + ".child"
	fc := childTask.Submit(context.Background(), p, cpath)
	readPid := func(path string) int {
		b, _ := os.ReadFile(path)
		n, _ := strconv.Atoi(string(b))
		return n
	}
	waitFor(t, "the tasks", func() bool { return readPid(path) > 0 && readPid(cpath) > 0 })
	wpid, cpid := readPid(path), readPid(cpath)
	m.Stop()
	for _, f := range []*pool.Future[int]{f, fc} {
		if _, err := f.Get(); !errors.Is(err, pool.ErrWorkerDied) {
			t.Errorf("a task on a lost slot: %v, want its worker stopped (ErrWorkerDied)", err)
		}
	}
	if syscall.Kill(wpid, 0) == nil {
		t.Errorf("the worker %d still runs", wpid)
	}
	waitFor(t, "the task's process gone", func() bool { return syscall.Kill(cpid, 0) != nil })
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := pidTask.Call(ctx, p, path+".2"); err == nil {
		t.Error("a task ran with the cap lost")
	}
	if _, err := os.Stat(path + ".2"); err == nil {
		t.Error("a task started with the cap lost")
	}
}

// TestPoolEtcdUnreachable: New fails within a bounded time, saying so.
func TestPoolEtcdUnreachable(t *testing.T) {
	helperEnv(t)
	_, err := pool.New(pool.Workers(1), pool.SharedLimit("etcd://127.0.0.1:1/x", 1))
	if err == nil || !strings.Contains(err.Error(), "pool: shared limit") {
		t.Errorf("New with etcd unreachable: %v", err)
	}
}
