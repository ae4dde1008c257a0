package semlock_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/poolrun/poolrun/internal/leakcheck"
	"github.com/poolrun/poolrun/semlock"
)

func newEvent(t testing.TB) *semlock.Event {
	t.Helper()
	ev, err := semlock.NewEvent()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ev.Remove() })
	return ev
}

func isSet(t testing.TB, ev *semlock.Event) bool {
	t.Helper()
	ok, err := ev.IsSet()
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

// timedWait runs ev.Wait with timeout d (0: already expired, <0: none) and
// returns how long it took and its error.
func timedWait(ev *semlock.Event, d time.Duration) (time.Duration, error) {
	start := time.Now() // first: the deadline is d after this at least
	ctx := context.Background()
	if d >= 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d)
		defer cancel()
	}
	err := ev.Wait(ctx)
	return time.Since(start), err
}

// CPython's _TestEvent.test_event: unset, waits of 0 and 100 ms time out;
// set, waits return at once; cleared, a child process sets it.
func TestEventCPython(t *testing.T) {
	leakcheck.Check(t)
	ev := newEvent(t)
	if isSet(t, ev) {
		t.Fatal("a new event is set")
	}
	if _, err := timedWait(ev, 0); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("wait(0) on a clear event: %v, want DeadlineExceeded", err)
	}
	took, err := timedWait(ev, 100*time.Millisecond)
	if !errors.Is(err, context.DeadlineExceeded) || took < 100*time.Millisecond {
		t.Fatalf("wait(100 ms) on a clear event: %v after %v", err, took)
	}
	if err := ev.Set(); err != nil {
		t.Fatal(err)
	}
	if !isSet(t, ev) {
		t.Fatal("not set after Set")
	}
	for _, d := range []time.Duration{-1, 0, 100 * time.Millisecond} {
		if _, err := timedWait(ev, d); err != nil {
			t.Fatalf("wait(%v) on a set event: %v", d, err)
		}
	}
	if err := ev.Set(); err != nil { // twice: nothing
		t.Fatal(err)
	}
	if err := ev.Clear(); err != nil {
		t.Fatal(err)
	}
	if err := ev.Clear(); err != nil {
		t.Fatal(err)
	}
	if isSet(t, ev) {
		t.Fatal("set after Clear")
	}

	h := ev.Handle()
	c := startHelper(t, "event-set", &h, "")
	c.expect("ready")
	done := make(chan error, 1)
	go func() { done <- ev.Wait(context.Background()) }()
	waitFor(t, "the waiter to block", func() bool { n, _ := ev.Waiters(); return n == 1 })
	fmt.Fprintln(c.in, "go")
	c.expect("set")
	c.wait()
	if err := recv(t, done); err != nil {
		t.Fatalf("wait for the child's Set: %v", err)
	}
}

// One Set wakes every waiter, in several processes and goroutines; a
// cancelled waiter returns promptly and does not disturb the others.
func TestEventWakesAll(t *testing.T) {
	leakcheck.Check(t)
	ev := newEvent(t)
	h := ev.Handle()
	var cs []*child
	for range 3 {
		c := startHelper(t, "event-wait", &h, "")
		c.expect("waiting")
		cs = append(cs, c)
	}
	done := make(chan error, 3)
	for range 3 {
		go func() { done <- ev.Wait(context.Background()) }()
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancelled := make(chan error, 1)
	go func() { cancelled <- ev.Wait(ctx) }()
	waitFor(t, "7 waiters", func() bool { n, _ := ev.Waiters(); return n == 7 })
	cancel()
	if err := recv(t, cancelled); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled Wait: %v", err)
	}
	if err := ev.Set(); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if err := recv(t, done); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range cs {
		c.expect("ok")
		c.wait()
	}
}

// A waiter blocked when the event is removed gets ErrRemoved; a handle
// of another kind or a tampered one does not attach; the SemLock of an
// event refuses unit operations; calls after Close are ErrClosed.
func TestEventMisuse(t *testing.T) {
	leakcheck.Check(t)
	ev := newEvent(t)
	h := ev.Handle()
	if h.Kind != semlock.EventKind || h.MaxValue != 1 || h.Undo {
		t.Fatalf("handle %+v", h)
	}
	if _, err := semlock.AttachBarrier(h, nil); !errors.Is(err, semlock.ErrMismatch) {
		t.Errorf("AttachBarrier of an event: %v, want ErrMismatch", err)
	}
	bad := h
	bad.Token ^= 1
	if _, err := semlock.AttachEvent(bad); !errors.Is(err, semlock.ErrStale) {
		t.Errorf("AttachEvent with another token: %v, want ErrStale", err)
	}
	s, err := semlock.Attach(h)
	if err != nil {
		t.Fatalf("Attach of an event's handle (as rebuild and spawn do): %v", err)
	}
	if err := s.Acquire(context.Background()); !errors.Is(err, semlock.ErrMismatch) {
		t.Errorf("Acquire on an event's SemLock: %v, want ErrMismatch", err)
	}
	if err := s.Release(); !errors.Is(err, semlock.ErrMismatch) {
		t.Errorf("Release on an event's SemLock: %v, want ErrMismatch", err)
	}
	if _, err := semlock.New(semlock.EventKind, 0, 1); !errors.Is(err, semlock.ErrRange) {
		t.Errorf("New(EventKind): %v, want ErrRange", err)
	}
	if _, err := semlock.NewEvent(semlock.WithoutUndo()); !errors.Is(err, semlock.ErrRange) {
		t.Errorf("NewEvent(WithoutUndo): %v, want ErrRange", err)
	}
	other, err := semlock.AttachEvent(h)
	if err != nil {
		t.Fatal(err)
	}
	other.Close()
	_, err1 := other.IsSet()
	for i, err := range []error{other.Set(), other.Clear(), other.Wait(context.Background()), err1} {
		if !errors.Is(err, semlock.ErrClosed) {
			t.Errorf("call %d after Close: %v, want ErrClosed", i, err)
		}
	}

	c := startHelper(t, "event-wait", &h, "")
	c.expect("waiting")
	waitFor(t, "the waiter to block", func() bool { n, _ := ev.Waiters(); return n == 1 })
	if err := ev.Remove(); err != nil {
		t.Fatal(err)
	}
	c.expect("removed")
	c.wait()
}

// The token check inside each op: an Event whose token is off by one
// fails with ErrStale and changes nothing.
func TestEventTokenCheck(t *testing.T) {
	leakcheck.Check(t)
	ev := newEvent(t)
	before := allValues(t, ev.SemLock())
	for _, d := range []int16{-1, 1} {
		o := semlock.EventOn(semlock.WithTokenOff(ev.SemLock(), d))
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := o.IsSet()
		for i, err := range []error{o.Set(), o.Clear(), o.Wait(ctx), err} {
			if !errors.Is(err, semlock.ErrStale) {
				t.Errorf("token%+d: call %d: %v, want ErrStale", d, i, err)
			}
		}
		cancel()
	}
	if got := allValues(t, ev.SemLock()); !slices.Equal(got, before) {
		t.Fatalf("the set changed: %v, was %v", got, before)
	}
}

// A cancellable Wait in another process sleeps in the kernel (no
// polling on Linux) and cancellation wakes it.
func TestEventCancelIdle(t *testing.T) {
	leakcheck.Check(t)
	ev := newEvent(t)
	h := ev.Handle()
	c := startHelper(t, "event-cancel", &h, "")
	c.expect("waiting")
	waitFor(t, "the waiter to block", func() bool { n, _ := ev.Waiters(); return n == 1 })
	if tid, readable := semWaitThread(c.cmd.Process.Pid); readable && tid == 0 {
		t.Fatal("no thread of the blocked waiter sleeps in semtimedop: is it polling?")
	}
	c.in.Close() // the helper cancels its context
	c.expect("canceled")
	c.wait()
	if isSet(t, ev) {
		t.Fatal("set by a cancelled Wait")
	}
}

// Kind names round-trip, the new kinds included.
func TestKindNames(t *testing.T) {
	leakcheck.Check(t)
	for _, k := range []semlock.Kind{semlock.Semaphore, semlock.Mutex, semlock.EventKind, semlock.BarrierKind, semlock.ConditionKind} {
		if got, err := semlock.ParseKind(k.String()); got != k || err != nil {
			t.Errorf("ParseKind(%q) = %v, %v", k.String(), got, err)
		}
	}
	if s := semlock.Kind(9).String(); s != "kind(9)" {
		t.Errorf("Kind(9) = %q", s)
	}
}
