package pool

import (
	"fmt"
	"runtime"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/poolrun/poolrun/internal/etcdhelper"
	"github.com/poolrun/poolrun/rebuild"
	"github.com/poolrun/poolrun/semlock"
)

// Option configures New. Each option has a constructor (Workers, Limit,
// ...); an invalid value is not a panic but an error New returns, naming
// the option, before it starts anything. A nil Option is ignored.
type Option func(*config)

type config struct {
	workers      int
	limit        int
	limitName    string
	log          hclog.Logger
	logSet       bool
	maxTasks     int
	init         string
	timeout      time.Duration
	mutexes      []string
	prefetch     int
	cancelGrace  time.Duration
	waitDelay    time.Duration
	startTimeout time.Duration
	jobserver    bool
	errs         []error
}

func (c *config) bad(format string, args ...any) {
	c.errs = append(c.errs, fmt.Errorf("pool: "+format, args...))
}

// Workers sets the number of worker processes (default: runtime.NumCPU()).
func Workers(n int) Option {
	return func(c *config) {
		if n < 1 {
			c.bad("Workers(%d): a pool needs at least one worker", n)
		}
		c.workers = n
	}
}

// Limit caps how many tasks run at once across all the pool's workers,
// with a private semaphore the pool creates (and removes at Close). A
// worker takes a slot, with undo, in its own process before it runs a
// task and gives it back after: if the worker dies, the kernel returns
// the slot.
func Limit(n int) Option {
	return func(c *config) {
		if n < 1 || n > semlock.MaxValue {
			c.bad("Limit(%d): want 1 to %d", n, semlock.MaxValue)
		}
		c.limit, c.limitName = n, ""
	}
}

// SharedLimit caps how many tasks run at once across every process on
// the machine that uses the named semaphore: other pools with the same
// name and `poolrun --sem name` share it. The set is created with n slots
// if it does not exist (an existing set keeps its own size) and is not
// removed at Close.
//
// A name etcd://HOST:PORT[,HOST:PORT…]/NAME is a cap on etcd instead,
// shared by every process on every machine that names it (poolrun --sem
// and sem --id with the same URL too; see docs/etcd.md). The pool reaches
// it through the helper poolrun-etcd, which must be beside the program or
// in PATH (or named by $POOLRUN_ETCD_HELPER), so that a program using
// pool does not link the etcd client. New fails if etcd cannot be reached
// within a few seconds. Each running task holds a slot; a worker that
// dies gives its slot back at once, and a pool that is SIGKILLed gives
// its slots back when the helper sees it gone. If the pool loses its
// lease (etcd unreachable past the TTL), its workers stop their tasks (and
// the processes they started) at once, which fail, and every later task
// fails to get a slot, for the rest of the pool's life: make a new pool
// once etcd is back. No task runs outside a held slot.
func SharedLimit(name string, n int) Option {
	return func(c *config) {
		if etcdhelper.IsURL(name) {
			if n < 1 {
				c.bad("SharedLimit(%q, %d): want at least 1 slot", name, n)
			}
			c.limit, c.limitName = n, name
			return
		}
		if err := semlock.ValidateName(name); err != nil {
			c.bad("SharedLimit(%q): %w", name, err)
		}
		if n < 1 || n > semlock.MaxValue {
			c.bad("SharedLimit(%q, %d): want 1 to %d slots", name, n, semlock.MaxValue)
		}
		c.limit, c.limitName = n, name
	}
}

// Jobserver(false) makes a pool that runs under GNU make's jobserver
// ignore it. By default a pool started by a make (or cargo) that hands it
// a jobserver — a `+` recipe, a recipe that runs $(MAKE), or any recipe
// of a make ≥ 4.4 in fifo style — takes its slots from make as make's
// other clients do: one task runs on the service's implicit token, every
// further task at once needs a token read from make, given back when the
// task ends, so make's -jN binds the pool's tasks too. The pool's own
// Limit or SharedLimit still applies as well. A jobserver that MAKEFLAGS
// names but that cannot be used is a warning, and the pool runs without
// it, as make does. See docs/jobserver.md.
func Jobserver(on bool) Option {
	return func(c *config) { c.jobserver = on }
}

// Logger sets the logger for worker starts, deaths and replacements.
// It also receives the workers' stderr, line by line under the worker's
// name. Without it, workers write their stderr to this process's stderr.
// A worker's stdout always goes to this process's stderr: whatever a task
// prints never mixes with the service's own stdout.
func Logger(l hclog.Logger) Option {
	return func(c *config) { c.log, c.logSet = l, l != nil }
}

// MaxTasks replaces each worker after it has run n tasks (like Python's
// maxtasksperchild), to bound what leaks in a long-lived worker.
func MaxTasks(n int) Option {
	return func(c *config) {
		if n < 1 {
			c.bad("MaxTasks(%d): want at least 1", n)
		}
		c.maxTasks = n
	}
}

// Init makes every worker run init (see DefineInit) when it starts.
func Init(init Initializer) Option {
	return func(c *config) {
		if init.name == "" {
			c.bad("Init: the zero Initializer: make one with DefineInit")
		}
		c.init = init.name
	}
}

// Timeout gives every task at most d to run, from when its worker starts
// it (time in the queue does not count; waiting for a Limit slot does):
// its ctx in the worker has that
// deadline, and a task that has not returned by then fails with
// context.DeadlineExceeded; if it still has not returned after
// CancelGrace, its worker is stopped and replaced.
func Timeout(d time.Duration) Option {
	return func(c *config) {
		if d <= 0 {
			c.bad("Timeout(%v): want a positive duration", d)
		}
		c.timeout = d
	}
}

// Mutexes creates named mutexes shared by all the pool's workers; a task
// gets one with Mutex(ctx, name). They are private sets the pool removes
// at Close. A mutex whose holder died is reported to the next holder as
// semlock.ErrOwnerDead, with the lock held.
func Mutexes(names ...string) Option {
	return func(c *config) {
		for _, n := range names {
			if err := rebuild.ValidateName(mutexPrefix + n); err != nil {
				c.bad("Mutexes(%q): %v", n, err)
			}
		}
		c.mutexes = append(c.mutexes, names...)
	}
}

// Prefetch sets how many tasks a worker may hold: the one it runs and
// those given to it ahead. By default the pool adapts it to the tasks'
// run time: deep for tasks of microseconds (one syscall then carries
// many), 1 for tasks of a millisecond or more. Either way a worker left
// idle with nothing queued takes back tasks another worker holds but has
// not started, so a task does not wait behind a slow one. Prefetch(1)
// gives a worker one task at a time.
func Prefetch(n int) Option {
	return func(c *config) {
		if n < 1 || n > maxDepth {
			c.bad("Prefetch(%d): want 1 to %d", n, maxDepth)
		}
		c.prefetch = n
	}
}

// CancelGrace sets how long a worker has to return from a task whose ctx
// is done before it is stopped (default 1s). See WaitDelay for how it is
// stopped.
func CancelGrace(d time.Duration) Option {
	return func(c *config) {
		if d < 0 {
			c.bad("CancelGrace(%v): negative", d)
		}
		c.cancelGrace = d
	}
}

// WaitDelay sets how long a worker the pool stops (Stop, a cancelled task
// that has not returned within CancelGrace, a worker that failed to start
// or broke its stream) has between SIGTERM to its process group and
// SIGKILL (default 2s): the name and meaning of spawn.Cmd.WaitDelay. A
// worker asked to halt for a cancelled task that does not answer within
// WaitDelay is stopped all the same.
func WaitDelay(d time.Duration) Option {
	return func(c *config) {
		if d <= 0 {
			c.bad("WaitDelay(%v): want a positive duration", d)
		}
		c.waitDelay = d
	}
}

// StartTimeout bounds how long a worker may take to start and run its
// initializer (default 30s).
func StartTimeout(d time.Duration) Option {
	return func(c *config) {
		if d <= 0 {
			c.bad("StartTimeout(%v): want a positive duration", d)
		}
		c.startTimeout = d
	}
}

func newConfig(opts []Option) (config, error) {
	c := config{
		workers:      runtime.NumCPU(),
		log:          hclog.NewNullLogger(),
		cancelGrace:  time.Second,
		waitDelay:    2 * time.Second,
		startTimeout: 30 * time.Second,
		jobserver:    true,
	}
	for _, o := range opts {
		if o != nil {
			o(&c)
		}
	}
	if len(c.errs) > 0 {
		return c, c.errs[0]
	}
	if c.log == nil {
		c.log = hclog.NewNullLogger()
	}
	return c, nil
}
