// Package spawn starts child processes that share SemLocks with their
// parent, and makes sure nothing outlives the parent: each child runs in
// its own process group, dies with its parent (PDEATHSIG on Linux, set
// from one OS thread that lives as long as the process), and a tracker
// process SIGKILLs the groups left and removes the parent's private
// semaphore sets when the parent dies, however it dies (SIGKILL too).
//
// The shortest real use, a program that re-execs itself as a worker and
// hands it a semaphore:
//
//	func main() {
//		spawn.Register("worker", func(ctx context.Context) error {
//			set, err := rebuild.FromEnv() // reattach what the parent shared
//			if err != nil {
//				return err
//			}
//			slots, _ := set.Lookup("slots")
//			if err := slots.Acquire(ctx); err != nil {
//				return err
//			}
//			defer slots.Release()
//			return work(ctx)
//		})
//		spawn.Dispatch() // in a worker: runs the role and exits
//
//		slots, err := spawn.NewTracked(semlock.Semaphore, 2, 2)
//		if err != nil {
//			log.Fatal(err)
//		}
//		defer spawn.RemoveTracked(slots)
//		cmd := spawn.Worker(context.Background(), "worker")
//		cmd.Locks = map[string]*semlock.SemLock{"slots": slots}
//		if err := cmd.Run(); err != nil {
//			log.Fatal(err)
//		}
//	}
//
// Sweep removes the sets of creators that died with their tracker (what
// poolrun sem gc does).
package spawn
