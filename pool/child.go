package pool

import (
	"context"
	"errors"
	"fmt"
	"github.com/poolrun/poolrun/slots"
	"os"
	"runtime/debug"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/poolrun/poolrun/rebuild"
	"github.com/poolrun/poolrun/semlock"
	"github.com/poolrun/poolrun/spawn"
)

const workerRole = "pool-worker"

var (
	errStopped = errors.New("stopped by SIGTERM")
	errHalted  = errors.New("pool: worker halted by the pool: a cancelled task did not return within CancelGrace")
)

func init() { spawn.Register(workerRole, workerMain) }

// Dispatch must be the first call in main (and in TestMain) of a binary
// that uses pools: in a worker process it runs the worker and exits; in
// the service itself it returns at once. It is spawn.Dispatch; call
// either. Define tasks before it (package-level vars are).
func Dispatch() { spawn.Dispatch() }

// child is a worker process's state, reachable from its tasks' ctx.
type child struct {
	locks *rebuild.Set
	caps  []slots.Cap // a slot of each for every task: Limit or SharedLimit, then the inherited cap

	out  *os.File      // the results pipe
	wmu  sync.Mutex    // serializes writes to out
	more chan struct{} // a task was queued, or the input ended

	mu       sync.Mutex
	queue    []frame // tasks given, not started
	eof      bool
	current  uint64   // the task taken from the queue, until it is answered
	cur      *taskCtx // its ctx, once run has made it
	curDone  bool     // current was cancelled before its ctx was made
	stopping bool
	halted   bool // the pool stops this worker: start no other task
}

type childKey struct{}

// workerMain is the pool-worker role: read tasks from fd 3, run them one
// at a time, write results to fd 4.
func workerMain(ctx context.Context) error {
	conf, ok := os.LookupEnv(workerEnv)
	os.Unsetenv(workerEnv) // a task's own children are not workers
	served, outer, serr := parseServedConf(os.Getenv(servedEnv))
	os.Unsetenv(servedEnv)
	if !ok || !strings.HasPrefix(conf, "v1 ") {
		return fmt.Errorf("pool: worker started without its configuration (%s=%q): pool workers are started by pool.New only", workerEnv, conf)
	}
	initName := strings.TrimPrefix(conf, "v1 ")
	// Keep the pipes from the task's own child processes, so that the
	// parent sees EOF when this process dies.
	syscall.CloseOnExec(3)
	syscall.CloseOnExec(4)
	// Non-blocking, so that os.File uses the runtime's poller rather than
	// a thread blocked in read: a round trip is about a third faster.
	syscall.SetNonblock(3, true)
	syscall.SetNonblock(4, true)
	in := os.NewFile(3, "pool-tasks")
	out := os.NewFile(4, "pool-results")
	if in == nil || out == nil {
		return errors.New("pool: worker without its pipes (fds 3 and 4)")
	}
	fail := func(err error) error {
		out.Write(appendMsg(nil, fInitFailed, 0, err.Error()))
		return err
	}
	set, err := rebuild.FromEnv()
	if err != nil {
		return fail(err)
	}
	defer set.Close()
	c := &child{locks: set, out: out, more: make(chan struct{}, 1)}
	if serr != nil {
		return fail(serr)
	}
	if c.caps, err = workerCaps(set, served, outer); err != nil {
		return fail(err)
	}
	defer func() {
		for _, cp := range c.caps {
			cp.Close()
		}
	}()
	base := context.WithValue(context.Background(), childKey{}, c)
	if initName != "" {
		registry.RLock()
		fn := registry.inits[initName]
		registry.RUnlock()
		if fn == nil {
			return fail(fmt.Errorf("initializer %q is not registered in the worker: DefineInit it at package level", initName))
		}
		if err := fn(base); err != nil {
			return fail(err)
		}
	}
	if _, err := out.Write(appendHeader(nil, fReady, 0, 0)); err != nil {
		return err
	}

	go c.read(in, out)
	stop := context.AfterFunc(ctx, func() { // spawn asks this worker to stop
		c.mu.Lock()
		c.stopping = true
		if c.cur != nil {
			c.cur.cancel(context.Canceled)
		}
		c.mu.Unlock()
		in.Close()
	})
	defer stop()
	return c.serve(ctx, base)
}

// serve runs the tasks given to this worker one at a time and writes
// their results, until the input ends, SIGTERM (ctx), or the pool halts
// this worker.
func (c *child) serve(ctx, base context.Context) error {
	var buf []byte
	for {
		f, ok := c.next(ctx)
		if !ok {
			c.mu.Lock()
			halted := c.halted
			c.mu.Unlock()
			if halted {
				return errHalted
			}
			return nil // input closed, or SIGTERM while idle
		}
		buf = c.run(base, f, buf[:0])
		c.mu.Lock()
		stopping := c.stopping
		c.current, c.cur, c.curDone = 0, nil, false
		c.mu.Unlock()
		if stopping {
			// The task saw its ctx cancelled by the SIGTERM, not by its
			// submitter: no result; the parent reports this worker's end.
			return errStopped
		}
		// Each result is written before the next task starts, never held
		// back for a batch: if that task crashes the worker, the parent
		// has every earlier result and knows which task was running (its
		// first unanswered one). The parent still reads many per syscall.
		if err := c.write(c.out, buf); err != nil {
			return fmt.Errorf("pool: worker: writing results: %w", err)
		}
		if cap(buf) > 1<<20 {
			buf = nil
		}
	}
}

func (c *child) write(out *os.File, b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_, err := out.Write(b)
	return err
}

// next takes the next task given to this worker, waiting for one. It is
// current from then on: a cancellation that comes before run has made
// its ctx is not lost. A halted worker takes none.
func (c *child) next(ctx context.Context) (frame, bool) {
	for {
		c.mu.Lock()
		if c.halted {
			c.mu.Unlock()
			return frame{}, false
		}
		if len(c.queue) > 0 {
			f := c.queue[0]
			c.queue[0] = frame{}
			c.queue = c.queue[1:]
			c.current, c.cur, c.curDone = f.id, nil, false
			c.mu.Unlock()
			return f, true
		}
		eof := c.eof
		c.mu.Unlock()
		if eof {
			return frame{}, false
		}
		select {
		case <-c.more:
		case <-ctx.Done():
			return frame{}, false
		}
	}
}

// read queues the tasks the pool sends and applies its cancellations and
// revocations; at EOF (the pool closed this worker's input) the runner
// ends once the queue is empty.
func (c *child) read(in, out *os.File) {
	defer func() {
		c.mu.Lock()
		c.eof = true
		c.mu.Unlock()
		c.wake()
	}()
	fr := newFrameReader(in)
	for {
		f, err := fr.next()
		if err != nil {
			return
		}
		switch f.typ {
		case fTask:
			c.mu.Lock()
			c.queue = append(c.queue, f)
			c.mu.Unlock()
			c.wake()
		case fCancel:
			// A task given ahead and not started is dropped and answered
			// at once, as a revoked one is: were it left in the queue, the
			// pool would see it unanswered after CancelGrace, as if it
			// were stuck, and stop this worker, failing the task it runs.
			// The task it runs sees its ctx cancelled. A task already
			// answered is not found: nothing to do.
			c.mu.Lock()
			found := c.unqueueLocked(f.id)
			if !found && c.current == f.id {
				if c.cur != nil {
					c.cur.cancel(context.Canceled)
				} else {
					c.curDone = true
				}
			}
			c.mu.Unlock()
			if found {
				c.write(out, appendErr(nil, f.id, kCanceled, "", ""))
			}
		case fRevoke:
			// The pool takes back a task this worker has not started, for
			// an idle worker. One that has started is not given back: its
			// result follows as usual.
			c.mu.Lock()
			found := c.unqueueLocked(f.id)
			c.mu.Unlock()
			if found {
				c.write(out, appendHeader(nil, fRevoked, f.id, 0))
			}
		case fHalt:
			// The pool is about to stop this worker: the cancelled task
			// it runs has not returned within CancelGrace. If it still
			// runs it, no other task starts here from now on, and the
			// pool is told it may stop the worker: the signal cannot
			// catch a task that started after the cancelled one ended.
			// If that task has ended (its result is on its way), nothing
			// happens: no stop.
			c.mu.Lock()
			halt := c.current == f.id && c.cur != nil && !c.halted
			if halt {
				c.halted = true
			}
			c.mu.Unlock()
			if halt {
				c.write(out, appendHeader(nil, fHalted, f.id, 0))
			}
		}
	}
}

// unqueueLocked removes task id from the queue, if it is there.
func (c *child) unqueueLocked(id uint64) bool {
	for i, q := range c.queue {
		if q.id == id {
			c.queue = append(c.queue[:i], c.queue[i+1:]...)
			return true
		}
	}
	return false
}

func (c *child) wake() {
	select {
	case c.more <- struct{}{}:
	default:
	}
}

// run runs one task and appends its result frame to buf.
func (c *child) run(base context.Context, f frame, buf []byte) []byte {
	t, err := parseTask(f.body)
	if err != nil {
		return appendErr(buf, f.id, kTask, err.Error(), "")
	}
	h, ok := lookup(t.name)
	if !ok {
		return appendErr(buf, f.id, kUnknown, t.name, "")
	}
	ctx := &taskCtx{Context: base}
	c.mu.Lock()
	if c.curDone || c.stopping {
		c.mu.Unlock()
		return appendErr(buf, f.id, kCanceled, "", "")
	}
	c.cur = ctx
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.cur = nil
		c.mu.Unlock()
		ctx.release()
	}()
	if t.deadline != 0 || t.timeout > 0 {
		d := time.Unix(0, t.deadline)
		if t.timeout > 0 {
			if byTimeout := time.Now().Add(time.Duration(t.timeout)); t.deadline == 0 || byTimeout.Before(d) {
				d = byTimeout
			}
		}
		ctx.setDeadline(d)
	}
	if err := ctx.Err(); err != nil {
		return appendErr(buf, f.id, ctxKind(err), "", "")
	}
	// A slot of each cap (the pool's limit, the caps the pool serves, then
	// the cap inherited from a poolrun job), taken in this process right
	// before the task: if it dies while running the task, the kernel
	// gives the SysV slots back (undo) and the pool the served ones (its
	// pipes close).
	for _, cp := range c.caps {
		slot, err := cp.Acquire(ctx)
		if err != nil {
			if cerr := ctx.Err(); cerr != nil {
				return appendErr(buf, f.id, ctxKind(cerr), "", "")
			}
			return appendErr(buf, f.id, kLimit, err.Error(), "")
		}
		defer slot.Release()
	}
	out, pv, stack, err := call1(h, ctx, t.in, func() {
		// runtime.Goexit in the task: this goroutine is ending, with no
		// result to return. Report it like a panic and exit: the pool
		// replaces this worker.
		c.write(c.out, appendErr(nil, f.id, kGoexit, "the task called runtime.Goexit", string(debug.Stack())))
		os.Exit(3)
	})
	switch {
	case stack != "":
		return appendErr(buf, f.id, kPanic, pv, stack)
	case err == nil && !outputFits(out):
		return appendErr(buf, f.id, kTooLarge, fmt.Sprintf("output of %d bytes: a task's output may have at most %d", len(out), maxFrame-headerSize), "")
	case err == nil:
		return appendOK(buf, f.id, out)
	}
	if cerr := ctx.Err(); cerr != nil && errors.Is(err, cerr) {
		return appendErr(buf, f.id, ctxKind(cerr), "", "")
	}
	return appendErr(buf, f.id, kTask, err.Error(), "")
}

func ctxKind(err error) byte {
	if errors.Is(err, context.DeadlineExceeded) {
		return kDeadline
	}
	return kCanceled
}

// call1 runs h, turning a panic into its value and stack; if h calls
// runtime.Goexit, goexit runs (and must not return).
func call1(h handler, ctx context.Context, in []byte, goexit func()) (out []byte, pv, stack string, err error) {
	returned := false
	defer func() {
		if r := recover(); r != nil {
			pv = fmt.Sprint(r)
			stack = string(debug.Stack())
			if stack == "" {
				stack = "(no stack)"
			}
		} else if !returned {
			goexit()
		}
	}()
	out, err = h(ctx, in)
	returned = true
	return out, "", "", err
}

// taskCtx is a task's context: cancelled by a cancel frame or its
// deadline. Its Done channel is made only if the task asks for it, so a
// task that never looks costs no allocation beyond the struct.
type taskCtx struct {
	context.Context // for values only
	mu              sync.Mutex
	deadline        time.Time
	timer           *time.Timer
	done            chan struct{}
	err             error
}

func (c *taskCtx) Deadline() (time.Time, bool) { return c.deadline, !c.deadline.IsZero() }

func (c *taskCtx) Done() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.done == nil {
		c.done = make(chan struct{})
		if c.err != nil {
			close(c.done)
		}
	}
	return c.done
}

func (c *taskCtx) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

func (c *taskCtx) cancel(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err == nil {
		c.err = err
		if c.done != nil {
			close(c.done)
		}
	}
}

func (c *taskCtx) setDeadline(d time.Time) {
	c.deadline = d
	if dur := time.Until(d); dur <= 0 {
		c.cancel(context.DeadlineExceeded)
	} else {
		c.timer = time.AfterFunc(dur, func() { c.cancel(context.DeadlineExceeded) })
	}
}

func (c *taskCtx) release() {
	if c.timer != nil {
		c.timer.Stop()
	}
	c.cancel(context.Canceled)
}

func (c *taskCtx) String() string { return "pool.taskCtx" }

// Mutex returns the pool mutex name (see the Mutexes option) inside a
// task: ctx must be the task's. Acquire it with the task's ctx:
//
//	mu, err := pool.Mutex(ctx, "ledger")
//	if err != nil {
//		return err
//	}
//	if err := mu.Acquire(ctx); err != nil && !errors.Is(err, semlock.ErrOwnerDead) {
//		return err
//	}
//	defer mu.Release()
//
// It is held by this worker process: if the worker dies holding it, the
// next holder gets semlock.ErrOwnerDead with the lock held.
func Mutex(ctx context.Context, name string) (*semlock.SemLock, error) {
	c, _ := ctx.Value(childKey{}).(*child)
	if c == nil {
		return nil, fmt.Errorf("pool: Mutex(%q): %w: call it with the ctx a task was given", name, ErrNotInTask)
	}
	s, ok := c.locks.Lookup(mutexPrefix + name)
	if !ok {
		return nil, fmt.Errorf("pool: Mutex(%q): no such mutex: create it with the Mutexes option of New", name)
	}
	return s, nil
}

// workerCaps is the caps a worker takes a slot of for every task: the
// pool's limit (Limit, SharedLimit), and, when the pool runs inside a
// poolrun job, that job's cap (unless the limit is a SharedLimit: a named
// cap is its own, as with poolrun --sem). The first worker to claim the
// job's own slot runs on it (see slots), so a pool inside a job of a
// one-slot cap still runs.
//
// The caps the parent serves (an etcd SharedLimit, make's jobserver, of
// the kinds in served) come after the SysV ones; if outer is false (a named limit, or
// make's jobserver, which is nearer than a poolrun job's cap) the
// inherited cap is not taken.
func workerCaps(set *rebuild.Set, served []string, outer bool) ([]slots.Cap, error) {
	var caps []slots.Cap
	closeAll := func() {
		for _, c := range caps {
			c.Close()
		}
	}
	named := false
	if s, ok := set.Lookup(limitLock); ok {
		named = s.Handle().Key != 0
		c, err := slots.FromSemLock(s)
		if err != nil {
			return nil, fmt.Errorf("pool: the limit: %w", err)
		}
		caps = append(caps, c)
	}
	attached, err := attachServed(served)
	caps = append(caps, attached...)
	if err != nil {
		closeAll()
		return nil, err
	}
	if _, ok := set.Lookup(slots.CapName); !ok || named || !outer {
		return caps, nil
	}
	inherited, err := slots.FromEnv()
	if err != nil {
		closeAll()
		return nil, fmt.Errorf("pool: the cap of the poolrun job: %w", err)
	}
	return append(caps, inherited), nil
}
