package semlock_test

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/poolrun/poolrun/semlock"
)

// A private semaphore capping work at 2 at a time; its Handle is what a
// child process attaches with.
func ExampleNew() {
	slots, err := semlock.New(semlock.Semaphore, 2, 2)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer slots.Remove()

	ctx := context.Background()
	if err := slots.Acquire(ctx); err != nil {
		fmt.Println(err)
		return
	}
	v, _ := slots.Value()
	fmt.Println("available while one is held:", v)
	slots.Release()

	h := slots.Handle()
	fmt.Println(h.Kind, h.MaxValue, h.Undo)
	// Output:
	// available while one is held: 1
	// semaphore 2 true
}

// A named cap shared by every process of this user that opens the same
// name; the first Open creates it, later ones attach.
func ExampleOpen() {
	name := fmt.Sprintf("example-jobs-%d", os.Getpid())
	jobs, err := semlock.Open(name, semlock.Semaphore, 4, 4)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer jobs.Remove()

	again, err := semlock.Open(name, semlock.Semaphore, 1, 1) // value and max of an existing set are its own
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("same set:", again.ID() == jobs.ID(), "max:", again.Handle().MaxValue)
	// Output: same set: true max: 4
}

// A mutex: TryAcquire does not block, and a second Release is an error.
func ExampleSemLock_TryAcquire() {
	mu, err := semlock.New(semlock.Mutex, 1, 1)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer mu.Remove()

	ok, err := mu.TryAcquire()
	if errors.Is(err, semlock.ErrOwnerDead) {
		// The previous holder died holding it: repair the shared state.
	}
	fmt.Println("first try:", ok)
	ok, _ = mu.TryAcquire()
	fmt.Println("second try:", ok)
	fmt.Println("release:", mu.Release())
	fmt.Println("again:", errors.Is(mu.Release(), semlock.ErrNotOwner))
	// Output:
	// first try: true
	// second try: false
	// release: <nil>
	// again: true
}

// Value works on every platform, macOS included; a release past the max
// fails atomically and leaves the value alone.
func ExampleSemLock_Value() {
	s, err := semlock.New(semlock.Semaphore, 0, 1)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer s.Remove()

	s.Release()
	v, _ := s.Value()
	fmt.Println("value:", v)
	err = s.Release()
	v, _ = s.Value()
	fmt.Println(errors.Is(err, semlock.ErrTooManyReleases), "value:", v)
	// Output:
	// value: 1
	// true value: 1
}
