package spawn_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/poolrun/poolrun/internal/leakcheck"
	"github.com/poolrun/poolrun/rebuild"
	"github.com/poolrun/poolrun/semlock"
	"github.com/poolrun/poolrun/spawn"
)

// TestWorkerSharesLocks: a re-exec'd worker reattaches the parent's sets
// from its environment; each side sees the other's changes.
func TestWorkerSharesLocks(t *testing.T) {
	leakcheck.Check(t)
	slots, err := spawn.NewTracked(semlock.Semaphore, 2, 4, semlock.WithoutUndo())
	if err != nil {
		t.Fatal(err)
	}
	defer spawn.RemoveTracked(slots)
	lock, err := spawn.NewTracked(semlock.Mutex, 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer spawn.RemoveTracked(lock)
	if err := slots.Release(); err != nil { // 3, before the child starts
		t.Fatal(err)
	}
	if err := lock.Acquire(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer lock.Release()
	c := spawn.Worker(context.Background(), "share")
	c.Locks = map[string]*semlock.SemLock{"slots": slots, "lock": lock}
	c.Stderr = os.Stderr
	out, err := c.Output()
	if c.Process != nil {
		leakcheck.Track(c.Process.Pid)
	}
	if err != nil {
		t.Fatalf("worker: %v: %s", err, out)
	}
	if got, want := strings.TrimSpace(string(out)), "role=share value=3 lock-taken=false"; got != want {
		t.Fatalf("worker saw %q, want %q", got, want)
	}
	if v, err := slots.Value(); err != nil || v != 1 {
		t.Fatalf("after the worker took 2 the parent sees %d, %v; want 1", v, err)
	}
	if c.ProcessState == nil || !c.ProcessState.Success() {
		t.Fatalf("ProcessState %v", c.ProcessState)
	}
}

// TestWorkerSharesEvent: other kinds travel too: a worker blocks on an
// event its parent sets.
func TestWorkerSharesEvent(t *testing.T) {
	leakcheck.Check(t)
	ev, err := semlock.NewEvent()
	if err != nil {
		t.Fatal(err)
	}
	if err := spawn.Track(ev.SemLock()); err != nil {
		ev.Remove()
		t.Fatal(err)
	}
	defer spawn.RemoveTracked(ev.SemLock())
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	c := spawn.Worker(context.Background(), "event-waiter")
	c.Locks = map[string]*semlock.SemLock{"go": ev.SemLock()}
	c.Stdout, c.Stderr = w, os.Stderr
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	leakcheck.Track(c.Process.Pid)
	out := bufio.NewReader(r)
	if line, _ := out.ReadString('\n'); line != "waiting\n" {
		c.Stop()
		t.Fatalf("worker said %q", line)
	}
	if err := ev.Set(); err != nil {
		t.Fatal(err)
	}
	if line, _ := out.ReadString('\n'); line != "set\n" {
		t.Fatalf("worker said %q after Set", line)
	}
	if err := c.Wait(); err != nil {
		t.Fatal(err)
	}
}

// TestCommandEnv: any command gets the handles, merged with what its
// environment had, and none of spawn's private variables.
func TestCommandEnv(t *testing.T) {
	leakcheck.Check(t)
	s, err := spawn.NewTracked(semlock.Semaphore, 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer spawn.RemoveTracked(s)
	inherited := semlock.Handle{ID: 1, Kind: semlock.Mutex, MaxValue: 1, Undo: true, Creator: 1, Token: 5}
	old, _ := rebuild.Encode(map[string]semlock.Handle{"outer": inherited})
	c := spawn.Command(context.Background(), "sh", "-c", "env | grep ^POOLRUN_ | sort")
	c.Env = append(os.Environ(), rebuild.EnvVar+"="+old, "POOLRUN_SPAWN_ROLE=evil")
	c.Locks = map[string]*semlock.SemLock{"mine": s}
	out, err := c.Output()
	if c.Process != nil {
		leakcheck.Track(c.Process.Pid)
	}
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	want, _ := rebuild.Encode(map[string]semlock.Handle{"outer": inherited, "mine": s.Handle()})
	if got := strings.TrimSpace(string(out)); got != rebuild.EnvVar+"="+want {
		t.Fatalf("child env:\n%s\nwant %s=%s", got, rebuild.EnvVar, want)
	}
	if c.Pgid() != c.Process.Pid {
		t.Fatalf("Pgid %d, pid %d", c.Pgid(), c.Process.Pid)
	}
}

func TestCommandErrors(t *testing.T) {
	leakcheck.Check(t)
	if err := spawn.Command(context.Background(), "no-such-program-poolrun").Run(); !errors.Is(err, exec.ErrNotFound) {
		t.Fatalf("missing program: %v", err)
	}
	err := spawn.Command(context.Background(), "sh", "-c", "exit 3").Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 3 {
		t.Fatalf("exit 3: %v", err)
	}
	err = spawn.Worker(context.Background(), "nope").Start()
	if err == nil || !strings.Contains(err.Error(), `role "nope" is not registered`) {
		t.Fatalf("unknown role: %v", err)
	}
	c := spawn.Worker(context.Background(), "fail")
	var stderr bytes.Buffer
	c.Stderr = &stderr
	if err := c.Run(); !errors.As(err, &ee) || ee.ExitCode() != 1 || !strings.Contains(stderr.String(), "fail: failed on purpose") {
		t.Fatalf("failing role: %v, stderr %q", err, stderr.String())
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := spawn.Command(ctx, "true").Start(); !errors.Is(err, context.Canceled) {
		t.Fatalf("Start with a done ctx: %v", err)
	}
	_, err = spawn.Command(context.Background(), "sh", "-c", "echo oops >&2; exit 2").Output()
	if !errors.As(err, &ee) || string(ee.Stderr) != "oops\n" {
		t.Fatalf("Output of a failing command: %v, stderr %q", err, ee.Stderr)
	}
	c = spawn.Command(context.Background(), "true")
	if err := c.Wait(); err == nil {
		t.Fatal("Wait before Start succeeded")
	}
	if err := c.Stop(); err == nil {
		t.Fatal("Stop before Start succeeded")
	}
	if err := c.Run(); err != nil {
		t.Fatal(err)
	}
	if err := c.Start(); err == nil {
		t.Fatal("second Start succeeded")
	}
	if err := c.Wait(); err == nil {
		t.Fatal("second Wait succeeded")
	}
	c = spawn.Command(context.Background(), "true")
	c.Locks = map[string]*semlock.SemLock{"nil": nil}
	if err := c.Run(); err == nil || !strings.Contains(err.Error(), `Locks["nil"] is nil`) {
		t.Fatalf("nil lock: %v", err)
	}
}

// TestNoDispatch: a binary that never calls Dispatch cannot start workers
// (no second run of main), and a worker whose binary does not reach
// Dispatch is reported as such.
func TestNoDispatch(t *testing.T) {
	leakcheck.Check(t)
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), noDispatchEnv+"=1")
	out, err := cmd.Output()
	if cmd.Process != nil {
		leakcheck.Track(cmd.Process.Pid)
	}
	if err != nil || !strings.Contains(string(out), "main ran; worker: spawn: this binary does not call spawn.Dispatch()") || strings.Count(string(out), "main ran") != 1 {
		t.Fatalf("binary without Dispatch: %v: %q", err, out)
	}
	c := spawn.Worker(context.Background(), "sleeper")
	c.Env = append(os.Environ(), noDispatchEnv+"=1") // the child skips Dispatch
	err = c.Start()
	if !errors.Is(err, spawn.ErrNoDispatch) || !strings.Contains(err.Error(), "never reached spawn.Dispatch") {
		t.Fatalf("worker that skips Dispatch: %v", err)
	}
}

// TestStop: SIGTERM to the group, then SIGKILL after WaitDelay for a
// child that ignores it; its grandchild goes with it.
func TestStop(t *testing.T) {
	leakcheck.Check(t)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	c := spawn.Worker(context.Background(), "stubborn")
	c.Stdout, c.Stderr, c.WaitDelay = w, os.Stderr, 200*time.Millisecond
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	leakcheck.Track(c.Process.Pid)
	w.Close()
	line, _ := bufio.NewReader(r).ReadString('\n')
	gc, _ := strconv.Atoi(strings.TrimSpace(line))
	done := make(chan error)
	go func() { done <- c.Wait() }() // Stop is safe concurrently with Wait
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	err = <-done
	if c.ProcessState == nil || c.ProcessState.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("stubborn child: %v (%v), want killed by SIGKILL", err, c.ProcessState)
	}
	if _, ok := gone([]int{gc}, 10*time.Second); !ok {
		t.Fatalf("grandchild %d survived the group kill", gc)
	}
	if err := c.Stop(); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
}

// TestStopLeavesNothing: a child that exits on SIGTERM at once, leaving a
// grandchild that ignores it: Stop kills the grandchild too.
func TestStopLeavesNothing(t *testing.T) {
	leakcheck.Check(t)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	c := spawn.Worker(context.Background(), "leaves")
	c.Stdout, c.Stderr = w, os.Stderr
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	leakcheck.Track(c.Process.Pid)
	w.Close()
	line, _ := bufio.NewReader(r).ReadString('\n')
	gc, _ := strconv.Atoi(strings.TrimSpace(line))
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := c.Wait(); err != nil {
		t.Fatalf("the child returned on SIGTERM: %v", err)
	}
	if _, ok := gone([]int{gc}, 10*time.Second); !ok {
		syscall.Kill(gc, syscall.SIGKILL)
		t.Fatalf("grandchild %d survived Stop", gc)
	}
}

// TestContextCancel: cancelling ctx stops the child's group with SIGTERM.
func TestContextCancel(t *testing.T) {
	leakcheck.Check(t)
	ctx, cancel := context.WithCancel(context.Background())
	c := spawn.Command(ctx, "sleep", "1000")
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	leakcheck.Track(c.Process.Pid)
	cancel()
	err := c.Wait()
	var ee *exec.ExitError
	if !errors.Is(err, context.Canceled) || !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGTERM {
		t.Fatalf("Wait after cancel: %v", err)
	}
}

// TestLogger: a child's stderr reaches the logger line by line under its
// name; hclog JSON lines keep their level and fields.
func TestLogger(t *testing.T) {
	leakcheck.Check(t)
	var buf bytes.Buffer
	log := hclog.New(&hclog.LoggerOptions{Output: &buf, JSONFormat: true, Level: hclog.Trace, Name: "test"})
	c := spawn.Worker(context.Background(), "logger")
	c.Logger = log
	c.Name = "w1"
	if err := c.Run(); err != nil {
		t.Fatal(err)
	}
	leakcheck.Track(c.Process.Pid)
	recs := hclogLines(t, buf.String())
	type rec struct{ level, module, msg string }
	var got []rec
	for _, r := range recs {
		got = append(got, rec{r["@level"].(string), r["@module"].(string), r["@message"].(string)})
	}
	want := []rec{
		{"warn", "test.w1", "disk almost full"},
		{"debug", "test.w1", "detail"},
		{"info", "test.w1", "plain line"},
		{"info", "test.w1", "last words without newline"},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d records %v, want %v", len(got), got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("record %d: %v, want %v", i, got[i], want[i])
		}
	}
	if recs[0]["free"] != float64(3) {
		t.Errorf("field free lost: %v", recs[0])
	}
}

func TestTrack(t *testing.T) {
	leakcheck.Check(t)
	s, err := spawn.NewTracked(semlock.Semaphore, 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	if spawn.TrackerPid() == 0 {
		t.Fatal("no tracker after NewTracked")
	}
	if err := spawn.Untrack(s); err != nil {
		t.Fatal(err)
	}
	if err := spawn.Untrack(s); err != nil { // not tracked: no-op
		t.Fatal(err)
	}
	if err := spawn.Track(s); err != nil {
		t.Fatal(err)
	}
	if err := spawn.RemoveTracked(s); err != nil {
		t.Fatal(err)
	}
	name := "spawn-test-" + strconv.Itoa(os.Getpid())
	named, err := semlock.Open(name, semlock.Semaphore, 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer named.Remove()
	if err := spawn.Track(named); err != nil { // named: never tracked
		t.Fatal(err)
	}
}

// TestStopCommandGroup: Stop on a plain command (a shell) that dies on
// SIGTERM while its background grandchild ignores SIGTERM: once Stop
// returns the leader is reaped and the grandchild has been sent SIGKILL
// (before the reap, while the group id was still the leader's). Several
// rounds, with Wait running concurrently or not.
func TestStopCommandGroup(t *testing.T) {
	leakcheck.Check(t)
	for i := range 4 {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		c := spawn.Command(context.Background(), "sh", "-c", `sh -c 'trap "" TERM; echo $$; while :; do sleep 1; done' & wait`)
		c.Stdout, c.WaitDelay = w, 30*time.Second // SIGKILL must not need the grace
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		leakcheck.Track(c.Process.Pid)
		w.Close()
		line, _ := bufio.NewReader(r).ReadString('\n')
		r.Close()
		gc, err := strconv.Atoi(strings.TrimSpace(line))
		if err != nil {
			t.Fatalf("grandchild pid: %q", line)
		}
		var done chan error
		if i%2 == 1 {
			done = make(chan error, 1)
			go func() { done <- c.Wait() }()
		}
		start := time.Now()
		if err := c.Stop(); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d > 20*time.Second {
			t.Errorf("Stop took %v: it waited for the grace", d)
		}
		if done != nil {
			err = <-done
		} else {
			err = c.Wait()
		}
		if ws := c.ProcessState.Sys().(syscall.WaitStatus); ws.Signal() != syscall.SIGTERM {
			t.Errorf("leader: %v (%v), want killed by SIGTERM", err, c.ProcessState)
		}
		if _, ok := gone([]int{gc}, 10*time.Second); !ok {
			syscall.Kill(gc, syscall.SIGKILL)
			t.Fatalf("round %d: grandchild %d (ignores SIGTERM) survived Stop", i, gc)
		}
	}
}

// TestStopExitedUnreaped: a leader that exited by itself, leaving a
// grandchild that ignores SIGTERM, and was not reaped yet (no Wait): its
// group id is still its own, so Stop still kills what is left of the
// group, then reaps it.
func TestStopExitedUnreaped(t *testing.T) {
	leakcheck.Check(t)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	c := spawn.Command(context.Background(), "sh", "-c", `sh -c 'trap "" TERM; echo $$; exec sleep 1000' &`)
	c.Stdout = w
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	leakcheck.Track(c.Process.Pid)
	w.Close()
	line, _ := bufio.NewReader(r).ReadString('\n')
	r.Close()
	gc, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		t.Fatalf("grandchild pid: %q", line)
	}
	if _, ok := gone([]int{c.Process.Pid}, 10*time.Second); !ok { // a zombie counts as gone
		t.Fatal("the leader did not exit")
	}
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	if c.ProcessState == nil || !c.ProcessState.Success() {
		t.Errorf("leader: %v, want exit 0 (it exited before Stop)", c.ProcessState)
	}
	if _, ok := gone([]int{gc}, 10*time.Second); !ok {
		syscall.Kill(gc, syscall.SIGKILL)
		t.Fatalf("grandchild %d survived Stop", gc)
	}
	if err := c.Wait(); err != nil {
		t.Fatalf("Wait after Stop: %v", err)
	}
}
