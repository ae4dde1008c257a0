// Package pool runs tasks in a pool of worker processes — re-execs of the
// service's own binary — the way Python services use multiprocessing.Pool
// or ProcessPoolExecutor, but crash-proof: a worker that dies (SIGKILL, an
// OOM kill, os.Exit, a crash) fails only the task it was running, with an
// error naming the worker, how it ended and the task; a replacement starts
// and the pool goes on.
//
// Tasks are functions registered by name before Dispatch, which must be
// the first call in main:
//
//	var square = pool.Define("square", func(ctx context.Context, n int) (int, error) {
//		return n * n, nil
//	})
//
//	func main() {
//		pool.Dispatch() // in a worker process: runs the worker, never returns
//
//		p, err := pool.New(pool.Workers(4), pool.Limit(2))
//		if err != nil {
//			log.Fatal(err)
//		}
//		defer p.Close()
//		n, err := square.Call(ctx, p, 7) // 49
//		for r := range square.Map(ctx, p, slices.Values(inputs), pool.Unordered()) {
//			...
//		}
//	}
//
// Inputs and outputs are encoded with JSON (or WithCodec); a []byte passes
// through untouched. A task's ctx ends when the submitter's ctx does (or
// when it has run for the Timeout option's duration). A task given ahead
// to a worker and not started yet is then dropped there at once; a worker
// that does not return from the task it runs within CancelGrace is
// stopped (SIGTERM, then SIGKILL) and replaced, and the tasks it was given
// ahead run elsewhere: one task's trouble costs no other task.
// A panic in a task comes back as its error (ErrPanic) with the value and
// stack; the worker carries on.
//
// Concurrency across workers is capped by a SysV semaphore (Limit, or a
// machine-wide SharedLimit that other pools and `poolrun --sem NAME`
// share): the worker takes the slot with SEM_UNDO in its own process, so
// the kernel returns it if the worker dies. Tasks share named mutexes
// (Mutexes, then Mutex inside a task) the same way. Close and Stop leave
// no process and no semaphore set behind, and neither does the death of
// the service: its workers die with it and spawn's tracker removes the
// sets.
//
// Two caps are held by the pool itself and served to its workers over a
// pair of pipes each, because a worker cannot hold them alone: an etcd
// cap across machines (SharedLimit("etcd://HOST:PORT/NAME", n), through
// the helper poolrun-etcd, so this package does not link the etcd
// client), and GNU make's jobserver when make starts the service (its
// implicit token is the service's, once; Jobserver(false) ignores it). A
// worker that dies closes its pipes and the pool gives back what it held.
//
// Parent and worker talk over two pipes in length-prefixed frames; a
// worker is given several tasks ahead when tasks are short (Prefetch), so
// one syscall carries many of them, and a worker left idle takes back
// tasks another one holds but has not started, so no task waits behind a
// slow one.
package pool
