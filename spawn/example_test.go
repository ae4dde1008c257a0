package spawn_test

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/poolrun/poolrun/rebuild"
	"github.com/poolrun/poolrun/semlock"
	"github.com/poolrun/poolrun/spawn"
)

// A program that re-execs itself as workers: roles first, then Dispatch,
// first thing in main. In a worker Dispatch runs the role and exits.
func ExampleDispatch() {
	spawn.Register("hello", func(ctx context.Context) error {
		fmt.Println("hello from a worker")
		return nil
	})
	spawn.Dispatch() // in a worker, never returns

	// ... the parent's main goes on here.
}

// Start a worker that shares a semaphore with its parent: the child finds
// it with rebuild.FromEnv (see the "share" role in this package's tests).
func ExampleWorker() {
	// Without undo, units the worker takes stay taken after it exits.
	slots, err := spawn.NewTracked(semlock.Semaphore, 3, 4, semlock.WithoutUndo())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer spawn.RemoveTracked(slots)
	lock, err := spawn.NewTracked(semlock.Mutex, 1, 1)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer spawn.RemoveTracked(lock)

	cmd := spawn.Worker(context.Background(), "share")
	cmd.Locks = map[string]*semlock.SemLock{"slots": slots, "lock": lock}
	out, err := cmd.Output()
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Print(string(out))
	v, _ := slots.Value()
	fmt.Println("the parent now sees", v)
	// Output:
	// role=share value=3 lock-taken=true
	// the parent now sees 1
}

// Any command gets the handles in POOLRUN_SEMLOCKS; a program in another
// language can attach with them (see the README for the format).
func ExampleCommand() {
	slots, err := spawn.NewTracked(semlock.Semaphore, 2, 2)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer spawn.RemoveTracked(slots)
	cmd := spawn.Command(context.Background(), "sh", "-c", "echo $"+rebuild.EnvVar)
	cmd.Locks = map[string]*semlock.SemLock{"slots": slots}
	out, err := cmd.Output()
	if err != nil {
		fmt.Println(err)
		return
	}
	h := slots.Handle()
	fmt.Println(strings.TrimSpace(string(out)) == fmt.Sprintf("v1;slots=0,%d,s,2,u,%d,%d", h.ID, os.Getpid(), h.Token))
	// Output: true
}

// poolrun sem gc: remove the private sets whose creator died without
// cleaning up (its tracker was killed too).
func ExampleSweep() {
	removed, err := spawn.Sweep()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
	}
	for _, in := range removed {
		fmt.Printf("removed set %d (%v, creator pid %d, gone)\n", in.ID, in.Kind, in.Creator)
	}
}
