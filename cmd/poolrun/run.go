package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/oklog/run"
	"github.com/poolrun/poolrun/semlock"
	"github.com/poolrun/poolrun/spawn"
)

// job is one input's run: what to run, and once it ended, how it went.
type job struct {
	seq       int
	slot      int
	input     string
	inherited bool // runs on the unit inherited from a parent poolrun
	path      string
	argv      []string

	start    time.Time
	dur      time.Duration
	exit     int // -1: killed by sig
	sig      int
	failed   bool
	stopped  bool // killed by poolrun itself (a signal, --halt now): not counted as failed
	timedOut bool
	stdout   output
	stderr   output

	skip bool // --resume: not run
	dry  bool // --dry-run: printed, not run
}

// runner is one batch run. Its lifecycle is an oklog/run group of actors:
// the signal handler, the dispatcher (which also waits for the jobs it
// started), the output writer and the progress bar.
type runner struct {
	o      *options
	log    hclog.Logger
	cmd    *command
	cap    *jobCap
	in     *inputs
	resume resumeState
	jl     *joblog

	dispatchCtx  context.Context // done: start no more jobs
	stopDispatch context.CancelFunc
	jobsCtx      context.Context // done: kill the running jobs
	stopJobs     context.CancelFunc

	free    chan int  // free slot numbers, 1..limit
	results chan *job // -k: finished jobs, to the output actor
	out     *bufio.Writer
	outBuf  []byte
	wg      sync.WaitGroup

	devNull *os.File
	cmdMu   sync.Mutex
	cmds    []*spawn.Cmd // running job by slot
	// Each slot's held mutex (see heldName) and its jobs' POOLRUN_SEMLOCKS
	// entry: made lazily by the slot's worker, removed at the end.
	slotLocks []*semlock.SemLock
	slotEnv   []string
	killing   bool       // stopAll was called
	outMu     sync.Mutex // --line-buffer: whole lines, one writer at a time
	begin     time.Time

	mu          sync.Mutex
	done        int
	failed      int
	halted      bool
	started     atomic.Int64
	skipped     atomic.Int64
	running     atomic.Int64
	finished    atomic.Int64
	dispatchErr error
	brokenPipe  atomic.Bool // stdout is a closed pipe

	// -k: finished jobs waiting for an earlier one whose large output
	// (> smallOutput) is held in an open file. No job starts while
	// maxHeld of them wait: one slow early job would otherwise make
	// poolrun hold a file per later job, up to the fd limit.
	heldFiles atomic.Int64
	heldFree  chan struct{} // a held job was printed
}

// maxHeld bounds the -k jobs waiting with their output in an open file
// (two descriptors at most each).
const maxHeld = 32

// tooManyHeld reports whether -k holds maxHeld large outputs.
func (r *runner) tooManyHeld() bool { return r.heldFiles.Load() >= maxHeld }

// errSignal is the signal that stopped the run.
type errSignal struct{ sig syscall.Signal }

func (e errSignal) Error() string { return "stopped by " + e.sig.String() }

// runBatch runs a batch and returns poolrun's exit status.
func runBatch(o *options, log hclog.Logger) int {
	cmd, err := parseCommand(o.command)
	if err != nil {
		return fail(usagef("%v", err))
	}
	in, err := openInputs(o, os.Stdin)
	if err != nil {
		return fail(err)
	}
	r := &runner{o: o, log: log, cmd: cmd, in: in}
	if o.resume || o.resumeFailed {
		if r.resume, err = readJoblog(o.joblog); err != nil {
			in.close()
			return fail(err)
		}
	}
	if o.results != "" {
		if err := os.MkdirAll(o.results, 0o755); err != nil {
			in.close()
			return fail(usagef("--results %s: %v", o.results, unwrapPath(err)))
		}
	}
	if o.joblog != "" && !o.dryRun {
		if r.jl, err = openJoblog(o.joblog, o.resume || o.resumeFailed); err != nil {
			in.close()
			return fail(err)
		}
		defer r.jl.close()
	}
	limit := o.jobs
	if !o.dryRun {
		if r.cap, err = openCap(o, log); err != nil {
			in.close()
			return fail(err)
		}
		defer func() {
			if err := r.cap.close(); err != nil {
				log.Error("removing the cap", "error", err)
			}
		}()
		limit = r.cap.limit
		if r.devNull, err = os.Open(os.DevNull); err != nil {
			in.close()
			return fail(err)
		}
		defer r.devNull.Close()
	}
	r.cmds = make([]*spawn.Cmd, limit+1)
	r.slotLocks = make([]*semlock.SemLock, limit+1)
	r.slotEnv = make([]string, limit+1)
	defer func() {
		for _, m := range r.slotLocks {
			if m != nil {
				if err := spawn.RemoveTracked(m); err != nil {
					log.Error("removing a slot's held mutex", "error", err)
				}
			}
		}
	}()
	r.free = make(chan int, limit)
	for i := 1; i <= limit; i++ {
		r.free <- i
	}
	r.results = make(chan *job, limit+16)
	r.heldFree = make(chan struct{}, 1)
	r.out = bufio.NewWriterSize(os.Stdout, 64<<10)
	r.outBuf = make([]byte, 64<<10)
	r.dispatchCtx, r.stopDispatch = context.WithCancel(context.Background())
	r.jobsCtx, r.stopJobs = context.WithCancel(context.Background())
	defer r.stopDispatch()
	defer r.stopJobs()
	r.begin = time.Now()

	stopReading := make(chan struct{})
	defer close(stopReading)
	go in.read(o.args, o.delim, stopReading)

	var g run.Group
	{ // signals: SIGINT/SIGTERM/SIGHUP stop everything
		sigs := make(chan os.Signal, 2)
		notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
		// A closed stdout (poolrun ... | head) becomes EPIPE errors that
		// stop the run cleanly, instead of killing poolrun outright.
		signal.Notify(make(chan os.Signal, 1), syscall.SIGPIPE)
		quit := make(chan struct{})
		g.Add(func() error {
			select {
			case s := <-sigs:
				return errSignal{s.(syscall.Signal)}
			case <-quit:
				return nil
			}
		}, func(error) {
			signal.Stop(sigs)
			close(quit)
		})
	}
	{ // the dispatcher: takes slots and units of the cap, starts slot workers, waits for them
		g.Add(func() error {
			err := r.dispatch()
			r.mu.Lock()
			r.dispatchErr = err
			r.mu.Unlock()
			return err
		}, func(err error) {
			r.stopDispatch()
			var se errSignal
			if errors.As(err, &se) {
				r.log.Info("stopping every job", "signal", se.sig.String())
				r.stopAll()
			}
		})
	}
	{ // the output writer of -k: puts finished jobs in input order
		g.Add(func() error {
			r.output()
			return nil
		}, func(error) {})
	}
	if o.bar && isTerminal(os.Stderr) {
		stop := make(chan struct{})
		g.Add(func() error {
			r.progress(stop)
			return nil
		}, func(error) { close(stop) })
	}
	err = g.Run()
	if log.IsDebug() {
		var ru syscall.Rusage
		syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		log.Debug("done", "jobs", r.started.Load(), "failed", r.failed, "wall", time.Since(r.begin),
			"user", time.Duration(ru.Utime.Nano()), "sys", time.Duration(ru.Stime.Nano()))
	}

	var se errSignal
	if errors.As(err, &se) {
		return 128 + int(se.sig)
	}
	if r.brokenPipe.Load() {
		return 128 + int(syscall.SIGPIPE)
	}
	if r.dispatchErr != nil {
		fmt.Fprintf(os.Stderr, "poolrun: %v\n", r.dispatchErr)
		return 255
	}
	if r.failed > 100 {
		return 101
	}
	return r.failed
}

// dispatch is the only goroutine that waits for the cap. For each free
// slot it takes the next input, waits for a unit of the cap and starts a
// worker on that slot. A worker runs its job, gives the unit back, and
// goes on with the next input itself while one is already queued and a
// unit can be had without waiting (the common case of a private cap), so
// that a busy batch costs no dispatcher round trip per job; otherwise it
// frees its slot and leaves the input queued. When dispatch returns, every
// worker has ended and the results channel is closed.
func (r *runner) dispatch() error {
	defer func() {
		r.wg.Wait()
		close(r.results)
	}()
	var buf []byte
	for {
		var slot int
		select {
		case slot = <-r.free:
		case <-r.dispatchCtx.Done():
			return nil
		}
		var it item
		for {
			var ok bool
			select {
			case it, ok = <-r.in.ch:
			case <-r.dispatchCtx.Done():
				return nil
			}
			if !ok {
				return r.in.err
			}
			if !r.passive(it, slot, &buf) {
				break
			}
		}
		for r.tooManyHeld() {
			select {
			case <-r.heldFree:
			case <-r.dispatchCtx.Done():
				r.free <- slot
				return nil
			}
		}
		inh, err := r.cap.acquire(r.dispatchCtx)
		if err != nil {
			r.free <- slot
			if r.dispatchCtx.Err() != nil {
				return nil
			}
			return fmt.Errorf("taking a slot of the cap (set %d): %w", r.cap.sem.ID(), err)
		}
		r.wg.Add(1)
		go r.worker(slot, inh, it)
	}
}

// item is one input and its job number, numbered as read.
type item struct {
	seq   int
	input string
}

// passive handles an input that runs nothing (skipped by --resume,
// printed by --dry-run) and reports whether it did.
func (r *runner) passive(it item, slot int, buf *[]byte) bool {
	if r.resume != nil {
		if succeeded, seen := r.resume[it.seq]; seen && (r.o.resume || succeeded) {
			r.skipped.Add(1)
			r.finish(&job{seq: it.seq, input: it.input, skip: true})
			return true
		}
	}
	if r.o.dryRun {
		j := &job{seq: it.seq, input: it.input, dry: true, slot: slot}
		j.path, j.argv = r.cmd.build(&jobVars{input: it.input, seq: it.seq, slot: slot}, buf)
		r.finish(j)
		return true
	}
	return false
}

// worker runs jobs on one slot, starting with it, holding a unit of the
// cap (inherited: the unit inherited from a parent poolrun).
func (r *runner) worker(slot int, inherited bool, it item) {
	defer r.wg.Done()
	var buf []byte
	for {
		j := &job{seq: it.seq, input: it.input, slot: slot, inherited: inherited}
		j.path, j.argv = r.cmd.build(&jobVars{input: it.input, seq: it.seq, slot: slot}, &buf)
		r.started.Add(1)
		r.running.Add(1)
		r.runJob(j)
		r.running.Add(-1)
		if err := r.cap.release(inherited); err != nil {
			r.log.Error("giving a slot back", "error", err)
		}
		// Go on with the next input if a unit is free now and an input is
		// already there; never wait here (only the dispatcher waits). The
		// unit is taken before the input: a worker that took an input
		// and then found no unit would have to hand the input back, and
		// the dispatcher may already have seen the input channel closed
		// and returned (that lost the input).
		if !r.next(slot, &inherited, &it, &buf) {
			break
		}
	}
	r.free <- slot
}

// next takes a unit of the cap without waiting and then, holding it, the
// next input without waiting. It reports whether it has both; if not,
// it has given the unit back and the input (if any) is still queued for
// the dispatcher. Inputs that run nothing (--resume, --dry-run) are
// handled on the way.
func (r *runner) next(slot int, inherited *bool, it *item, buf *[]byte) bool {
	for r.dispatchCtx.Err() == nil && !r.tooManyHeld() {
		inh, ok := r.cap.tryAcquire()
		if !ok {
			return false
		}
		var got bool
		select {
		case *it, got = <-r.in.ch:
		default:
		}
		if !got {
			if err := r.cap.release(inh); err != nil {
				r.log.Error("giving a slot back", "error", err)
			}
			return false
		}
		if r.passive(*it, slot, buf) {
			if err := r.cap.release(inh); err != nil {
				r.log.Error("giving a slot back", "error", err)
			}
			continue
		}
		*inherited = inh
		return true
	}
	return false
}

// runJob runs one job, with its retries, and hands it on for printing.
func (r *runner) runJob(j *job) {
	for attempt := 1; ; attempt++ {
		r.attempt(j)
		if j.skip {
			r.finish(j)
			return
		}
		if !j.failed || attempt >= r.o.retries || r.jobsCtx.Err() != nil {
			break
		}
		r.log.Debug("retrying", "job", j.seq, "attempt", attempt+1, "exit", j.exit)
		j.stdout.discard()
		j.stderr.discard()
	}
	r.count(j)
	r.finish(j)
}

// finish prints a finished job: at once (under the output lock), or with
// -k through the output actor, which puts jobs in order.
func (r *runner) finish(j *job) {
	if r.o.keepOrder {
		r.results <- j
		return
	}
	r.outMu.Lock()
	r.emit(j, r.out, r.outBuf)
	if err := r.out.Flush(); err != nil {
		r.writeFailed(err)
	}
	r.outMu.Unlock()
}

// attempt runs the job once. Jobs are started with a context that is
// never done (no watcher goroutine per job): stopping them is done by
// stopAll (signals, --halt now) and by a timer (--timeout).
func (r *runner) attempt(j *job) {
	c := newJobCmd(context.Background(), j.path, j.argv)
	var err error
	c.Env, err = r.jobEnv(j)
	c.Stdin = r.devNull
	c.WaitDelay = r.o.grace
	var lw [2]*lineWriter
	switch {
	case r.o.ungroup:
		c.Stdout, c.Stderr = os.Stdout, os.Stderr
	case r.o.lineBuffer:
		lw[0] = &lineWriter{mu: &r.outMu, w: os.Stdout, tag: r.tag(j), fail: r.writeFailed}
		lw[1] = &lineWriter{mu: &r.outMu, w: os.Stderr, tag: r.tag(j)}
		c.Stdout, c.Stderr = lw[0], lw[1]
	default:
		if cerr := r.captures(j); err == nil {
			err = cerr
		}
		c.Stdout, c.Stderr = j.stdout.f, j.stderr.f
	}
	j.start = time.Now()
	started := false
	if err == nil {
		started, err = r.start(j.slot, c)
	}
	// The --timeout timer stops the job unless Wait has returned; it
	// fired only if it did so (fired is read after Wait, under tmu).
	var (
		tmu          sync.Mutex
		fired, ended bool
	)
	if started {
		r.log.Trace("started", "job", j.seq, "slot", j.slot, "pid", c.Process.Pid)
		if r.o.timeout > 0 {
			t := time.AfterFunc(r.o.timeout, func() {
				tmu.Lock()
				if ended {
					tmu.Unlock()
					return
				}
				fired = true
				tmu.Unlock()
				c.Stop()
			})
			defer t.Stop()
		}
		err = c.Wait()
		r.ended(j.slot)
		// No SIGKILL to the group here: the leader is reaped, its pgid may
		// be reused; spawn kills a stopped job's group's leftovers before
		// it reaps the leader.
	}
	tmu.Lock()
	ended = true
	timedOut := fired
	tmu.Unlock()
	j.dur = time.Since(j.start)
	j.exit, j.sig, j.failed, j.timedOut, j.stopped = 0, 0, false, false, false
	if st := c.ProcessState; started && st != nil {
		ws, _ := st.Sys().(syscall.WaitStatus)
		switch {
		case ws.Signaled():
			j.exit, j.sig = -1, int(ws.Signal())
		default:
			j.exit = st.ExitCode()
		}
		j.failed = j.exit != 0
		// A job whose own process exited 0 succeeded, even if the timer
		// fired while it was exiting (its signal then found only the
		// exited leader).
		if timedOut && (j.failed || j.sig != 0) {
			j.timedOut, j.failed = true, true
			if j.exit == 0 {
				j.exit = -1
			}
			r.log.Warn("job timed out: its process group was killed", "job", j.seq, "timeout", r.o.timeout)
		} else if j.sig != 0 && r.jobsCtx.Err() != nil {
			j.stopped = true
		}
	} else {
		// Not started: the command could not be run, or poolrun is stopping.
		j.exit, j.failed = 127, true
		if err == nil {
			j.skip = true // never started: poolrun is stopping; not logged
		} else {
			msg := fmt.Sprintf("poolrun: job %d: %v\n", j.seq, err)
			switch {
			case j.stderr.f != nil:
				j.stderr.f.WriteString(msg)
			default:
				r.outMu.Lock()
				os.Stderr.WriteString(msg)
				r.outMu.Unlock()
			}
		}
	}
	for _, l := range lw {
		if l != nil {
			l.flush()
		}
	}
	j.stdout.sized()
	j.stderr.sized()
	r.detach(j)
}

// start starts c on slot unless poolrun is stopping every job; stopAll
// then stops it.
func (r *runner) start(slot int, c *spawn.Cmd) (bool, error) {
	r.cmdMu.Lock()
	defer r.cmdMu.Unlock()
	if r.killing {
		return false, nil
	}
	if err := c.Start(); err != nil {
		return false, err
	}
	r.cmds[slot] = c
	return true, nil
}

// ended forgets the job on slot once it has ended.
func (r *runner) ended(slot int) {
	r.cmdMu.Lock()
	r.cmds[slot] = nil
	r.cmdMu.Unlock()
}

// stopAll stops every running job's process group (TERM, --grace, KILL)
// and starts no more; it returns once they have all ended.
func (r *runner) stopAll() {
	r.stopJobs()
	r.cmdMu.Lock()
	r.killing = true
	var cs []*spawn.Cmd
	for _, c := range r.cmds {
		if c != nil {
			cs = append(cs, c)
		}
	}
	r.cmdMu.Unlock()
	var wg sync.WaitGroup
	for _, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// TERM to the job's process group, KILL after --grace; spawn
			// KILLs what is left of the group (grandchildren that ignore
			// TERM) before it reaps the job's own process, while the
			// group's id cannot have been reused.
			c.Stop()
		}()
	}
	wg.Wait()
}

// captures gives the job its output files: in --results DIR/SEQ, or
// anonymous in-memory files.
func (r *runner) captures(j *job) error {
	if r.o.results != "" {
		dir := filepath.Join(r.o.results, strconv.Itoa(j.seq))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		os.WriteFile(filepath.Join(dir, "cmd"), []byte(r.cmd.line(j.argv)+"\n"), 0o644)
		var err error
		if j.stdout.f, err = os.Create(filepath.Join(dir, "stdout")); err != nil {
			return err
		}
		j.stderr.f, err = os.Create(filepath.Join(dir, "stderr"))
		return err
	}
	// A fresh pair per job, never a slot's reused pair: a process the job
	// left behind outside its process group (setsid) may write to its
	// files long after the job ended, and must not write into the output
	// of a later job.
	var err error
	if j.stdout.f, err = newCapture("poolrun-stdout"); err != nil {
		return err
	}
	j.stderr.f, err = newCapture("poolrun-stderr")
	return err
}

// detach lets go of a finished job's empty capture files at once; the
// others stay with the job until it is printed (-k loads small ones into
// memory while they wait).
func (r *runner) detach(j *job) {
	if r.o.results != "" {
		return
	}
	for _, o := range [2]*output{&j.stdout, &j.stderr} {
		if o.f != nil && o.size == 0 {
			o.f.Close()
			o.f = nil
		}
	}
}

// jobEnv is the cap's environment plus the job's number and slot, and
// POOLRUN_SEMLOCKS with its slot's held mutex.
func (r *runner) jobEnv(j *job) ([]string, error) {
	if r.slotEnv[j.slot] == "" {
		// Made on the slot's first job, by the slot's worker (one at a
		// time per slot, handed on through r.free).
		m, err := spawn.NewTracked(semlock.Mutex, 1, 1)
		if err != nil {
			return nil, fmt.Errorf("creating the slot's held mutex: %w", err)
		}
		enc, err := r.cap.slotEnv(m.Handle())
		if err != nil {
			spawn.RemoveTracked(m)
			return nil, err
		}
		r.slotLocks[j.slot], r.slotEnv[j.slot] = m, enc
	}
	base := r.cap.env
	env := make([]string, len(base), len(base)+3)
	copy(env, base)
	return append(env, r.slotEnv[j.slot], "POOLRUN_SEQ="+strconv.Itoa(j.seq), "POOLRUN_SLOT="+strconv.Itoa(j.slot)), nil
}

func (r *runner) tag(j *job) []byte {
	if !r.o.tag {
		return nil
	}
	return []byte(j.input + "\t")
}

// count records a finished job and applies --halt.
func (r *runner) count(j *job) {
	r.finished.Add(1)
	r.mu.Lock()
	r.done++
	if j.failed && !j.stopped {
		r.failed++
	}
	total := 0
	if r.in.eof.Load() {
		total = int(r.in.count.Load() - r.skipped.Load())
	}
	halt := !r.halted && r.o.halt.reached(r.done, r.failed, total, int(r.started.Load()))
	if halt {
		r.halted = true
	}
	r.mu.Unlock()
	if halt {
		if r.o.halt.when == haltNow {
			r.log.Warn("--halt: killing the running jobs and starting no more", "done", r.done, "failed", r.failed)
			r.stopDispatch()
			go r.stopAll()
		} else {
			r.log.Warn("--halt: starting no more jobs, waiting for the running ones", "done", r.done, "failed", r.failed)
			r.stopDispatch()
		}
	}
}
