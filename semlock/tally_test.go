package semlock_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/poolrun/poolrun/internal/leakcheck"
	"github.com/poolrun/poolrun/semlock"
)

// tallyHelperEnv makes the test binary a process that enters the
// tally it names with limit 1, says "held" and waits to be killed.
const tallyHelperEnv = "SEMLOCK_TEST_TALLY"

func init() {
	name := os.Getenv(tallyHelperEnv)
	if name == "" {
		return
	}
	c, err := semlock.OpenTally(name)
	if err == nil {
		err = c.Enter(context.Background(), 1)
	}
	if err != nil {
		fmt.Println(err)
		os.Exit(2)
	}
	fmt.Println("held")
	os.Stdin.Read(make([]byte, 1)) // until killed, or stdin closes
	os.Exit(0)
}

func openTally(t *testing.T) *semlock.Tally {
	t.Helper()
	c, err := semlock.OpenTally(uniqueName(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Remove() })
	return c
}

func holders(t *testing.T, c *semlock.Tally) int {
	t.Helper()
	n, err := c.Holders()
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// Each Enter brings its own limit: it waits while limit or more hold the
// tally, whatever limits they entered with.
func TestTallyLimits(t *testing.T) {
	leakcheck.Check(t)
	c := openTally(t)
	ctx := context.Background()
	for i := range 2 {
		if err := c.Enter(ctx, 2); err != nil {
			t.Fatalf("enter %d with limit 2: %v", i+1, err)
		}
	}
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if err := c.Enter(short, 2); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a third enter with limit 2 while 2 hold: %v, want DeadlineExceeded", err)
	}
	if err := c.Enter(ctx, 3); err != nil {
		t.Fatalf("enter with limit 3 while 2 hold: %v", err)
	}
	if err := c.Force(ctx); err != nil {
		t.Fatal(err)
	}
	// The largest limit is no limit (sem -j 0): its Enter is one op.
	if err := c.Enter(short, semlock.MaxValue); err != nil {
		t.Fatalf("enter with limit MaxValue: %v", err)
	}
	if n := holders(t, c); n != 5 {
		t.Fatalf("%d holders, want 5", n)
	}
	if ok, err := c.RemoveIfIdle(); ok || err != nil {
		t.Fatalf("RemoveIfIdle with 5 holders: %v, %v; want false", ok, err)
	}
	for range 5 {
		if err := c.Leave(); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Leave(); !errors.Is(err, semlock.ErrTooManyReleases) {
		t.Fatalf("a leave too many: %v, want ErrTooManyReleases", err)
	}
	if err := c.Enter(ctx, 0); !errors.Is(err, semlock.ErrRange) {
		t.Fatalf("limit 0: %v, want ErrRange", err)
	}
	if ok, err := c.RemoveIfIdle(); !ok || err != nil {
		t.Fatalf("RemoveIfIdle when idle: %v, %v; want true", ok, err)
	}
	if _, err := semlock.LookupName(c.Handle().Name); !errors.Is(err, semlock.ErrRemoved) {
		t.Fatalf("after RemoveIfIdle the name still leads to a set: %v", err)
	}
}

// A holder killed by SIGKILL stops holding at once: WaitIdle returns.
func TestTallyWaitIdleKilledHolder(t *testing.T) {
	leakcheck.Check(t)
	c := openTally(t)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), tallyHelperEnv+"="+c.Handle().Name)
	in, _ := cmd.StdinPipe()
	defer in.Close()
	var out strings.Builder
	outR, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	leakcheck.Track(cmd.Process.Pid)
	b := make([]byte, 5)
	if _, err := outR.Read(b); err != nil || string(b) != "held\n" {
		t.Fatalf("helper said %q, %v", b, err)
	}
	out.Write(b)
	idle := make(chan error, 1)
	go func() { idle <- c.WaitIdle(context.Background()) }()
	short, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := c.Enter(short, 1); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("enter with limit 1 while the helper holds: %v", err)
	}
	select {
	case err := <-idle:
		t.Fatalf("WaitIdle returned %v while the helper holds", err)
	default:
	}
	cmd.Process.Kill()
	cmd.Wait()
	select {
	case err := <-idle:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("WaitIdle did not return after the holder was killed")
	}
	if n := holders(t, c); n != 0 {
		t.Fatalf("%d holders after the kill, want 0", n)
	}
	// Left idle: poolrun sem gc's sweep (RemoveIdleTallies, which does
	// this for each of the user's tallies) removes it. Only this test's
	// own set is touched here: other tallies on the machine are not ours.
	ok, err := c.RemoveIfIdle()
	if err != nil || !ok {
		t.Fatalf("RemoveIfIdle of the idle set: %v, %v; want it removed", ok, err)
	}
}

// A set removed under a waiter fails it with ErrRemoved (sem opens the
// name again), and WaitIdle counts a removed set as idle.
func TestTallyRemoved(t *testing.T) {
	leakcheck.Check(t)
	c := openTally(t)
	ctx := context.Background()
	if err := c.Enter(ctx, 1); err != nil {
		t.Fatal(err)
	}
	other, err := semlock.OpenTally(c.Handle().Name)
	if err != nil {
		t.Fatal(err)
	}
	enter := make(chan error, 1)
	go func() { enter <- other.Enter(ctx, 1) }()
	waitFor(t, "the second Enter to block", func() bool {
		n, _ := c.SemLock().Waiters()
		return n == 1
	})
	if err := c.Remove(); err != nil {
		t.Fatal(err)
	}
	if err := <-enter; !errors.Is(err, semlock.ErrRemoved) {
		t.Fatalf("Enter on a removed set: %v, want ErrRemoved", err)
	}
	if err := other.WaitIdle(ctx); err != nil {
		t.Fatalf("WaitIdle on a removed set: %v, want nil", err)
	}
}

// A name is a tally or a semaphore, never both.
func TestTallyKindMismatch(t *testing.T) {
	leakcheck.Check(t)
	name := uniqueName(t)
	s, err := semlock.Open(name, semlock.Semaphore, 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Remove()
	if _, err := semlock.OpenTally(name); !errors.Is(err, semlock.ErrMismatch) {
		t.Fatalf("OpenTally over a semaphore: %v, want ErrMismatch", err)
	}
	c := openTally(t)
	if _, err := semlock.Open(c.Handle().Name, semlock.Semaphore, 1, 1); !errors.Is(err, semlock.ErrMismatch) {
		t.Fatalf("Open over a tally: %v, want ErrMismatch", err)
	}
	if err := c.SemLock().Acquire(context.Background()); !errors.Is(err, semlock.ErrMismatch) {
		t.Fatalf("Acquire on a tally's set: %v, want ErrMismatch", err)
	}
	if h, err := semlock.LookupName(c.Handle().Name); err != nil || h.Kind != semlock.TallyKind {
		t.Fatalf("LookupName: %+v, %v", h, err)
	}
	if _, err := semlock.AttachTally(s.Handle()); !errors.Is(err, semlock.ErrMismatch) {
		t.Fatalf("AttachTally with a semaphore's handle: %v", err)
	}
}
