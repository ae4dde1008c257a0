package spawn_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/poolrun/poolrun/internal/leakcheck"
	"github.com/poolrun/poolrun/semlock"
	"github.com/poolrun/poolrun/spawn"
)

// family is what a "parent" helper reports it made.
type family struct {
	cmd      *spawn.Cmd
	parent   int
	trackers []int
	sets     []int
	pids     []int // workers and their grandchildren
}

// startFamily starts a parent helper: 3 tracked private sets, 4 workers
// sharing them, each with a grandchild in its process group.
func startFamily(t *testing.T) *family {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	c := spawn.Worker(context.Background(), "parent")
	c.Stdout, c.Stderr = w, os.Stderr
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	f := &family{cmd: c, parent: c.Process.Pid}
	leakcheck.Track(f.parent)
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil {
		c.Stop()
		c.Wait()
		t.Fatalf("parent helper: %v (%q)", err, line)
	}
	for _, field := range strings.Fields(line) {
		k, v, _ := strings.Cut(field, "=")
		var nums []int
		for _, s := range strings.Split(v, ",") {
			n, err := strconv.Atoi(s)
			if err != nil {
				t.Fatalf("parent helper said %q", line)
			}
			nums = append(nums, n)
		}
		switch k {
		case "trackers":
			f.trackers = nums
		case "sets":
			f.sets = nums
		case "pids":
			f.pids = nums
		}
	}
	for _, p := range append(slices.Clone(f.trackers), f.pids...) {
		leakcheck.Track(p)
	}
	if len(f.trackers) != 2 || len(f.sets) != 3 || len(f.pids) != 8 {
		t.Fatalf("parent helper said %q", line)
	}
	return f
}

// kill SIGKILLs the parent and reaps it.
func (f *family) kill() {
	syscall.Kill(f.parent, syscall.SIGKILL)
	f.cmd.Wait()
}

// setsLeft returns which of the family's sets the kernel still lists.
func (f *family) setsLeft(t testing.TB) []int {
	ids := kernelSets(t)
	var left []int
	for _, id := range f.sets {
		if ids[id] {
			left = append(left, id)
		}
	}
	return left
}

// TestParentKilled: a parent SIGKILLed with 4 workers (each with a
// grandchild) and 3 private sets alive leaves nothing behind: within 1 s
// (5 s under the race detector) no child is alive and no set is left in
// the kernel's list. 20 times.
func TestParentKilled(t *testing.T) {
	leakcheck.Check(t)
	limit := time.Second
	if raceEnabled {
		limit = 5 * time.Second
	}
	rounds := 20
	if testing.Short() {
		rounds = 3
	}
	var worst time.Duration
	for i := 0; i < rounds; i++ {
		f := startFamily(t)
		start := time.Now()
		f.kill()
		_, ok := gone(append(slices.Clone(f.trackers), f.pids...), limit)
		for len(f.setsLeft(t)) > 0 && time.Since(start) < limit {
			time.Sleep(2 * time.Millisecond)
		}
		took := time.Since(start)
		worst = max(worst, took)
		if !ok {
			t.Fatalf("round %d: processes of %v still alive %v after the parent's death", i, f.pids, took)
		}
		if left := f.setsLeft(t); len(left) > 0 {
			t.Fatalf("round %d: sets %v left %v after the parent's death", i, left, took)
		}
	}
	t.Logf("%d rounds: every child, grandchild and set gone within %v of SIGKILL (worst round)", rounds, worst)
}

// TestTrackerKilledThenSweep: with both its trackers killed while it
// cannot replace them (stopped), a killed parent's sets stay behind;
// Sweep finds and removes exactly those, and never a set whose creator is
// alive.
func TestTrackerKilledThenSweep(t *testing.T) {
	leakcheck.Check(t)
	mine, err := semlock.New(semlock.Semaphore, 1, 1) // creator alive: Sweep keeps it
	if err != nil {
		t.Fatal(err)
	}
	defer mine.Remove()
	f := startFamily(t)
	syscall.Kill(f.parent, syscall.SIGSTOP) // a stopped parent starts no new tracker
	for _, p := range f.trackers {
		syscall.Kill(p, syscall.SIGKILL)
	}
	if _, ok := gone(f.trackers, 10*time.Second); !ok {
		t.Fatal("trackers survived SIGKILL")
	}
	f.kill()
	workers := []int{f.pids[0], f.pids[2], f.pids[4], f.pids[6]}
	if _, ok := gone(workers, 10*time.Second); !ok {
		t.Fatal("workers survived their parent (PDEATHSIG)")
	}
	for _, gc := range []int{f.pids[1], f.pids[3], f.pids[5], f.pids[7]} {
		syscall.Kill(gc, syscall.SIGKILL) // no tracker killed their groups
	}
	if left := f.setsLeft(t); len(left) != 3 {
		t.Fatalf("without a tracker the sets should stay; left: %v", left)
	}
	removed, err := spawn.Sweep()
	if err != nil {
		t.Fatal(err)
	}
	swept := map[int]bool{}
	for _, in := range removed {
		swept[in.ID] = true
		if in.Named || in.CreatorUp {
			t.Errorf("Sweep removed %+v", in)
		}
	}
	for _, id := range f.sets {
		if !swept[id] {
			t.Errorf("Sweep did not remove orphan set %d (removed %v)", id, removed)
		}
	}
	if swept[mine.ID()] {
		t.Fatal("Sweep removed a set whose creator is alive")
	}
	if left := f.setsLeft(t); len(left) > 0 {
		t.Fatalf("sets %v still in the kernel's list after Sweep", left)
	}
	if v, err := mine.Value(); err != nil || v != 1 {
		t.Fatalf("live set after Sweep: %d, %v", v, err)
	}
}

// TestTrackerRestarted: if both trackers die, a new one starts at once
// and learns every set still registered: a later death of the parent
// still leaves nothing.
func TestTrackerRestarted(t *testing.T) {
	leakcheck.Check(t)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	c := spawn.Worker(context.Background(), "retrack")
	c.Stdout, c.Stderr = w, os.Stderr
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	leakcheck.Track(c.Process.Pid)
	line, err := bufio.NewReader(r).ReadString('\n')
	var tracker, a, b int
	var olds string
	if _, serr := fmt.Sscanf(line, "tracker=%d sets=%d,%d old=%s", &tracker, &a, &b, &olds); serr != nil || err != nil {
		c.Stop()
		c.Wait()
		t.Fatalf("helper said %q (%v)", line, err)
	}
	old := ints(t, olds)
	leakcheck.Track(tracker)
	for _, p := range old {
		leakcheck.Track(p)
	}
	if slices.Contains(old, tracker) || tracker == 0 {
		t.Fatalf("no new tracker: %q", line)
	}
	syscall.Kill(c.Process.Pid, syscall.SIGKILL)
	c.Wait()
	f := &family{sets: []int{a, b}}
	deadline := time.Now().Add(10 * time.Second)
	for len(f.setsLeft(t)) > 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if left := f.setsLeft(t); len(left) > 0 {
		t.Fatalf("sets %v left: the new tracker did not learn of them", left)
	}
}
