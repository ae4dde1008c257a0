package semlock_test

import (
	"context"
	"errors"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/poolrun/poolrun/internal/leakcheck"
	"github.com/poolrun/poolrun/semlock"
)

// A storm of signals (SIGURG, which the Go runtime itself uses for
// preemption) interrupts blocked semops with EINTR again and again: waits
// resume with the time left, never fail or return early.
func TestEINTRRetried(t *testing.T) {
	leakcheck.Check(t)
	s := newSet(t, semlock.Semaphore, 0, 1)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
				syscall.Kill(os.Getpid(), syscall.SIGURG)
				time.Sleep(100 * time.Microsecond)
			}
		}
	})
	defer func() { close(stop); wg.Wait() }()

	for _, ctx := range []func() (context.Context, func()){
		func() (context.Context, func()) {
			return deadlineOnly{time.Now().Add(200 * time.Millisecond)}, func() {}
		},
		func() (context.Context, func()) {
			return context.WithTimeout(context.Background(), 200*time.Millisecond)
		},
	} {
		start := time.Now() // before the deadline is computed: it is 200 ms after this at least
		c, cancel := ctx()
		err := s.Acquire(c)
		took := time.Since(start)
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) || took < 200*time.Millisecond {
			t.Fatalf("timed Acquire under signals: %v after %v", err, took)
		}
	}

	done := make(chan error, 1)
	go func() { done <- s.Acquire(context.Background()) }()
	waitFor(t, "the waiter to block", func() bool { return waiters(t, s) == 1 })
	time.Sleep(100 * time.Millisecond) // interrupted many times meanwhile
	if err := s.Release(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Acquire under signals: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Acquire never returned")
	}
}

// Cancelling a goroutine waiting for a mutex this process holds.
func TestCancelMutexWaiter(t *testing.T) {
	leakcheck.Check(t)
	m := newSet(t, semlock.Mutex, 1, 1)
	if err := m.Acquire(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Acquire(ctx) }()
	waitFor(t, "the waiter to block", func() bool { return waiters(t, m) == 1 })
	cancel()
	wantCanceled(t, done)
	if err := m.Release(); err != nil {
		t.Fatal(err)
	}
	assertValue(t, m, 1)
	mustTry(t, m, true)
	if err := m.Release(); err != nil {
		t.Fatal(err)
	}
}
