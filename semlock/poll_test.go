package semlock_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/poolrun/poolrun/internal/leakcheck"
	"github.com/poolrun/poolrun/semlock"
)

// darwin has no semtimedop: cancellable and timed waits poll there. The
// same logic runs here with polling forced on (only the syscalls differ).
func TestPollingWaits(t *testing.T) {
	prev := semlock.SetPollWaits(true)
	t.Cleanup(func() { semlock.SetPollWaits(prev) })
	t.Run("timeouts", TestAcquireTimeouts)
	t.Run("token", TestTokenCheckInOp)
	t.Run("eintr", TestEINTRRetried)
	t.Run("cancel and wake", func(t *testing.T) {
		leakcheck.Check(t)
		for _, kind := range []semlock.Kind{semlock.Semaphore, semlock.Mutex} {
			s := newSet(t, kind, 1, 1)
			if ok, err := s.TryAcquire(); !ok || err != nil {
				t.Fatal(ok, err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- s.Acquire(ctx) }()
			time.Sleep(30 * time.Millisecond) // polling by now
			cancel()
			if err := recv(t, done); !errors.Is(err, context.Canceled) {
				t.Fatalf("%v: cancelled polling Acquire: %v", kind, err)
			}
			ctx, cancel = context.WithTimeout(context.Background(), 30*time.Second)
			go func() { done <- s.Acquire(ctx) }()
			time.Sleep(30 * time.Millisecond)
			if err := s.Release(); err != nil {
				t.Fatal(err)
			}
			if err := recv(t, done); err != nil {
				t.Fatalf("%v: polling Acquire after a release: %v", kind, err)
			}
			cancel()
			if err := s.Release(); err != nil {
				t.Fatal(err)
			}
		}
	})
	t.Run("owner dead", func(t *testing.T) {
		leakcheck.Check(t)
		m := newSet(t, semlock.Mutex, 1, 1)
		h := m.Handle()
		c := startHelper(t, "hold", &h, "")
		c.expect("held")
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		done := make(chan error, 1)
		go func() { done <- m.Acquire(ctx) }()
		time.Sleep(30 * time.Millisecond)
		c.kill()
		if err := recv(t, done); !errors.Is(err, semlock.ErrOwnerDead) {
			t.Fatalf("polling Acquire after the holder died: %v, want ErrOwnerDead", err)
		}
		if err := m.Release(); err != nil {
			t.Fatal(err)
		}
		assertValue(t, m, 1)
	})
}

// recv waits generously for an Acquire's result.
func recv(t *testing.T, done <-chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(30 * time.Second):
		t.Fatal("Acquire did not return")
	}
	return nil
}

// Event, Barrier and Condition waits with polling forced on, as on darwin.
func TestPollingSyncWaits(t *testing.T) {
	prev := semlock.SetPollWaits(true)
	t.Cleanup(func() { semlock.SetPollWaits(prev) })
	t.Run("event", TestEventCPython)
	t.Run("event token", TestEventTokenCheck)
	t.Run("barrier cancel", TestBarrierCancel)
	t.Run("barrier action", TestBarrierActionFails)
	t.Run("barrier token", TestBarrierTokenCheck)
	t.Run("condition timeout", TestConditionTimeout)
	t.Run("condition wait-for timeout", TestConditionWaitForTimeout)
	t.Run("condition token", TestConditionTokenCheck)
}
