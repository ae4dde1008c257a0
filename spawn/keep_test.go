package spawn_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/poolrun/poolrun/internal/leakcheck"
	"github.com/poolrun/poolrun/rebuild"
	"github.com/poolrun/poolrun/semlock"
	"github.com/poolrun/poolrun/spawn"
)

// The tracker must not keep a dead parent's set because its last user is
// a process that is itself dying: a member of a killed group that is
// still exiting (its exit-time undo made it the set's last pid), or a
// process outside the groups that dies with them (a nested poolrun's
// jobs). It must still keep a set whose last user lives on.

// keeperParentRole (args: mode) creates a tracked private set, starts a
// keeper-mid worker that shares it, prints "tracker=T set=S user=U" (U
// is the set's user, the worker's child) and waits to be killed.
func keeperParentRole(ctx context.Context) error {
	mode := os.Args[1]
	s, err := spawn.NewTracked(semlock.Semaphore, 1, 1)
	if err != nil {
		return err
	}
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	defer r.Close()
	c := spawn.Worker(ctx, "keeper-mid", mode)
	c.Locks, c.Stdout, c.Stderr = map[string]*semlock.SemLock{"s": s}, w, os.Stderr
	err = c.Start()
	w.Close()
	if err != nil {
		return err
	}
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil {
		return fmt.Errorf("keeper-mid said %q: %v", line, err)
	}
	fmt.Printf("tracker=%d set=%d user=%s\n", spawn.TrackerPid(), s.ID(), strings.TrimSpace(line))
	<-ctx.Done()
	return nil
}

// keeperMidRole (args: mode) starts this binary as a set user (setUserMain)
// with os/exec, so that it is not spawn's: in its own process group
// ("dies", "lives": outside the groups the parent's tracker kills) or in
// this worker's group ("ingroup"). It prints the user's pid and waits to
// be killed.
func keeperMidRole(ctx context.Context) error {
	mode := os.Args[1]
	u := exec.Command("/proc/self/exe")
	u.Env = append(os.Environ(), setUserEnv+"="+mode)
	u.Stdout, u.Stderr = os.Stdout, os.Stderr
	u.SysProcAttr = &syscall.SysProcAttr{Setpgid: mode != "ingroup"}
	if err := u.Start(); err != nil {
		return err
	}
	<-ctx.Done()
	return nil
}

// setUserMain is a plain process that acquires the shared set "s" with
// undo and prints its pid. When its parent dies it exits 200 ms later
// ("dies": its exit-time undo makes it the set's last pid) or lives on
// ("lives", "ingroup": a group SIGKILL ends it there).
func setUserMain(mode string) {
	fail := func(err error) {
		fmt.Fprintln(os.Stderr, "set user:", err)
		os.Exit(1)
	}
	set, err := rebuild.FromEnv()
	if err != nil {
		fail(err)
	}
	s, ok := set.Lookup("s")
	if !ok {
		fail(fmt.Errorf("no set s in %v", set.Names()))
	}
	if err := s.Acquire(context.Background()); err != nil {
		fail(err)
	}
	fmt.Println(os.Getpid())
	parent := os.Getppid()
	for os.Getppid() == parent {
		time.Sleep(5 * time.Millisecond)
	}
	if mode == "dies" {
		time.Sleep(200 * time.Millisecond)
		os.Exit(0) // the kernel undoes the acquire: this pid is the set's last
	}
	for {
		time.Sleep(time.Hour)
	}
}

// keeperRound starts a keeper-parent in mode, SIGKILLs it, waits for its
// tracker to finish and reports whether the set is still in the kernel's
// list, and the user's pid.
func keeperRound(t *testing.T, mode string) (left bool, set, user int) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	c := spawn.Worker(context.Background(), "keeper-parent", mode)
	c.Stdout, c.Stderr = w, os.Stderr
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	leakcheck.Track(c.Process.Pid)
	line, err := bufio.NewReader(r).ReadString('\n')
	var tracker int
	if _, serr := fmt.Sscanf(line, "tracker=%d set=%d user=%d", &tracker, &set, &user); serr != nil || err != nil {
		c.Stop()
		c.Wait()
		t.Fatalf("keeper-parent said %q (%v)", line, err)
	}
	leakcheck.Track(tracker)
	leakcheck.Track(user)
	syscall.Kill(c.Process.Pid, syscall.SIGKILL)
	c.Wait()
	if _, ok := gone([]int{tracker}, 20*time.Second); !ok {
		t.Fatalf("tracker %d still runs 20 s after its parent's death", tracker)
	}
	return kernelSets(t)[set], set, user
}

// TestTrackerDyingUser: the set's last user is dying too (a member of a
// killed group that may still be exiting when the tracker looks, or a
// process outside the groups that exits 200 ms after the parent): the
// tracker removes the set all the same. Before, it saw that process
// still running and kept the set ("still used by a live process").
func TestTrackerDyingUser(t *testing.T) {
	leakcheck.Check(t)
	rounds := 5
	if testing.Short() {
		rounds = 2
	}
	for _, mode := range []string{"dies", "ingroup"} {
		for i := 0; i < rounds; i++ {
			left, set, user := keeperRound(t, mode)
			if left {
				semlock.RemoveID(set)
				t.Fatalf("%s, round %d: the tracker kept set %d, whose last user (pid %d) was dying", mode, i, set, user)
			}
			if mode == "dies" {
				break // deterministic: one round shows it
			}
		}
	}
}

// TestTrackerKeepsLiveUser: a set whose last user is a live process
// outside the killed groups is kept (poolrun sem gc removes it later).
func TestTrackerKeepsLiveUser(t *testing.T) {
	leakcheck.Check(t)
	left, set, user := keeperRound(t, "lives")
	syscall.Kill(user, syscall.SIGKILL)
	gone([]int{user}, 10*time.Second)
	if !left {
		t.Fatalf("the tracker removed set %d although its last user (pid %d) lived", set, user)
	}
	if err := semlock.RemoveID(set); err != nil {
		t.Fatal(err)
	}
}
