// Package spawn starts child processes that share SemLocks with their
// parent, and makes sure nothing outlives the parent: each child runs in
// its own process group, dies with its parent (PDEATHSIG on Linux), and a
// tracker process kills what is left and removes the parent's private
// semaphore sets when the parent dies, however it dies.
//
// A program that re-execs itself as workers registers its roles and calls
// Dispatch first thing in main:
//
//	func main() {
//		spawn.Register("worker", worker)
//		spawn.Dispatch() // in a worker: runs the role and exits
//
//		slots, err := spawn.NewTracked(semlock.Semaphore, 2, 2)
//		...
//		defer spawn.RemoveTracked(slots)
//		cmd := spawn.Worker(ctx, "worker")
//		cmd.Locks = map[string]*semlock.SemLock{"slots": slots}
//		err = cmd.Run()
//	}
//
//	func worker(ctx context.Context) error {
//		set, err := rebuild.FromEnv()
//		...
//		slots, _ := set.Lookup("slots")
//	}
package spawn
