package semlock_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/poolrun/poolrun/semlock"
)

// An event set by one party and waited for by others; a child process
// would attach with semlock.AttachEvent(ev.Handle()).
func ExampleNewEvent() {
	ev, err := semlock.NewEvent()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer ev.Remove()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	fmt.Println("clear:", errors.Is(ev.Wait(ctx), context.DeadlineExceeded))

	go ev.Set() // e.g. another process, once it is ready
	if err := ev.Wait(context.Background()); err != nil {
		fmt.Println(err)
		return
	}
	set, _ := ev.IsSet()
	fmt.Println("set:", set)
	// Output:
	// clear: true
	// set: true
}

// Three parties meet at a barrier round after round; the last to arrive
// runs the action before any of them goes on. Aborting breaks it for all.
func ExampleNewBarrier() {
	var rounds atomic.Int32 // atomic for the race detector, which cannot see semop's ordering
	b, err := semlock.NewBarrier(3, func() error { rounds.Add(1); return nil })
	if err != nil {
		fmt.Println(err)
		return
	}
	defer b.Remove()

	var wg sync.WaitGroup
	for range 3 { // goroutines here; processes attach with AttachBarrier
		wg.Go(func() {
			for range 2 {
				if _, err := b.Wait(context.Background()); err != nil {
					fmt.Println(err)
				}
			}
		})
	}
	wg.Wait()
	fmt.Println("rounds:", rounds.Load())

	b.Abort()
	_, err = b.Wait(context.Background())
	fmt.Println("after Abort:", errors.Is(err, semlock.ErrBrokenBarrier))
	b.Reset()
	broken, _ := b.Broken()
	fmt.Println("after Reset broken:", broken)
	// Output:
	// rounds: 2
	// after Abort: true
	// after Reset broken: false
}

// A condition variable over a Mutex: a consumer waits with WaitFor until
// a producer has changed the shared state and notified it.
func ExampleNewCondition() {
	mu, err := semlock.New(semlock.Mutex, 1, 1)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer mu.Remove()
	cond, err := semlock.NewCondition(mu)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer cond.Remove()

	ctx := context.Background()
	var ready atomic.Bool // shared state (in processes: a file, shared memory, ...)
	go func() {
		mu.Acquire(ctx)
		ready.Store(true)
		cond.NotifyAll()
		mu.Release()
	}()

	mu.Acquire(ctx)
	if err := cond.WaitFor(ctx, ready.Load); err != nil {
		fmt.Println(err)
	}
	fmt.Println("ready:", ready.Load())
	mu.Release()
	// Output: ready: true
}
