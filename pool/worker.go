package pool

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/poolrun/poolrun/spawn"
)

// worker is the parent's side of one worker process: a writer goroutine
// sends its tasks, a reader goroutine takes its results and, when the
// stream ends, handles its exit; a third goroutine waits for it.
type worker struct {
	p    *Pool
	id   int
	cmd  *spawn.Cmd
	pid  int
	in   *os.File // tasks to the worker (its fd 3)
	out  *os.File // results from the worker (its fd 4)
	wake chan struct{}

	wmu      sync.Mutex // serializes writes to in
	buf      []byte
	inClosed bool

	ready    chan error    // the worker's first frame
	readDone chan struct{} // closed when readLoop is done with out
	exited   chan struct{} // closed when Wait returned; state is set then
	state    *os.ProcessState
	werr     error

	// Under Pool.mu.
	inflight []*call // sent, unanswered, in the order sent
	inBytes  int     // their inputs' size
	outbox   []*call // to send
	spare    []*call
	cancels  []uint64
	revokes  []uint64
	halts    []uint64
	sent     int
	lastDone time.Time
	retiring bool // MaxTasks reached: no more tasks, exit when idle
	closeIn  bool // close its input: it exits
	killed   bool // stopped by the pool (cancelled task stuck)
	halted   bool // said it starts no task after the one it runs (fHalted)
	exiting  bool // said it exits (a task called runtime.Goexit)
	added    bool // in p.workers
}

func (w *worker) wakeup() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// startWorker starts one worker and adds it to the pool once it is
// ready. On failure the caller still owns the slot.
func (p *Pool) startWorker() error {
	p.mu.Lock()
	p.nextID++
	id := p.nextID
	p.mu.Unlock()

	inR, inW, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("pool: start worker: %w: %w", ErrWorkerStart, err)
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		inR.Close()
		inW.Close()
		return fmt.Errorf("pool: start worker: %w: %w", ErrWorkerStart, err)
	}
	capFiles, serveCaps, err := p.servedFiles()
	if err != nil {
		inR.Close()
		inW.Close()
		outR.Close()
		outW.Close()
		return fmt.Errorf("pool: start worker: %w: %w", ErrWorkerStart, err)
	}
	cmd := spawn.Worker(p.ctx, workerRole)
	cmd.Name = "pool-worker-" + strconv.Itoa(id)
	cmd.ExtraFiles = append([]*os.File{inR, outW}, capFiles...)
	cmd.Env = append(p.workerEnviron(), workerEnv+"=v1 "+p.cfg.init, servedEnv+"="+p.servedConf())
	cmd.Locks = p.locks
	cmd.WaitDelay = p.cfg.waitDelay
	cmd.Stdout = os.Stderr // a task's prints must not mix with the service's stdout
	if p.cfg.logSet {
		cmd.Logger = p.cfg.log
	} else {
		cmd.Stderr = os.Stderr
	}
	err = cmd.Start()
	inR.Close()
	outW.Close()
	for _, f := range capFiles {
		f.Close()
	}
	serveCaps() // after a failed Start too: its ends are closed, so Serve returns
	if err != nil {
		inW.Close()
		outR.Close()
		return fmt.Errorf("pool: start worker: %w: %w", ErrWorkerStart, err)
	}
	w := &worker{
		p: p, id: id, cmd: cmd, pid: cmd.Process.Pid, in: inW, out: outR,
		wake: make(chan struct{}, 1), ready: make(chan error, 1), exited: make(chan struct{}),
		readDone: make(chan struct{}),
	}
	go w.waitLoop()
	go w.readLoop()
	t := time.NewTimer(p.cfg.startTimeout)
	defer t.Stop()
	select {
	case err = <-w.ready:
	case <-t.C:
		err = fmt.Errorf("not ready after %v", p.cfg.startTimeout)
	}
	if err == nil {
		p.mu.Lock()
		if p.stopped {
			err = ErrStopped
		} else {
			w.added = true
			p.workers = append(p.workers, w)
			go w.writeLoop()
			p.dispatchLocked(nil)
			p.stealLocked(w)
			p.retireIdleLocked()
		}
		p.mu.Unlock()
		if err == nil {
			p.log.Debug("worker ready", "worker", w.pid, "id", id)
			return nil
		}
	}
	// Not ready: make sure it is gone, then say how it ended.
	inW.Close()
	select {
	case <-w.exited:
	case <-time.After(100 * time.Millisecond):
		w.cmd.Stop()
		<-w.exited
	}
	how := "still running"
	if w.state != nil {
		how = w.state.String()
	}
	hint := ""
	if w.state != nil && errors.Is(err, io.EOF) {
		hint = " (does this binary's main call pool.Dispatch() first?)"
	}
	return fmt.Errorf("pool: worker pid %d did not start (%s): %w: %v%s", w.pid, how, ErrWorkerStart, err, hint)
}

func (w *worker) waitLoop() {
	w.werr = w.cmd.Wait()
	w.state = w.cmd.ProcessState
	close(w.exited)
	// Results written just before the exit are still in the pipe: the
	// reader gets them, then EOF. Unless a grandchild holds the pipe's
	// write end open: then stop reading after a while.
	select {
	case <-w.readDone:
	case <-time.After(2 * time.Second):
	}
	w.out.Close()
}

// readLoop reads the worker's frames: first its readiness, then results.
func (w *worker) readLoop() {
	fr := newFrameReader(w.out)
	defer close(w.readDone)
	f, err := fr.next()
	switch {
	case err != nil:
		w.ready <- err
		return
	case f.typ == fInitFailed:
		w.ready <- fmt.Errorf("initializer %q failed: %s", w.p.cfg.init, f.body)
		return
	case f.typ != fReady:
		w.ready <- fmt.Errorf("first frame of type %d, not ready", f.typ)
		return
	}
	w.ready <- nil
	for {
		f, err = fr.next()
		if err != nil {
			break
		}
		switch f.typ {
		case fOK, fErr:
			err = w.p.result(w, f)
		case fRevoked:
			w.p.revoked(w, f.id)
		case fHalted:
			w.p.halted(w, f.id)
		default:
			err = fmt.Errorf("pool: unexpected frame of type %d from worker", f.typ)
		}
		if err != nil {
			break
		}
	}
	if err != io.EOF {
		w.p.log.Error("worker stream broken, stopping it", "worker", w.pid, "error", err)
		w.cmd.Stop()
	}
	<-w.exited
	w.p.workerGone(w)
}

// writeLoop sends the tasks and cancellations queued for the worker
// whenever it is woken: what piles up meanwhile goes in one write.
func (w *worker) writeLoop() {
	for range w.wake {
		if w.flush() {
			return
		}
	}
}

// flush writes what is queued for the worker, and closes its input if
// the pool says so (then it returns true).
func (w *worker) flush() (closed bool) {
	p := w.p
	w.wmu.Lock()
	defer w.wmu.Unlock()
	if w.inClosed {
		return true
	}
	p.mu.Lock()
	out := w.outbox
	w.outbox = w.spare[:0]
	w.spare = out
	cancels := w.cancels
	w.cancels = nil
	revokes := w.revokes
	w.revokes = nil
	halts := w.halts
	w.halts = nil
	closeIn := w.closeIn
	p.mu.Unlock()
	buf := w.buf[:0]
	for _, c := range out {
		var dl int64
		if d, ok := c.ctx.Deadline(); ok {
			dl = d.UnixNano()
		}
		buf = appendTask(buf, c.seq, dl, int64(p.cfg.timeout), c.name, c.in)
	}
	clear(out)
	for _, id := range cancels {
		buf = appendHeader(buf, fCancel, id, 0)
	}
	for _, id := range revokes {
		buf = appendHeader(buf, fRevoke, id, 0)
	}
	for _, id := range halts {
		buf = appendHeader(buf, fHalt, id, 0)
	}
	if len(buf) > 0 && !closeIn {
		// An error means the worker is gone: the reader handles it.
		w.in.Write(buf)
	}
	if cap(buf) > 1<<20 {
		buf = nil
	}
	w.buf = buf
	if closeIn {
		w.in.Close()
		w.inClosed = true
	}
	return closeIn
}

// result completes the task a worker answered.
func (p *Pool) result(w *worker, f frame) error {
	now := time.Now()
	p.mu.Lock()
	i := 0
	for i < len(w.inflight) && w.inflight[i].seq != f.id {
		i++
	}
	if i == len(w.inflight) {
		p.mu.Unlock()
		return fmt.Errorf("pool: worker answered task #%d, which it was not given", f.id)
	}
	c := w.inflight[i]
	w.inBytes -= len(c.in)
	if c.timer != nil {
		c.timer.Stop()
	}
	if i == 0 {
		w.inflight[0] = nil
		w.inflight = w.inflight[1:]
		p.headLocked(w)
	} else {
		w.inflight = append(w.inflight[:i], w.inflight[i+1:]...)
	}
	p.running--
	if i == 0 {
		// The task's run time: from when the worker could start it. One
		// answered out of turn (cancelled before it started) did not run.
		start := c.sentAt
		if w.lastDone.After(start) {
			start = w.lastDone
		}
		w.lastDone = now
		p.avg += (now.Sub(start) - p.avg) / 8
	}
	pid := w.pid
	if f.typ == fErr && len(f.body) > 0 && f.body[0] == kGoexit {
		// The worker exits after this: it runs nothing it was given
		// after this task, which go back to the queue when it is gone.
		w.exiting = true
		w.closeIn = true
		w.wakeup()
	}
	p.dispatchLocked(nil)
	if len(w.inflight) == 0 && (w.retiring || p.closing && p.queued == 0) && !w.closeIn {
		w.closeIn = true
		w.wakeup()
	}
	p.stealLocked(w)
	p.mu.Unlock()

	if f.typ == fOK {
		p.finish1(c, f.body, nil)
		return nil
	}
	e, err := parseErr(f.body)
	if err != nil {
		return err
	}
	te := &TaskError{Task: c.name, Seq: c.seq, Worker: pid, Msg: e.msg}
	switch e.kind {
	case kPanic, kGoexit:
		te.Err, te.Stack = ErrPanic, e.stack
	case kUnknown:
		te.Err = ErrUnknownTask
		te.Msg = "not registered in the worker: Define it at package level (or before pool.Dispatch in main)"
	case kCanceled:
		te.Err, te.Msg = context.Canceled, ""
	case kDeadline:
		te.Err, te.Msg = context.DeadlineExceeded, ""
	case kTooLarge:
		te.Err = ErrTooLarge
	case kLimit:
		te.Err = ErrRemote
		te.Msg = "taking a slot of the pool's limit: " + e.msg
	default:
		te.Err = ErrRemote
	}
	p.finish1(c, nil, te)
	return nil
}

// headLocked starts the Timeout option's clock for the task at the head
// of w's tasks: the one it runs now (tasks given ahead wait in order).
func (p *Pool) headLocked(w *worker) {
	if p.cfg.timeout <= 0 || len(w.inflight) == 0 {
		return
	}
	c := w.inflight[0]
	if c.timer == nil && !c.fin.Load() {
		c.timer = time.AfterFunc(p.cfg.timeout, func() { p.cancelCall(c, context.DeadlineExceeded) })
	}
}

// stealLocked gives idle worker w tasks that another worker has been
// given but not started, when nothing is queued: a task must not wait
// behind a slow one while a worker idles. It asks that worker to give
// back the later half of them; those it has not started come back
// (revoked) and are queued again, first.
func (p *Pool) stealLocked(w *worker) {
	if p.queued > 0 || len(w.inflight) > 0 || w.retiring || w.closeIn || w.killed || p.closing {
		return
	}
	var victim *worker
	most := 0
	for _, v := range p.workers {
		if v == w || v.closeIn {
			continue
		}
		n := 0
		for _, c := range v.inflight[min(1, len(v.inflight)):] { // never the one it runs
			if !c.revoking && !c.fin.Load() {
				n++
			}
		}
		if n > most {
			victim, most = v, n
		}
	}
	if victim == nil {
		return
	}
	want := (most + 1) / 2
	for i := len(victim.inflight) - 1; i >= 1 && want > 0; i-- {
		if c := victim.inflight[i]; !c.revoking && !c.fin.Load() {
			c.revoking = true
			victim.revokes = append(victim.revokes, c.seq)
			want--
		}
	}
	victim.wakeup()
}

// revoked queues again a task its worker gave back unstarted.
func (p *Pool) revoked(w *worker, id uint64) {
	p.mu.Lock()
	var c *call
	for i, x := range w.inflight {
		if x.seq == id {
			c = x
			w.inBytes -= len(c.in)
			w.inflight = append(w.inflight[:i], w.inflight[i+1:]...)
			if c.timer != nil {
				// It became w's first task (the Timeout clock started)
				// before w read the revocation: its clock starts again
				// where it runs, and w's next task's starts now.
				c.timer.Stop()
				c.timer = nil
			}
			if i == 0 {
				p.headLocked(w)
			}
			break
		}
	}
	var direct []*worker
	if c != nil {
		p.running--
		c.revoking = false
		if !c.fin.Load() && !p.stopped {
			c.state, c.worker = stateQueued, nil
			p.queue.pushFront([]*call{c})
			p.queued++
			p.dispatchLocked(&direct)
		}
		if len(w.inflight) == 0 && (w.retiring || p.closing && p.queued == 0) && !w.closeIn {
			w.closeIn = true
			w.wakeup()
		}
	}
	p.mu.Unlock()
	for _, d := range direct {
		d.flush()
	}
}

// workerGone handles a worker's exit: the task it was running fails,
// the ones it had not started go back to the queue, and a replacement
// starts unless the pool is closing with nothing left to do.
func (p *Pool) workerGone(w *worker) {
	how := "exited"
	if w.state != nil {
		how = w.state.String()
	} else if w.werr != nil {
		how = w.werr.Error()
	}
	p.mu.Lock()
	for i, x := range p.workers {
		if x == w {
			p.workers = append(p.workers[:i], p.workers[i+1:]...)
			break
		}
	}
	pending := w.inflight
	w.inflight, w.inBytes = nil, 0
	// Clean: it exited 0 with nothing pending after the pool closed its
	// input (Close, or MaxTasks reached).
	clean := w.closeIn && !w.killed && len(pending) == 0 && w.state != nil && w.state.Success()
	if !w.closeIn {
		w.closeIn = true
		w.wakeup()
	}
	p.running -= len(pending)
	var head *call
	if len(pending) > 0 {
		rest := pending
		// It was running the first; an exiting worker, none; a halted
		// one, none but the cancelled task it was halted for (already
		// finished): every other goes back.
		if !w.exiting && !w.halted {
			head, rest = pending[0], pending[1:]
			if head.timer != nil {
				head.timer.Stop()
			}
		}
		var back []*call
		for _, c := range rest {
			if c.timer != nil {
				c.timer.Stop()
				c.timer = nil
			}
			if !c.fin.Load() && !p.stopped {
				c.state, c.worker, c.revoking = stateQueued, nil, false
				back = append(back, c)
			}
		}
		p.queue.pushFront(back)
		p.queued += len(back)
	}
	replace := !p.stopped && (!p.closing || p.queued > 0)
	if !replace {
		p.slots--
		p.checkGoneLocked()
	}
	if clean && w.retiring && replace {
		p.recycled.Add(1)
	} else if replace {
		p.restarts.Add(1)
	}
	p.dispatchLocked(nil)
	p.mu.Unlock()

	if clean {
		p.log.Debug("worker exited", "worker", w.pid, "status", how)
	} else if !p.isStopped() {
		p.log.Warn("worker died", "worker", w.pid, "status", how, "task", taskName(head), "replace", replace)
	}
	if head != nil && !head.fin.Load() {
		p.finish1(head, nil, &TaskError{Task: head.name, Seq: head.seq, Worker: w.pid, Err: ErrWorkerDied, Msg: how})
	}
	if replace {
		go p.replace()
	}
}

func taskName(c *call) string {
	if c == nil {
		return ""
	}
	return fmt.Sprintf("%s #%d", c.name, c.seq)
}

func (p *Pool) isStopped() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stopped
}

// replace starts a worker in a slot whose worker is gone, retrying a
// few times; if it cannot and no worker is left, the pool is broken:
// queued tasks fail with the start error.
func (p *Pool) replace() {
	var err error
	for attempt := range 3 {
		if p.isStopped() {
			break
		}
		if err = p.startWorker(); err == nil {
			return
		}
		p.log.Error("replacement worker did not start", "attempt", attempt+1, "error", err)
		time.Sleep(time.Duration(100<<attempt) * time.Millisecond)
	}
	p.mu.Lock()
	p.slots--
	var fail []*call
	if len(p.workers) == 0 && p.slots == 0 && err != nil {
		p.broken = err
		for c := p.queue.pop(); c != nil; c = p.queue.pop() {
			if c.state == stateQueued {
				fail = append(fail, c)
			}
		}
		p.queued = 0
	}
	if p.slots == 0 {
		p.closing = p.closing || p.broken != nil
	}
	p.checkGoneLocked()
	p.mu.Unlock()
	for _, c := range fail {
		p.finish1(c, nil, &TaskError{Task: c.name, Seq: c.seq, Err: err})
	}
}
