package spawn_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/poolrun/poolrun/internal/leakcheck"
	"github.com/poolrun/poolrun/internal/procstart"
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
// keeper-mid worker that shares it, prints "trackers=T1,T2 set=S user=U"
// (U is the set's user, the worker's child) and waits to be killed. In
// mode "lives" its trackers wait only 1 s for the user to exit before
// they keep the set (the user never exits by itself: the wait decides
// nothing, it only bounds the test's time).
func keeperParentRole(ctx context.Context) error {
	mode := os.Args[1]
	if mode == "lives" {
		spawn.SetKeepWait(time.Second)
	}
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
	trackers, err := bothTrackers()
	if err != nil {
		return err
	}
	fmt.Printf("trackers=%s set=%d user=%s\n", joinInts(trackers), s.ID(), strings.TrimSpace(line))
	<-ctx.Done()
	return nil
}

// keeperMidRole (args: mode) starts this binary as a set user (setUserMain)
// with os/exec, so that it is not spawn's: in its own process group
// ("dies", "slow", "lives": outside the groups the parent's tracker kills) or in
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
// ("dies": its exit-time undo makes it the set's last pid), 1.5 s later
// ("slow": as a user on a loaded machine may, later than any fixed wait
// short enough for a tracker to use) or lives on
// ("lives", "ingroup": a group SIGKILL ends it there), but never past the
// test process (testRootEnv): the test kills it by pid, and if the test
// itself dies, it exits.
func setUserMain(mode string) {
	// The parent first: it lives until the test kills the keeper-parent,
	// which it does only after this process has printed its pid.
	parent := os.Getppid()
	root, _ := strconv.Atoi(os.Getenv(testRootEnv))
	fail := func(err error) {
		fmt.Fprintln(os.Stderr, "set user:", err)
		os.Exit(1)
	}
	rootGone := func() bool {
		_, ok := procstart.Start(root)
		return !ok
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
	for os.Getppid() == parent {
		if rootGone() {
			os.Exit(1)
		}
		time.Sleep(5 * time.Millisecond)
	}
	switch mode {
	case "dies":
		time.Sleep(200 * time.Millisecond)
		os.Exit(0) // the kernel undoes the acquire: this pid is the set's last
	case "slow":
		time.Sleep(1500 * time.Millisecond)
		os.Exit(0)
	}
	for !rootGone() {
		time.Sleep(20 * time.Millisecond)
	}
	os.Exit(1)
}

// keeperRound starts a keeper-parent in mode, SIGKILLs it, waits for its
// trackers to finish and reports whether the set is still in the kernel's
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
	var trackers string
	if _, serr := fmt.Sscanf(line, "trackers=%s set=%d user=%d", &trackers, &set, &user); serr != nil || err != nil {
		c.Stop()
		c.Wait()
		t.Fatalf("keeper-parent said %q (%v)", line, err)
	}
	tpids := ints(t, trackers)
	for _, p := range append(tpids, user) {
		leakcheck.Track(p)
	}
	t.Cleanup(func() { // a "lives" user outlives the round; this test started it
		syscall.Kill(user, syscall.SIGKILL)
		gone([]int{user}, 10*time.Second)
	})
	syscall.Kill(c.Process.Pid, syscall.SIGKILL)
	c.Wait()
	// Generous: a tracker waits for a dying user until it has exited
	// (however loaded the machine), and for a live one up to a minute.
	if _, ok := gone(tpids, 2*time.Minute); !ok {
		t.Fatalf("trackers %v still run 2 min after their parent's death", tpids)
	}
	return kernelSets(t)[set], set, user
}

// TestTrackerDyingUser: the set's last user is dying too (a member of a
// killed group that may still be exiting when the tracker looks, or a
// process outside the groups that exits 200 ms or 1.5 s after the
// parent): the tracker removes the set all the same, once that user has
// exited. Before, it looked for 1 s only: a user that took longer to exit
// ("slow"; "dies" on a loaded machine) kept its set ("still used by a
// live process").
func TestTrackerDyingUser(t *testing.T) {
	leakcheck.Check(t)
	rounds := 5
	if testing.Short() {
		rounds = 2
	}
	for _, mode := range []string{"dies", "slow", "ingroup"} {
		for i := 0; i < rounds; i++ {
			left, set, user := keeperRound(t, mode)
			if left {
				semlock.RemoveID(set)
				t.Fatalf("%s, round %d: the tracker kept set %d, whose last user (pid %d) was dying", mode, i, set, user)
			}
			if mode != "ingroup" {
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
