package semlock_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/poolrun/poolrun/internal/leakcheck"
	"github.com/poolrun/poolrun/semlock"
)

// Ports of CPython's Lib/test/_test_multiprocessing.py cases for
// Semaphore, BoundedSemaphore, Lock and acquire timeouts.

func assertValue(t *testing.T, s *semlock.SemLock, want int) {
	t.Helper()
	if got := value(t, s); got != want {
		t.Fatalf("value %d, want %d", got, want)
	}
}

func mustTry(t *testing.T, s *semlock.SemLock, want bool) {
	t.Helper()
	ok, err := s.TryAcquire()
	if err != nil {
		t.Fatal(err)
	}
	if ok != want {
		t.Fatalf("TryAcquire = %v, want %v", ok, want)
	}
}

// _test_semaphore: Semaphore(2) with an unbounded max.
func TestSemaphoreCPython(t *testing.T) {
	leakcheck.Check(t)
	s := newSet(t, semlock.Semaphore, 2, semlock.MaxValue)
	ctx := context.Background()
	assertValue(t, s, 2)
	if err := s.Acquire(ctx); err != nil {
		t.Fatal(err)
	}
	assertValue(t, s, 1)
	mustTry(t, s, true)
	assertValue(t, s, 0)
	mustTry(t, s, false) // a failed non-blocking acquire leaves 0
	assertValue(t, s, 0)
	for want := 1; want <= 4; want++ {
		if err := s.Release(); err != nil {
			t.Fatal(err)
		}
		assertValue(t, s, want)
	}
}

// test_bounded_semaphore: the same up to 2, then one release too many.
func TestBoundedSemaphoreCPython(t *testing.T) {
	leakcheck.Check(t)
	s := newSet(t, semlock.Semaphore, 2, 2)
	assertValue(t, s, 2)
	mustTry(t, s, true)
	assertValue(t, s, 1)
	mustTry(t, s, true)
	assertValue(t, s, 0)
	mustTry(t, s, false)
	assertValue(t, s, 0)
	for want := 1; want <= 2; want++ {
		if err := s.Release(); err != nil {
			t.Fatal(err)
		}
		assertValue(t, s, want)
	}
	err := s.Release()
	if !errors.Is(err, semlock.ErrTooManyReleases) {
		t.Fatalf("release past the max: %v, want ErrTooManyReleases", err)
	}
	assertValue(t, s, 2) // unchanged by the failure
}

// test_lock: acquire, failed try, release, second release is an error.
func TestLockCPython(t *testing.T) {
	leakcheck.Check(t)
	l := newSet(t, semlock.Mutex, 1, 1)
	if err := l.Acquire(context.Background()); err != nil {
		t.Fatal(err)
	}
	mustTry(t, l, false) // held by this very process: not recursive
	assertValue(t, l, 0)
	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
	assertValue(t, l, 1)
	if err := l.Release(); !errors.Is(err, semlock.ErrNotOwner) {
		t.Fatalf("second release: %v, want ErrNotOwner", err)
	}
	assertValue(t, l, 1)
	mustTry(t, l, true) // and it still works
	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
}

// test_timeout: Semaphore(0); an expired deadline fails at once; a 100 ms
// one no earlier than 100 ms.
func TestAcquireTimeouts(t *testing.T) {
	leakcheck.Check(t)
	for _, kind := range []semlock.Kind{semlock.Semaphore, semlock.Mutex} {
		t.Run(kind.String(), func(t *testing.T) {
			s := exhausted(t, kind)
			mustTry(t, s, false)

			ctx, cancel := context.WithTimeout(context.Background(), 0)
			defer cancel()
			if err := s.Acquire(ctx); !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("timeout 0: %v, want DeadlineExceeded", err)
			}

			start := time.Now()
			ctx, cancel = context.WithTimeout(context.Background(), 100*time.Millisecond)
			defer cancel()
			err := s.Acquire(ctx)
			took := time.Since(start)
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("timeout 100 ms: %v, want DeadlineExceeded", err)
			}
			if took < 100*time.Millisecond {
				t.Fatalf("timeout 100 ms returned after %v, before its deadline", took)
			}
			if took > 20*time.Second {
				t.Fatalf("timeout 100 ms returned after %v", took)
			}
			// A deadline-only context (no Done channel) takes the
			// kernel's timeout path.
			start = time.Now()
			err = s.Acquire(deadlineOnly{time.Now().Add(100 * time.Millisecond)})
			took = time.Since(start)
			if !errors.Is(err, context.DeadlineExceeded) || took < 100*time.Millisecond {
				t.Fatalf("deadline-only 100 ms: %v after %v", err, took)
			}
		})
	}
}

// deadlineOnly is a context with a deadline and no Done channel.
type deadlineOnly struct{ d time.Time }

func (c deadlineOnly) Deadline() (time.Time, bool) { return c.d, true }
func (deadlineOnly) Done() <-chan struct{}         { return nil }
func (deadlineOnly) Err() error                    { return nil }
func (deadlineOnly) Value(any) any                 { return nil }
