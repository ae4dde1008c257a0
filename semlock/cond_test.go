package semlock_test

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/poolrun/poolrun/internal/leakcheck"
	"github.com/poolrun/poolrun/semlock"
)

func newCond(t testing.TB) *semlock.Condition {
	t.Helper()
	m := newSet(t, semlock.Mutex, 1, 1)
	c, err := semlock.NewCondition(m)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Remove() })
	return c
}

// condSleepers starts procs helper processes and goroutines goroutines
// running CPython's _TestCondition.f over c, with timeout (0: none), and
// returns the sleeping and woken semaphores they release.
func condSleepers(t *testing.T, c *semlock.Condition, procs, goroutines int, timeout time.Duration) (sleeping, woken *semlock.SemLock, done <-chan error) {
	t.Helper()
	sleeping = newSet(t, semlock.Semaphore, 0, semlock.MaxValue, semlock.WithoutUndo())
	woken = newSet(t, semlock.Semaphore, 0, semlock.MaxValue, semlock.WithoutUndo())
	a := condArg{Cond: c.Handle(), Sleeping: sleeping.Handle(), Woken: woken.Handle(), Timeout: timeout}
	mh := c.Mutex().Handle()
	for range procs {
		startHelper(t, "cond-f", &mh, marshal(a))
	}
	errs := make(chan error, goroutines)
	for range goroutines {
		go func() { errs <- condF(context.Background(), c, sleeping, woken, timeout) }()
	}
	return sleeping, woken, errs
}

// takeN acquires s n times (the parent's sleeping.acquire() loop).
func takeN(t *testing.T, s *semlock.SemLock, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for range n {
		if err := s.Acquire(ctx); err != nil {
			t.Fatalf("waiting for the sleepers: %v", err)
		}
	}
}

func reaches(t *testing.T, s *semlock.SemLock, want int) {
	t.Helper()
	waitFor(t, "the woken count to reach its value", func() bool { return value(t, s) >= want })
	if got := value(t, s); got != want {
		t.Fatalf("woken %d, want %d", got, want)
	}
}

// notify runs f with c's mutex held.
func locked(t *testing.T, c *semlock.Condition, f func() error) {
	t.Helper()
	m := c.Mutex()
	if err := m.Acquire(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := f(); err != nil {
		t.Fatal(err)
	}
	if err := m.Release(); err != nil {
		t.Fatal(err)
	}
}

// test_notify: a process and a goroutine sleep; each Notify wakes one.
func TestConditionNotify(t *testing.T) {
	leakcheck.Check(t)
	c := newCond(t)
	sleeping, woken, _ := condSleepers(t, c, 1, 1, 0)
	takeN(t, sleeping, 2)
	time.Sleep(50 * time.Millisecond) // nobody wakes by itself
	if v := value(t, woken); v != 0 {
		t.Fatalf("%d woke before any notify", v)
	}
	locked(t, c, func() error { return c.Notify(1) })
	reaches(t, woken, 1)
	locked(t, c, func() error { return c.Notify(1) })
	reaches(t, woken, 2)
}

// test_notify_all: six sleepers with a timeout all time out; six without
// are all woken by one NotifyAll.
func TestConditionNotifyAll(t *testing.T) {
	leakcheck.Check(t)
	c := newCond(t)
	sleeping, woken, _ := condSleepers(t, c, 3, 3, 100*time.Millisecond)
	takeN(t, sleeping, 6)
	reaches(t, woken, 6) // all timed out
	if n, err := c.Sleepers(); n != 0 || err != nil {
		t.Fatalf("%d sleepers (%v) after they all timed out", n, err)
	}
	sleeping, woken, _ = condSleepers(t, c, 3, 3, 0)
	takeN(t, sleeping, 6)
	time.Sleep(50 * time.Millisecond)
	if v := value(t, woken); v != 0 {
		t.Fatalf("%d woke before any notify", v)
	}
	waitFor(t, "six sleepers", func() bool { n, _ := c.Sleepers(); return n == 6 })
	locked(t, c, c.NotifyAll)
	reaches(t, woken, 6)
}

// test_notify_n: Notify(2) wakes 2 of 6, Notify(4) the 4 others, and
// Notify(3) then wakes nobody.
func TestConditionNotifyN(t *testing.T) {
	leakcheck.Check(t)
	c := newCond(t)
	sleeping, woken, _ := condSleepers(t, c, 3, 3, 0)
	takeN(t, sleeping, 6)
	time.Sleep(50 * time.Millisecond)
	if v := value(t, woken); v != 0 {
		t.Fatalf("%d woke before any notify", v)
	}
	locked(t, c, func() error { return c.Notify(2) })
	reaches(t, woken, 2)
	time.Sleep(50 * time.Millisecond)
	if v := value(t, woken); v != 2 {
		t.Fatalf("Notify(2) woke %d", v)
	}
	locked(t, c, func() error { return c.Notify(4) })
	reaches(t, woken, 6)
	locked(t, c, func() error { return c.Notify(3) })
	time.Sleep(50 * time.Millisecond)
	if v := value(t, woken); v != 6 {
		t.Fatalf("woken %d after a Notify with nobody asleep", v)
	}
}

// test_timeout: a Wait of 100 ms returns DeadlineExceeded no earlier,
// holding the mutex.
func TestConditionTimeout(t *testing.T) {
	leakcheck.Check(t)
	c := newCond(t)
	m := c.Mutex()
	if err := m.Acquire(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, d := range []time.Duration{0, 100 * time.Millisecond} {
		start := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), d)
		err := c.Wait(ctx)
		took := time.Since(start)
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) || took < d {
			t.Fatalf("Wait(%v): %v after %v", d, err, took)
		}
		mustTry(t, m, false) // held by us
		if n, err := c.Sleepers(); n != 0 || err != nil {
			t.Fatalf("%d sleepers (%v) after a timeout", n, err)
		}
	}
	if err := m.Release(); err != nil {
		t.Fatal(err)
	}
}

// test_waitfor: a child sets the state to 0 and waits for 4 with
// WaitFor; the parent waits for 0, then counts up to 4, notifying each
// time. The state is a file written under the mutex.
func TestConditionWaitFor(t *testing.T) {
	leakcheck.Check(t)
	c := newCond(t)
	file := filepath.Join(t.TempDir(), "state")
	if err := writeState(file, -1); err != nil {
		t.Fatal(err)
	}
	mh := c.Mutex().Handle()
	child := startHelper(t, "cond-waitfor", &mh, marshal(condArg{Cond: c.Handle(), File: file}))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	locked(t, c, func() error {
		return c.WaitFor(ctx, func() bool { return readState(file) == 0 })
	})
	for range 4 {
		time.Sleep(10 * time.Millisecond)
		locked(t, c, func() error {
			if err := writeState(file, readState(file)+1); err != nil {
				return err
			}
			return c.Notify(1)
		})
	}
	child.wait()
}

// test_waitfor_timeout: WaitFor with a predicate that stays false
// returns DeadlineExceeded after its timeout, despite notifications.
func TestConditionWaitForTimeout(t *testing.T) {
	leakcheck.Check(t)
	c := newCond(t)
	m := c.Mutex()
	stop := make(chan struct{})
	defer close(stop)
	go func() { // notify now and then
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			if m.Acquire(context.Background()) == nil {
				c.Notify(1)
				m.Release()
			}
		}
	}()
	if err := m.Acquire(context.Background()); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	calls := 0
	err := c.WaitFor(ctx, func() bool { calls++; return false })
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) < 100*time.Millisecond {
		t.Fatalf("WaitFor: %v after %v", err, time.Since(start))
	}
	if err := m.Release(); err != nil {
		t.Fatal(err)
	}
	t.Logf("the predicate was called %d times", calls)
}

// Misuse: Wait and Notify without the mutex are ErrNotOwner and change
// nothing; a condition attached over another mutex is ErrMismatch; a
// sleeper killed while waiting costs at most a spurious wake-up.
func TestConditionMisuse(t *testing.T) {
	leakcheck.Check(t)
	c := newCond(t)
	if err := c.Wait(context.Background()); !errors.Is(err, semlock.ErrNotOwner) {
		t.Errorf("Wait without the mutex: %v", err)
	}
	if err := c.Notify(1); !errors.Is(err, semlock.ErrNotOwner) {
		t.Errorf("Notify without the mutex: %v", err)
	}
	if err := c.NotifyAll(); !errors.Is(err, semlock.ErrNotOwner) {
		t.Errorf("NotifyAll without the mutex: %v", err)
	}
	other := newSet(t, semlock.Mutex, 1, 1)
	if _, err := semlock.AttachCondition(c.Handle(), other); !errors.Is(err, semlock.ErrMismatch) {
		t.Errorf("AttachCondition over another mutex: %v", err)
	}
	sem := newSet(t, semlock.Semaphore, 1, 1)
	if _, err := semlock.NewCondition(sem); !errors.Is(err, semlock.ErrMismatch) {
		t.Errorf("NewCondition over a semaphore: %v", err)
	}
	if h := c.Handle(); h.Kind != semlock.ConditionKind || h.MaxValue != 1 || h.Undo {
		t.Errorf("handle %+v", h)
	}

	// A sleeper killed while waiting.
	sleeping := newSet(t, semlock.Semaphore, 0, semlock.MaxValue, semlock.WithoutUndo())
	woken := newSet(t, semlock.Semaphore, 0, semlock.MaxValue, semlock.WithoutUndo())
	mh := c.Mutex().Handle()
	victim := startHelper(t, "cond-f", &mh, marshal(condArg{Cond: c.Handle(), Sleeping: sleeping.Handle(), Woken: woken.Handle()}))
	takeN(t, sleeping, 1)
	m := c.Mutex()
	// Asleep: registered, and the mutex released (else its death would
	// hand the mutex over with ErrOwnerDead).
	waitFor(t, "the sleeper", func() bool { n, _ := c.Sleepers(); return n == 1 && value(t, m) == 1 })
	victim.kill()
	// The mutex is free (the victim released it in Wait); a Notify
	// turns the dead sleeper's count into a wake-up, which the next Wait
	// takes as a spurious one.
	locked(t, c, func() error { return c.Notify(1) })
	locked(t, c, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		return c.Wait(ctx)
	})
	mustTry(t, m, true)
	if err := m.Release(); err != nil {
		t.Fatal(err)
	}
}

// The token check inside each op: a Condition whose token is off by one
// fails with ErrStale and changes nothing.
func TestConditionTokenCheck(t *testing.T) {
	leakcheck.Check(t)
	c := newCond(t)
	m := c.Mutex()
	before := allValues(t, c.SemLock())
	if err := m.Acquire(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, d := range []int16{-1, 1} {
		o := semlock.ConditionOn(semlock.WithTokenOff(c.SemLock(), d), m)
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := o.Sleepers()
		for i, err := range []error{o.Wait(ctx), o.Notify(1), o.NotifyAll(), err} {
			if !errors.Is(err, semlock.ErrStale) {
				t.Errorf("token%+d: call %d: %v, want ErrStale", d, i, err)
			}
		}
		cancel()
	}
	if err := m.Release(); err != nil {
		t.Fatal(err)
	}
	if got := allValues(t, c.SemLock()); !slices.Equal(got, before) {
		t.Fatalf("the set changed: %v, was %v", got, before)
	}
}
