//go:build linux

package semlock_test

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/poolrun/poolrun/internal/leakcheck"
	"github.com/poolrun/poolrun/semlock"
)

func TestListLookupRemoveID(t *testing.T) {
	leakcheck.Check(t)
	start := time.Now().Add(-2 * time.Second)
	sem := newSet(t, semlock.Semaphore, 2, 3, semlock.WithMode(0o640))
	name := uniqueName(t)
	mu, err := semlock.Open(name, semlock.Mutex, 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mu.Remove() })
	if err := mu.Acquire(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer mu.Release()

	infos, err := semlock.List()
	if err != nil {
		t.Fatal(err)
	}
	found := 0
	for _, in := range infos {
		switch in.ID {
		case sem.ID():
			found++
			if in.Named || in.Value != 2 || in.Held || in.MaxValue != 3 || in.Mode != 0o640 || !in.CreatorUp ||
				in.Creator != os.Getpid() || in.Token != sem.Handle().Token || in.Created.Before(start) {
				t.Errorf("semaphore: %+v", in)
			}
		case mu.ID():
			found++
			if !in.Named || in.Value != 0 || !in.Held || in.Kind != semlock.Mutex || in.LastPID != os.Getpid() || in.Mode != 0o600 {
				t.Errorf("mutex: %+v", in)
			}
		}
	}
	if found != 2 {
		t.Fatalf("List found %d of our 2 sets", found)
	}

	h, err := semlock.LookupName(name)
	if err != nil {
		t.Fatal(err)
	}
	if h != mu.Handle() {
		t.Fatalf("LookupName: %+v, want %+v", h, mu.Handle())
	}

	// RemoveID refuses a set that is not ours and leaves it.
	id, _, e := unix.RawSyscall(unix.SYS_SEMGET, 0, 1, unix.IPC_CREAT|unix.IPC_EXCL|0o600)
	if e != 0 {
		t.Fatal(e)
	}
	defer unix.Syscall6(unix.SYS_SEMCTL, id, 0, unix.IPC_RMID, 0, 0, 0)
	if err := semlock.RemoveID(int(id)); !errors.Is(err, semlock.ErrStale) {
		t.Fatalf("RemoveID of another program's set: %v, want ErrStale", err)
	}
	if _, _, e := unix.RawSyscall6(unix.SYS_SEMCTL, id, 0, 12 /* GETVAL */, 0, 0, 0); e != 0 {
		t.Fatal("RemoveID removed another program's set")
	}
	if err := semlock.RemoveID(sem.ID()); err != nil {
		t.Fatal(err)
	}
	if _, err := sem.Value(); !errors.Is(err, semlock.ErrRemoved) {
		t.Fatalf("value after RemoveID: %v", err)
	}
}

// List shows Event, Barrier and Condition sets with their kind and their
// waiters, and RemoveID removes them.
func TestListSyncKinds(t *testing.T) {
	leakcheck.Check(t)
	ev := newEvent(t)
	b := newBarrier(t, 3, nil)
	done := make(chan error, 2)
	go func() { done <- ev.Wait(context.Background()) }()
	go func() { _, err := b.Wait(context.Background()); done <- err }()
	waitFor(t, "the waiters", func() bool {
		n, _ := ev.Waiters()
		w, _ := b.Waiting()
		return n == 1 && w == 1
	})
	c := newCond(t)
	infos, err := semlock.List()
	if err != nil {
		t.Fatal(err)
	}
	want := map[int]semlock.Kind{ev.Handle().ID: semlock.EventKind, b.Handle().ID: semlock.BarrierKind, c.Handle().ID: semlock.ConditionKind}
	for _, in := range infos {
		k, ok := want[in.ID]
		if !ok {
			continue
		}
		delete(want, in.ID)
		if in.Kind != k || in.Named || in.Held {
			t.Errorf("%v: %+v", k, in)
		}
		if (k == semlock.EventKind || k == semlock.BarrierKind) && in.Waiters != 1 {
			t.Errorf("%v: %d waiters, want 1", k, in.Waiters)
		}
	}
	if len(want) != 0 {
		t.Fatalf("not listed: %v", want)
	}
	if err := semlock.RemoveID(ev.Handle().ID); err != nil {
		t.Fatal(err)
	}
	if err := semlock.RemoveID(b.Handle().ID); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := recv(t, done); !errors.Is(err, semlock.ErrRemoved) {
			t.Fatalf("a waiter of a removed set: %v", err)
		}
	}
}
