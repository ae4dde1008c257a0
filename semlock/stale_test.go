package semlock_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/poolrun/poolrun/internal/leakcheck"
	"github.com/poolrun/poolrun/semlock"
)

const inNamespaceEnv = "SEMLOCK_TEST_IN_IPC_NS"

// After a set is removed and a new set gets its semid, every call through
// a handle of the old set returns ErrStale or ErrRemoved and leaves the new
// set alone. Picking the next semid needs root, so the test re-runs itself
// in a private IPC namespace (unshare --ipc) and writes the old id to
// /proc/sys/kernel/sem_next_id there.
func TestStaleHandleAfterIDReuse(t *testing.T) {
	if os.Getenv(inNamespaceEnv) == "" {
		if os.Geteuid() != 0 {
			t.Skip("needs root: it picks the next semid through /proc/sys/kernel/sem_next_id in a private IPC namespace")
		}
		unshare, err := exec.LookPath("unshare")
		if err != nil {
			t.Skip("needs unshare(1) (util-linux) to run in a private IPC namespace")
		}
		cmd := exec.Command(unshare, "--ipc", os.Args[0], "-test.run=^"+t.Name()+"$", "-test.v")
		cmd.Env = append(os.Environ(), inNamespaceEnv+"=1", quickRaceExit())
		out, err := cmd.CombinedOutput()
		if err != nil && strings.HasPrefix(string(out), "unshare: ") {
			t.Skipf("cannot make a private IPC namespace here: %s", out)
		}
		if err != nil {
			t.Fatalf("in a private IPC namespace: %v\n%s", err, out)
		}
		t.Logf("in a private IPC namespace:\n%s", out)
		return
	}
	leakcheck.Check(t)
	for _, kind := range []semlock.Kind{semlock.Semaphore, semlock.Mutex} {
		t.Run(kind.String(), func(t *testing.T) { staleAfterReuse(t, kind) })
	}
}

func staleAfterReuse(t *testing.T, kind semlock.Kind) {
	old, err := semlock.New(kind, 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	oh := old.Handle()
	// A second SemLock of the old set, as another process would have it,
	// holding a unit so that Release gets past the mutex's own check.
	stale, err := semlock.Attach(oh)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := stale.TryAcquire(); !ok || err != nil {
		t.Fatalf("try: %v %v", ok, err)
	}
	if err := old.Remove(); err != nil {
		t.Fatal(err)
	}
	var fresh *semlock.SemLock
	for range 20 { // until the token differs too (a 1 in 32766 chance each)
		if err := os.WriteFile("/proc/sys/kernel/sem_next_id", []byte(strconv.Itoa(oh.ID)), 0); err != nil {
			t.Skipf("cannot pick the next semid: %v", err)
		}
		fresh, err = semlock.New(kind, 1, 1)
		if err != nil {
			t.Fatal(err)
		}
		if fresh.ID() != oh.ID {
			fresh.Remove()
			t.Fatalf("the new set got id %d, not the old %d", fresh.ID(), oh.ID)
		}
		if fresh.Handle().Token>>15 != oh.Token>>15 {
			break
		}
		fresh.Remove()
		fresh = nil
	}
	if fresh == nil {
		t.Fatal("no new set with another token")
	}
	defer fresh.Remove()
	before := allValues(t, fresh)

	isStale := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, semlock.ErrStale) && !errors.Is(err, semlock.ErrRemoved) {
			t.Errorf("%s through the old handle: %v, want ErrStale or ErrRemoved", what, err)
		}
	}
	_, err = stale.TryAcquire()
	isStale("TryAcquire", err)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	isStale("Acquire", stale.Acquire(ctx))
	// Without a deadline the wait is a plain blocking semop: a broken
	// check would block here (or take the new set's unit), so give it a
	// bound and fail rather than hang.
	done := make(chan error, 1)
	go func() { done <- stale.Acquire(context.Background()) }()
	select {
	case err := <-done:
		isStale("Acquire without deadline", err)
	case <-time.After(30 * time.Second):
		t.Fatal("Acquire without deadline through the old handle blocked")
	}
	isStale("Release", stale.Release())
	_, err = stale.Value()
	isStale("Value", err)
	_, err = stale.Waiters()
	isStale("Waiters", err)
	isStale("Remove", stale.Remove())
	_, err = semlock.Attach(oh)
	isStale("Attach", err)
	if got := allValues(t, fresh); !slices.Equal(got, before) {
		t.Fatalf("the new set changed: %v, was %v", got, before)
	}
	if v, err := fresh.Value(); err != nil || v != 1 {
		t.Fatalf("the new set: value %d, %v", v, err)
	}
}

func allValues(t *testing.T, s *semlock.SemLock) []uint16 {
	t.Helper()
	v, err := semlock.AllValues(s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// The token check inside each op: a SemLock whose token is one more or one
// less than its set's fails every call with ErrStale and changes nothing.
func TestTokenCheckInOp(t *testing.T) {
	leakcheck.Check(t)
	for _, kind := range []semlock.Kind{semlock.Semaphore, semlock.Mutex} {
		s := newSet(t, kind, 1, 1)
		before := allValues(t, s)
		for _, d := range []int16{-1, 1} {
			other := semlock.WithTokenOff(s, d)
			if ok, err := other.TryAcquire(); ok || !errors.Is(err, semlock.ErrStale) {
				t.Errorf("%v token%+d: TryAcquire %v %v", kind, d, ok, err)
			}
			if err := other.Release(); !errors.Is(err, semlock.ErrStale) {
				t.Errorf("%v token%+d: Release %v", kind, d, err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			if err := other.Acquire(ctx); !errors.Is(err, semlock.ErrStale) {
				t.Errorf("%v token%+d: Acquire %v", kind, d, err)
			}
			cancel()
			if got := allValues(t, s); !slices.Equal(got, before) {
				t.Fatalf("%v token%+d changed the set: %v, was %v", kind, d, got, before)
			}
		}
	}
}

// A key collision between two names is detected by the fingerprint.
func TestNameCollision(t *testing.T) {
	leakcheck.Check(t)
	s, err := semlock.Open(uniqueName(t), semlock.Semaphore, 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Remove()
	_, err = semlock.OpenExistingAs(s, "another", 12345)
	if !errors.Is(err, semlock.ErrMismatch) || !strings.Contains(err.Error(), "collision") {
		t.Fatalf("open of a colliding name: %v, want ErrMismatch naming the collision", err)
	}
}
