package pool

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/poolrun/poolrun/internal/etcdhelper"
	"github.com/poolrun/poolrun/jobserver"
	"github.com/poolrun/poolrun/semlock"
	"github.com/poolrun/poolrun/spawn"
)

const (
	limitLock   = "pool.limit"
	mutexPrefix = "pool.m."
	// workerEnv marks a worker process until its role starts: a binary
	// whose main never calls Dispatch runs main again in the worker, and
	// New refuses to start a pool there instead of fork-bombing.
	workerEnv = "POOLRUN_POOL_WORKER"
	maxDepth  = 256
	// maxAheadBytes bounds the input bytes a worker holds beyond the task
	// it runs, whatever the depth.
	maxAheadBytes = 4 << 20
)

// Pool runs registered tasks in worker processes: re-execs of this
// binary. It is safe for concurrent use. Create one with New; Close it
// (or Stop it) to stop its workers and remove its semaphore sets.
type Pool struct {
	cfg    config
	log    hclog.Logger
	ctx    context.Context // the workers' lifetime: Stop cancels it
	cancel context.CancelFunc
	locks  map[string]*semlock.SemLock // passed to every worker
	owned  []*semlock.SemLock          // private sets this pool removes
	shared *semlock.SemLock            // a named limit: closed, not removed

	// Caps the pool holds and serves its workers (served.go): an etcd
	// SharedLimit, make's jobserver.
	served    []servedCap
	serving   sync.WaitGroup // the workers' Serves of them
	jobserver jobserver.Auth // make's, if it is served (Word set)

	completed, failed, restarts, recycled atomic.Int64

	mu       sync.Mutex
	queue    queue
	workers  []*worker // ready workers
	slots    int       // workers alive or being started
	nextID   int
	seq      uint64
	queued   int
	running  int
	avg      time.Duration // moving average of a task's run time
	closing  bool
	stopped  bool
	broken   error
	gone     chan struct{} // closed when closing and slots == 0
	closeErr error
	doneOnce sync.Once
	finished chan struct{} // closed when Close or Stop has cleaned up
}

// Stats is a snapshot of a pool's counters.
type Stats struct {
	Workers   int   // workers ready now
	Running   int   // tasks handed to a worker, not finished
	Queued    int   // tasks waiting for a worker
	Completed int64 // tasks that returned a result
	Failed    int64 // tasks that ended with an error (cancelled included)
	Restarts  int64 // workers replaced after they died or were stopped
	Recycled  int64 // workers replaced after MaxTasks tasks
}

// New starts a pool and waits until its workers are ready. The binary's
// main must call Dispatch first thing (workers are re-execs of it); New
// in a worker process whose main skipped Dispatch fails.
func New(opts ...Option) (*Pool, error) {
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	if os.Getenv(workerEnv) != "" { // the worker role would have removed it
		return nil, fmt.Errorf("pool: New in a pool worker process: this binary's main must call pool.Dispatch() (or spawn.Dispatch()) before anything else: %w", ErrWorkerStart)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &Pool{
		cfg: cfg, log: cfg.log, ctx: ctx, cancel: cancel,
		locks: map[string]*semlock.SemLock{}, avg: time.Millisecond,
		gone: make(chan struct{}), finished: make(chan struct{}),
	}
	if err := p.makeLocks(); err != nil {
		p.removeLocks()
		cancel()
		return nil, err
	}
	if err := p.openServed(); err != nil {
		p.closeServed()
		p.removeLocks()
		cancel()
		return nil, err
	}
	p.slots = cfg.workers
	errs := make(chan error, cfg.workers)
	for range cfg.workers {
		go func() { errs <- p.startWorker() }()
	}
	var first error
	for range cfg.workers {
		if err := <-errs; err != nil {
			p.mu.Lock()
			p.slots--
			p.mu.Unlock()
			if first == nil {
				first = err
			}
		}
	}
	if first != nil {
		p.Stop()
		return nil, first
	}
	p.log.Debug("pool started", "workers", cfg.workers, "limit", cfg.limit, "shared", cfg.limitName)
	return p, nil
}

func (p *Pool) makeLocks() error {
	if etcdhelper.IsURL(p.cfg.limitName) {
		// Served by the pool (openServed), not a set.
	} else if p.cfg.limitName != "" {
		s, err := semlock.Open(p.cfg.limitName, semlock.Semaphore, p.cfg.limit, p.cfg.limit)
		if err != nil {
			return fmt.Errorf("pool: shared limit: %w", err)
		}
		p.shared = s
		p.locks[limitLock] = s
	} else if p.cfg.limit > 0 {
		s, err := spawn.NewTracked(semlock.Semaphore, p.cfg.limit, p.cfg.limit)
		if err != nil {
			return fmt.Errorf("pool: limit: %w", err)
		}
		p.owned = append(p.owned, s)
		p.locks[limitLock] = s
	}
	for _, name := range p.cfg.mutexes {
		if p.locks[mutexPrefix+name] != nil {
			continue
		}
		s, err := spawn.NewTracked(semlock.Mutex, 1, 1)
		if err != nil {
			return fmt.Errorf("pool: mutex %q: %w", name, err)
		}
		p.owned = append(p.owned, s)
		p.locks[mutexPrefix+name] = s
	}
	return nil
}

func (p *Pool) removeLocks() error {
	var errs []error
	for _, s := range p.owned {
		if err := spawn.RemoveTracked(s); err != nil {
			errs = append(errs, err)
		}
	}
	p.owned = nil
	if p.shared != nil {
		p.shared.Close()
		p.shared = nil
	}
	return errors.Join(errs...)
}

// Stats returns the pool's counters now.
func (p *Pool) Stats() Stats {
	p.mu.Lock()
	s := Stats{Workers: len(p.workers), Running: p.running, Queued: p.queued}
	p.mu.Unlock()
	s.Completed = p.completed.Load()
	s.Failed = p.failed.Load()
	s.Restarts = p.restarts.Load()
	s.Recycled = p.recycled.Load()
	return s
}

// Close stops taking tasks, waits for the queued and running ones to
// finish, then stops the workers and removes the pool's semaphore sets.
// It returns when no worker is left. A concurrent Stop cuts the wait
// short. Calling Close again waits for the first call and returns nil.
func (p *Pool) Close() error {
	p.mu.Lock()
	if !p.closing {
		p.closing = true
		p.retireIdleLocked()
		p.checkGoneLocked()
	}
	p.mu.Unlock()
	return p.finish()
}

// Stop stops at once: queued and running tasks fail with ErrStopped,
// the workers get SIGTERM, then SIGKILL after WaitDelay, and the pool's
// sets are removed. It returns when no worker is left.
func (p *Pool) Stop() error {
	p.mu.Lock()
	p.closing, p.stopped = true, true
	var fail []*call
	var pids []int
	for c := p.queue.pop(); c != nil; c = p.queue.pop() {
		if c.state == stateQueued {
			fail, pids = append(fail, c), append(pids, 0)
		}
	}
	p.queued = 0
	for _, w := range p.workers {
		for _, c := range w.inflight {
			fail, pids = append(fail, c), append(pids, w.pid)
		}
		w.closeIn = true
		w.wakeup()
	}
	p.checkGoneLocked()
	p.mu.Unlock()
	for i, c := range fail {
		p.finish1(c, nil, &TaskError{Task: c.name, Seq: c.seq, Worker: pids[i], Err: ErrStopped})
	}
	p.cancel() // spawn stops the workers: SIGTERM, then SIGKILL
	return p.finish()
}

// finish waits for every worker to be gone, then removes the sets once.
func (p *Pool) finish() error {
	<-p.gone
	p.doneOnce.Do(func() {
		p.cancel()
		p.closeErr = errors.Join(p.removeLocks(), p.closeServed())
		p.log.Debug("pool closed", "completed", p.completed.Load(), "failed", p.failed.Load())
		close(p.finished)
	})
	<-p.finished
	return p.closeErr
}

// checkGoneLocked closes gone when the pool is closing and no worker is
// left or being started.
func (p *Pool) checkGoneLocked() {
	if p.closing && p.slots == 0 {
		select {
		case <-p.gone:
		default:
			close(p.gone)
		}
	}
}

// retireIdleLocked closes the input of idle workers once a closing pool
// has nothing queued: they exit, and are not replaced.
func (p *Pool) retireIdleLocked() {
	if !p.closing || p.queued > 0 {
		return
	}
	for _, w := range p.workers {
		if len(w.inflight) == 0 && !w.closeIn {
			w.closeIn = true
			w.wakeup()
		}
	}
}

// depth is how many tasks a worker may hold: the one it runs and those
// it has been given ahead. Unless Prefetch fixes it, it keeps the time a
// task may wait behind the ones ahead of it in a worker around 1ms.
func (p *Pool) depthLocked() int {
	if p.cfg.prefetch > 0 {
		return p.cfg.prefetch
	}
	const budget = time.Millisecond
	if p.avg <= budget/maxDepth {
		return maxDepth
	}
	return max(1, int(budget/p.avg))
}

// dispatchLocked hands queued tasks to the least loaded ready workers
// that have room. Workers that were idle are added to direct if it is not
// nil: the caller writes to them itself once it has unlocked, sparing the
// latency of waking their writer goroutine; the others' writers are woken
// and send what piles up in one write.
func (p *Pool) dispatchLocked(direct *[]*worker) {
	if p.queued == 0 {
		return
	}
	depth := p.depthLocked()
	for p.queued > 0 {
		var best *worker
		for _, w := range p.workers {
			if w.retiring || w.closeIn || w.killed || len(w.inflight) >= depth ||
				len(w.inflight) > 0 && w.inBytes >= maxAheadBytes {
				continue
			}
			if best == nil || len(w.inflight) < len(best.inflight) {
				best = w
				if len(w.inflight) == 0 {
					break
				}
			}
		}
		if best == nil {
			return
		}
		c := p.queue.pop()
		for c != nil && c.state != stateQueued {
			c = p.queue.pop() // cancelled while queued
		}
		if c == nil {
			p.queued = 0
			return
		}
		p.queued--
		p.running++
		c.state = stateSent
		c.worker = best
		c.sentAt = time.Now()
		idle := len(best.inflight) == 0
		best.inflight = append(best.inflight, c)
		best.inBytes += len(c.in)
		if idle {
			p.headLocked(best)
		}
		best.outbox = append(best.outbox, c)
		best.sent++
		if p.cfg.maxTasks > 0 && best.sent >= p.cfg.maxTasks {
			best.retiring = true
		}
		if idle && direct != nil {
			*direct = append(*direct, best)
		} else {
			best.wakeup()
		}
	}
}

// queue is a FIFO of calls.
type queue struct {
	items []*call
	head  int
}

func (q *queue) push(c *call) { q.items = append(q.items, c) }

// pushFront puts calls back at the head, in order (a dead worker's
// unstarted tasks go first).
func (q *queue) pushFront(cs []*call) {
	rest := q.items[q.head:]
	items := make([]*call, 0, len(cs)+len(rest))
	items = append(items, cs...)
	q.items = append(items, rest...)
	q.head = 0
}

func (q *queue) pop() *call {
	if q.head == len(q.items) {
		return nil
	}
	c := q.items[q.head]
	q.items[q.head] = nil
	q.head++
	if q.head == len(q.items) {
		q.items, q.head = q.items[:0], 0
	} else if q.head > 1024 && q.head*2 > len(q.items) {
		n := copy(q.items, q.items[q.head:])
		clear(q.items[n:])
		q.items, q.head = q.items[:n], 0
	}
	return c
}
