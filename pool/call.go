package pool

import (
	"context"
	"fmt"
	"slices"
	"sync/atomic"
	"time"
)

const (
	stateQueued    = iota // in the pool's queue
	stateSent             // handed to a worker
	stateCancelled        // its ctx ended while it was queued
)

// call is one submitted task, from Submit to its result.
type call struct {
	seq  uint64
	name string
	in   []byte
	ctx  context.Context
	idx  int // position in a Map's inputs

	stopWatch func() bool // stops the ctx watcher

	// Under Pool.mu.
	state    int
	worker   *worker
	timer    *time.Timer // the Timeout option's, from when it runs
	sentAt   time.Time
	revoking bool // asked back from its worker

	fin    atomic.Bool
	done   chan struct{}
	out    []byte
	err    error
	notify chan<- *call // a Map's results channel, or nil
}

// submit queues a task. It never blocks: back-pressure is Map's window.
// known says name is registered (a Task's): no need to look it up.
func (p *Pool) submit(ctx context.Context, name string, known bool, in []byte, notify chan<- *call, idx int) *call {
	c := &call{name: name, in: in, done: make(chan struct{}), notify: notify, idx: idx}
	if err := ctx.Err(); err != nil {
		p.finish1(c, nil, &TaskError{Task: name, Err: err})
		return c
	}
	if !known && !registered(name) {
		p.finish1(c, nil, &TaskError{Task: name, Err: ErrUnknownTask,
			Msg: "no task of this name is registered: define it with pool.Define (or pool.Register) at package level"})
		return c
	}
	if !taskFits(name, in) {
		p.finish1(c, nil, &TaskError{Task: name, Err: ErrTooLarge,
			Msg: fmt.Sprintf("input of %d bytes: a task's input may have at most %d bytes, less its name's", len(in), maxFrame-headerSize-18)})
		return c
	}
	c.ctx = ctx
	p.mu.Lock()
	if p.closing || p.broken != nil {
		err := error(&TaskError{Task: name, Err: ErrClosed})
		if p.broken != nil {
			err = &TaskError{Task: name, Err: p.broken}
		}
		p.mu.Unlock()
		p.finish1(c, nil, err)
		return c
	}
	p.seq++
	c.seq = p.seq
	if ctx.Done() != nil {
		c.stopWatch = context.AfterFunc(ctx, func() { p.cancelCall(c, context.Cause(ctx)) })
	}
	p.queue.push(c)
	p.queued++
	var direct []*worker
	p.dispatchLocked(&direct)
	p.mu.Unlock()
	for _, w := range direct {
		w.flush()
	}
	return c
}

// finish1 completes c once: later calls (a result after a cancellation)
// are ignored.
func (p *Pool) finish1(c *call, out []byte, err error) {
	if !c.fin.CompareAndSwap(false, true) {
		return
	}
	c.out, c.err = out, err
	if c.stopWatch != nil {
		c.stopWatch()
	}
	if err != nil {
		p.failed.Add(1)
	} else {
		p.completed.Add(1)
	}
	close(c.done)
	if c.notify != nil {
		c.notify <- c
	}
}

// cancelCall runs when c's ctx is done, or its Timeout has passed: c
// fails with cause at once; the worker it was given to is told: one that
// has not started it drops it and answers at once, one that runs it
// cancels its ctx and is stopped if the task has not returned after
// CancelGrace.
func (p *Pool) cancelCall(c *call, cause error) {
	if c.fin.Load() {
		return // its result came first
	}
	p.mu.Lock()
	if c.timer != nil {
		c.timer.Stop()
	}
	var w *worker
	switch c.state {
	case stateQueued:
		c.state = stateCancelled
		p.queued--
	case stateSent:
		if c.worker != nil && !c.worker.closeIn {
			w = c.worker
			w.cancels = append(w.cancels, c.seq)
			w.wakeup()
		}
	}
	p.mu.Unlock()
	pid := 0
	if w != nil {
		pid = w.pid
	}
	p.finish1(c, nil, &TaskError{Task: c.name, Seq: c.seq, Worker: pid, Err: cause})
	if w != nil {
		// Armed once c has finished: if w is stopped for it, c is
		// not queued again as one of w's unstarted tasks.
		time.AfterFunc(p.cfg.cancelGrace, func() { p.checkCancelled(w, c) })
	}
}

// checkCancelled runs CancelGrace after c was cancelled. If w still has
// not answered c and runs it (c is the first of its tasks), w is asked
// to halt: to start no other task, and say so if it still runs c. The
// pool stops w when it says so (see halted), never on its own guess: c
// may have returned just now, and the signal would then kill the next
// task, innocent. A worker that does not answer within WaitDelay is
// stopped all the same. A task given ahead of time is answered as soon
// as the worker reads the cancellation; one still unanswered behind
// another is checked again later, never a reason to stop the worker and
// fail the task it runs.
func (p *Pool) checkCancelled(w *worker, c *call) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if w.closeIn || w.killed {
		return
	}
	switch i := slices.Index(w.inflight, c); {
	case i == 0:
		w.halts = append(w.halts, c.seq)
		w.wakeup()
		time.AfterFunc(p.cfg.waitDelay, func() { p.unresponsive(w, c) })
	case i > 0:
		time.AfterFunc(max(p.cfg.cancelGrace, 100*time.Millisecond), func() { p.checkCancelled(w, c) })
	}
}

// halted stops w, which said it still runs cancelled task seq and will
// start no other.
func (p *Pool) halted(w *worker, seq uint64) {
	p.mu.Lock()
	w.halted = true
	stop := !w.killed
	w.killed = true
	p.mu.Unlock()
	if stop {
		p.log.Warn("stopping worker: cancelled task did not return", "worker", w.pid, "seq", seq, "grace", p.cfg.cancelGrace)
		go w.cmd.Stop()
	}
}

// unresponsive stops w if, WaitDelay after it was asked to halt, it
// neither said so nor answered c.
func (p *Pool) unresponsive(w *worker, c *call) {
	p.mu.Lock()
	stop := !w.killed && !w.closeIn && slices.Index(w.inflight, c) == 0
	if stop {
		w.killed = true
	}
	p.mu.Unlock()
	if stop {
		p.log.Warn("stopping worker: it did not answer a halt for its cancelled task", "worker", w.pid, "task", c.name, "seq", c.seq)
		go w.cmd.Stop()
	}
}
