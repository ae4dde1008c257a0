package semlock_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/poolrun/poolrun/internal/leakcheck"
	"github.com/poolrun/poolrun/semlock"
)

func TestValueFromChild(t *testing.T) {
	leakcheck.Check(t)
	s := newSet(t, semlock.Semaphore, 3, 5)
	mustTry(t, s, true)
	h := s.Handle()
	c := startHelper(t, "value", &h, "")
	c.expect("2")
	c.wait()
}

// Goroutines releasing at once never push the value past its max, and
// every release that fails is ErrTooManyReleases.
func TestReleaseStormGoroutines(t *testing.T) {
	leakcheck.Check(t)
	const max, workers, each = 5, 16, 20
	s := newSet(t, semlock.Semaphore, 0, max)
	var mu sync.Mutex
	ok := 0
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range each {
				err := s.Release()
				if err != nil && !errors.Is(err, semlock.ErrTooManyReleases) {
					t.Error(err)
					return
				}
				if err == nil {
					mu.Lock()
					ok++
					mu.Unlock()
				}
				if v, err := s.Value(); err != nil || v > max {
					t.Errorf("value %d (%v) past max %d", v, err, max)
				}
			}
		})
	}
	wg.Wait()
	if ok != max {
		t.Fatalf("%d releases succeeded, want %d", ok, max)
	}
	assertValue(t, s, max)
}

// The same from processes (WithoutUndo: they post, nobody takes back).
func TestReleaseStormProcesses(t *testing.T) {
	leakcheck.Check(t)
	const max, procs, each = 7, 4, 50
	s := newSet(t, semlock.Semaphore, 0, max, semlock.WithoutUndo())
	h := s.Handle()
	var cs []*child
	for range procs {
		cs = append(cs, startHelper(t, "release", &h, strconv.Itoa(each)))
	}
	for _, c := range cs {
		fmt.Fprintln(c.in, "go")
	}
	ok, over := 0, 0
	for _, c := range cs {
		var o, v int
		if _, err := fmt.Sscan(c.line(), &o, &v); err != nil {
			t.Fatal(err)
		}
		ok, over = ok+o, over+v
		c.wait()
	}
	if ok != max || over != procs*each-max {
		t.Fatalf("%d releases succeeded and %d failed, want %d and %d", ok, over, max, procs*each-max)
	}
	assertValue(t, s, max)
}

// A holder killed by SIGKILL gives its units back (SEM_UNDO).
func TestKilledHolderSemaphore(t *testing.T) {
	leakcheck.Check(t)
	s := newSet(t, semlock.Semaphore, 2, 2)
	h := s.Handle()
	c := startHelper(t, "hold", &h, "")
	c.expect("held")
	assertValue(t, s, 1)
	c.kill()
	assertValue(t, s, 2)
}

// A mutex holder killed by SIGKILL: a waiter already blocked gets
// ErrOwnerDead holding the lock, and after its Release the mutex works
// normally; so does the next acquirer after another such death.
func TestKilledHolderMutex(t *testing.T) {
	leakcheck.Check(t)
	m := newSet(t, semlock.Mutex, 1, 1)
	h := m.Handle()

	holder := startHelper(t, "hold", &h, "")
	holder.expect("held")
	waiter := startHelper(t, "acquire", &h, "")
	waiter.expect("waiting")
	waitFor(t, "the waiter to block", func() bool { return waiters(t, m) == 1 })
	holder.kill()
	waiter.expect("ownerdead") // it holds the lock...
	waiter.expect("ok")        // ...and its Release works
	waiter.wait()

	ctx := context.Background()
	if err := m.Acquire(ctx); err != nil {
		t.Fatalf("acquire after a clean release: %v", err)
	}
	if err := m.Release(); err != nil {
		t.Fatal(err)
	}

	// No waiter this time: the next TryAcquire and Acquire see the death.
	for _, try := range []bool{true, false} {
		holder = startHelper(t, "hold", &h, "")
		holder.expect("held")
		holder.kill()
		if try {
			ok, err := m.TryAcquire()
			if !ok || !errors.Is(err, semlock.ErrOwnerDead) {
				t.Fatalf("TryAcquire after the holder died: %v, %v; want true, ErrOwnerDead", ok, err)
			}
		} else if err := m.Acquire(ctx); !errors.Is(err, semlock.ErrOwnerDead) {
			t.Fatalf("Acquire after the holder died: %v, want ErrOwnerDead", err)
		}
		assertValue(t, m, 0) // held by us
		mustTry(t, m, false)
		if err := m.Release(); err != nil {
			t.Fatal(err)
		}
		mustTry(t, m, true)
		if err := m.Release(); err != nil {
			t.Fatal(err)
		}
	}
}

// A waiter blocked when the set is removed gets ErrRemoved.
func TestRemoveWakesWaiter(t *testing.T) {
	leakcheck.Check(t)
	for _, kind := range []semlock.Kind{semlock.Semaphore, semlock.Mutex} {
		t.Run(kind.String(), func(t *testing.T) {
			s := exhausted(t, kind)
			h := s.Handle()
			c := startHelper(t, "acquire", &h, "")
			c.expect("waiting")
			waitFor(t, "the waiter to block", func() bool { return waiters(t, s) == 1 })
			if err := s.Remove(); err != nil {
				t.Fatal(err)
			}
			c.expect("removed")
			c.wait()
		})
	}
}

// Cancelling the context wakes a waiter blocked in another process, which
// meanwhile burns no CPU (it sleeps in the kernel, no polling).
func TestCancelWakesWaiter(t *testing.T) {
	leakcheck.Check(t)
	s := newSet(t, semlock.Semaphore, 0, 1)
	h := s.Handle()
	c := startHelper(t, "cancel", &h, "")
	c.expect("waiting")
	waitFor(t, "the waiter to block", func() bool { return waiters(t, s) == 1 })
	pid := c.cmd.Process.Pid
	tid, readable := semWaitThread(pid)
	if !readable {
		t.Skip("cannot see what the waiter's threads do (/proc/PID/task/TID/syscall needs ptrace rights)")
	}
	if tid == 0 {
		t.Fatal("no thread of the blocked waiter sleeps in semtimedop: is it polling?")
	}
	before, sleeps := cpuTicks(t, pid), wakeups(t, pid, tid)
	time.Sleep(time.Second)
	used, woke := cpuTicks(t, pid)-before, wakeups(t, pid, tid)-sleeps
	t.Logf("the blocked waiter used %d ticks of CPU and its thread woke %d times in 1 s", used, woke)
	// A sleeping waiter's thread does not wake at all; a polling one
	// (1 ms growing to 20 ms) wakes 50 times a second or more. The whole
	// process of an idle Go program uses well under 1% of a CPU: 30 ticks
	// of 10 ms is a bound generous enough for a loaded box.
	if woke > 5 || used > 30 {
		t.Errorf("the blocked waiter is not idle: %d wake-ups, %d ticks of CPU in 1 s", woke, used)
	}
	c.in.Close() // the helper cancels its context
	c.expect("canceled")
	c.wait()
	assertValue(t, s, 0)
	if n := waiters(t, s); n != 0 {
		t.Fatalf("%d waiters left", n)
	}
}

// Cancellation within one process, and a waiter that is not cancelled
// is not disturbed by another's cancellation.
func TestCancelInProcess(t *testing.T) {
	leakcheck.Check(t)
	s := newSet(t, semlock.Semaphore, 0, 2)
	stay := make(chan error, 1)
	ctxStay, cancelStay := context.WithCancel(context.Background())
	defer cancelStay()
	go func() { stay <- s.Acquire(ctxStay) }()
	for range 20 {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- s.Acquire(ctx) }()
		waitFor(t, "two waiters", func() bool { return waiters(t, s) == 2 })
		cancel()
		wantCanceled(t, done)
	}
	select {
	case err := <-stay:
		t.Fatalf("the other waiter returned: %v", err)
	default:
	}
	if err := s.Release(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-stay:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the other waiter never got the unit")
	}
	if err := s.Release(); err != nil {
		t.Fatal(err)
	}
	assertValue(t, s, 1)
}

// 6 processes x 400 increments of a number in a shared file under a
// Mutex end exactly at 2400.
func TestMutexCounter(t *testing.T) {
	leakcheck.Check(t)
	m := newSet(t, semlock.Mutex, 1, 1)
	h := m.Handle()
	file := filepath.Join(t.TempDir(), "counter")
	if err := os.WriteFile(file, []byte("0"), 0o600); err != nil {
		t.Fatal(err)
	}
	var cs []*child
	for range 6 {
		cs = append(cs, startHelper(t, "count", &h, file))
	}
	for _, c := range cs {
		c.wait()
	}
	b, _ := os.ReadFile(file)
	if string(b) != "2400" {
		t.Fatalf("counter %q, want 2400", b)
	}
	assertValue(t, m, 1)
}

// Many processes opening one new name at once get one set, initialised
// once.
func TestOpenRace(t *testing.T) {
	leakcheck.Check(t)
	name := uniqueName(t)
	t.Cleanup(func() {
		if h, err := semlock.LookupName(name); err == nil {
			if s, err := semlock.Attach(h); err == nil {
				s.Remove()
			}
		}
	})
	var cs []*child
	for range 8 {
		cs = append(cs, startHelper(t, "open", nil, name))
	}
	for _, c := range cs {
		fmt.Fprintln(c.in, "go")
	}
	first := ""
	for _, c := range cs {
		l := c.line()
		if first == "" {
			first = l
		} else if l != first {
			t.Fatalf("processes opened different sets: %q and %q (id token creator)", first, l)
		}
		c.wait()
	}
	h, err := semlock.LookupName(name)
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprintf("%d %d %d", h.ID, h.Token, h.Creator); got != first {
		t.Fatalf("lookup %q, the children %q", got, first)
	}
	s, err := semlock.Open(name, semlock.Semaphore, 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	assertValue(t, s, 3) // initialised once, with the creator's value
	if s.Handle().MaxValue != 3 {
		t.Fatalf("max %d, want the creator's 3", s.Handle().MaxValue)
	}
}

// Different names never share a set; one name is one set; a name whose
// set is of another kind is ErrMismatch.
func TestOpenNames(t *testing.T) {
	leakcheck.Check(t)
	base := uniqueName(t)
	var sets []*semlock.SemLock
	t.Cleanup(func() {
		for _, s := range sets {
			s.Remove()
		}
	})
	ids := map[int]string{}
	keys := map[int32]string{}
	for i := range 20 {
		name := fmt.Sprintf("%s-%d", base, i)
		s, err := semlock.Open(name, semlock.Semaphore, 1, 1)
		if err != nil {
			t.Fatal(err)
		}
		sets = append(sets, s)
		h := s.Handle()
		if other, dup := ids[h.ID]; dup {
			t.Fatalf("%s and %s share set %d", name, other, h.ID)
		}
		if other, dup := keys[h.Key]; dup {
			t.Fatalf("%s and %s share key %#x", name, other, h.Key)
		}
		ids[h.ID], keys[h.Key] = name, name
		if h.Name != name || h.Key == 0 {
			t.Fatalf("handle %+v", h)
		}
	}
	again, err := semlock.Open(base+"-3", semlock.Semaphore, 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	if again.Handle() != sets[3].Handle() {
		t.Fatalf("reopen: %+v, want %+v", again.Handle(), sets[3].Handle())
	}
	if _, err := semlock.Open(base+"-3", semlock.Mutex, 1, 1); !errors.Is(err, semlock.ErrMismatch) {
		t.Fatalf("open as a mutex: %v, want ErrMismatch", err)
	}
	if _, err := semlock.LookupName(base + "-none"); !errors.Is(err, semlock.ErrRemoved) {
		t.Fatalf("lookup of an unknown name: %v", err)
	}
}
