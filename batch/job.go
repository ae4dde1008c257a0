package batch

import (
	"context"
	"errors"
	"os"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/poolrun/poolrun/spawn"
)

// job is one input's run: what to run, and once it ended, how it went.
type job struct {
	seq   int
	slot  int
	input string   // the arguments, as {} shows them
	args  []string // the arguments, one per input source
	path  string
	argv  []string

	start    time.Time
	dur      time.Duration
	exit     int // -1: killed by sig
	sig      int
	failed   bool
	stopped  bool // killed by Run itself (HaltNow, ctx, output closed): not counted as failed
	timedOut bool
	stdout   output
	stderr   output
	file     string // Files: where its stdout was saved
	blk      *block // Pipe: its stdin
	sent     int64  // Pipe: the block's size, for the joblog

	skip bool // resumed: not run; or never started because the batch is stopping
	// startErr is why the command cannot start, known before trying
	// (Spec.Argv: not found in PATH).
	startErr    error
	endedCalled bool // Spec.Ended was told already (a job that could not start)
	dry         bool // dry run: printed, not run
	// shown is the command line as --dry-run and -t print it (GNU
	// parallel's shell line).
	shown string
}

// passive handles an input that runs nothing (skipped by Resume, printed
// by DryRun) and reports whether it did.
func (r *batchRun) passive(it item, slot int) bool {
	if it.blk != nil && (r.spec.DryRun || r.rec.resumed(it.seq)) {
		it.blk.release()
	}
	if r.rec.resumed(it.seq) {
		r.tally.skipped.Add(1)
		r.finish(&job{seq: it.seq, input: it.input(), skip: true})
		return true
	}
	if r.spec.DryRun {
		j := &job{seq: it.seq, input: it.input(), args: it.args, dry: true, slot: slot}
		var buf []byte
		v := r.counts.vars(it.args, it.seq, slot, it.context)
		j.path, j.argv = r.cmd.build(v, &buf)
		j.shown = r.cmd.shellLine(v)
		r.finish(j)
		return true
	}
	return false
}

// runJob runs one job on w's slot, with its retries, and hands it on for
// printing and records.
func (r *batchRun) runJob(w *slotWorker, it item) {
	if it.blk != nil {
		defer it.blk.release()
		if r.spec.Pipe.Cat {
			name, err := catFile(it.blk)
			if err != nil {
				r.fail(err)
				r.finish(&job{seq: it.seq, skip: true})
				return
			}
			defer os.Remove(name)
			it.args = []string{name}
		}
	}
	j := &job{seq: it.seq, input: it.input(), args: it.args, slot: w.slot, blk: it.blk}
	if it.blk != nil {
		j.sent = it.blk.size()
	}
	v := r.counts.vars(it.args, it.seq, w.slot, it.context)
	j.path, j.argv = r.cmd.build(v, &w.buf)
	if n := r.spec.ShellQuote; n > 0 {
		// GNU parallel's --shellquote: the job prints its command line,
		// quoted n times, instead of running it.
		line := r.cmd.shellLine(v)
		for range n {
			line = parallelQuote(line)
		}
		j.path, j.argv = r.cmd.shellPath, []string{r.cmd.shellName, "-c", `printf '%s\n' "$1"`, r.cmd.shellName, line}
	}
	if r.spec.Verbose {
		j.shown = r.cmd.shellLine(v)
	}
	if r.cmd.argvMode {
		j.startErr = r.cmd.lookErr(j.argv[0])
	}
	r.tally.started.Add(1)
	r.tally.running.Add(1)
	defer r.tally.running.Add(-1)
	for attempt := 1; ; attempt++ {
		r.attempt(j)
		if j.skip {
			r.finish(j)
			return
		}
		if !j.failed || attempt >= r.spec.Retries || r.procs.ctx.Err() != nil {
			break
		}
		r.log.Debug("retrying", "job", j.seq, "attempt", attempt+1, "exit", j.exit)
		j.stdout.discard()
		j.stderr.discard()
	}
	if err := r.rec.save(j); err != nil {
		r.fail(err)
	}
	if r.spec.Files {
		r.saveFile(j)
	}
	halt := r.tally.count(j, &r.spec.Halt, r.total())
	if r.spec.Ended != nil && !j.endedCalled && r.ended(j) {
		r.stopOnEnded(j)
	}
	// The job's output first, then what --halt says of it, as GNU
	// parallel prints them (finish only reads j from here on).
	r.finish(j)
	r.sayHaltKind(j)
	if halt {
		r.halt(j)
	}
}

// stopOnEnded stops the batch because Spec.Ended said so after j.
func (r *batchRun) stopOnEnded(j *job) {
	r.tally.setHalted(j)
	r.log.Debug("Ended: starting no more jobs, waiting for the running ones", "job", j.seq)
	r.stopDispatch()
}

// ended tells Spec.Ended how j ended and returns what it says.
func (r *batchRun) ended(j *job) bool {
	e := JobEnd{Seq: j.seq, Argv: j.argv, Exit: j.exit, Signal: j.sig, StartErr: j.startErr}
	r.hookMu.Lock()
	defer r.hookMu.Unlock()
	return r.spec.Ended(e)
}

// before asks Spec.Before whether j may start, and stops the batch if
// it says so.
func (r *batchRun) before(j *job) bool {
	r.hookMu.Lock()
	run, stop := r.spec.Before(j.argv)
	r.hookMu.Unlock()
	if stop {
		r.log.Debug("Before: starting no more jobs, waiting for the running ones", "job", j.seq)
		r.stopDispatch()
	}
	return run
}

// total is the number of jobs the batch runs, once every input is read;
// 0 before.
func (r *batchRun) total() int {
	in := r.sched.in
	if in == nil || !in.eof.Load() {
		return 0
	}
	return int(in.count.Load() - r.tally.skipped.Load())
}

// attempt runs the job once. Jobs are started with a context that is
// never done (no watcher goroutine per job): they are stopped by
// procs.stopAll (ctx, HaltNow, a closed output) and by a timer (Timeout).
func (r *batchRun) attempt(j *job) {
	// With Before or Ended, one start at a time, each decided before the
	// next: a job that could not start has told Ended (which may stop the
	// batch) before the next one asks Before or starts, as in xargs, which
	// learns that its exec failed before it forks again.
	locked := r.spec.Before != nil || r.spec.Ended != nil
	if locked {
		r.startMu.Lock()
		if r.spec.Ended != nil && r.dispatchCtx.Err() != nil {
			r.startMu.Unlock()
			j.skip = true // the batch is stopping: taken, never started
			r.tally.started.Add(-1)
			return
		}
	}
	if r.spec.Before != nil && !r.before(j) {
		r.startMu.Unlock()
		j.skip = true
		r.tally.started.Add(-1)
		return
	}
	c := spawn.Command(context.Background(), j.path, j.argv[1:]...)
	c.Args[0] = j.argv[0]
	c.Env = r.jobEnv(j)
	c.Stdin = r.devNull
	if r.spec.JobStdin != nil {
		c.Stdin = r.spec.JobStdin
	}
	c.WaitDelay = r.spec.WaitDelay
	c.Dir = r.spec.Dir
	var err error
	var lw [2]*lineWriter
	switch r.spec.Output {
	case Ungrouped:
		c.Stdout, c.Stderr = r.spec.Stdout, r.spec.Stderr
	case LineBuffered:
		lw[0], lw[1] = r.out.lineWriters(j)
		c.Stdout, c.Stderr = lw[0], lw[1]
	default:
		err = j.capture()
		c.Stdout, c.Stderr = j.stdout.f, j.stderr.f
	}
	r.waitReady()
	var sf *stdinFeed
	if j.blk != nil && err == nil && !r.spec.Pipe.Cat {
		if sf, err = newStdinFeed(); err == nil {
			c.Stdin = sf.r
		}
	}
	r.pace()
	if r.spec.Verbose {
		r.out.say("%s\n", j.shown)
	}
	j.start = time.Now()
	started := false
	if err == nil {
		err = j.startErr
	}
	if err == nil {
		// The job's jobserver, made after pace and j.start: Delay spaces
		// the starts themselves.
		if js := r.serve(); js != nil {
			c.ExtraFiles = js.Files()
			c.Env = r.js.env(c.Env, js)
			defer func() {
				if err := js.Close(); err != nil {
					r.log.Error("the job's jobserver", "job", j.seq, "error", err)
				}
			}()
		} else {
			c.Env = r.js.env(c.Env, nil)
		}
		started, err = r.procs.start(j.slot, c)
		if !started && err != nil && r.cmd.argvMode && errors.Is(err, syscall.ENOEXEC) {
			// execvp(3) runs a file the kernel cannot (a script without
			// #!) with /bin/sh, and so does GNU xargs.
			sh := spawn.Command(context.Background(), defaultShell, append([]string{j.path}, j.argv[1:]...)...)
			sh.Args[0] = j.argv[0]
			sh.Env, sh.Stdin, sh.Stdout, sh.Stderr, sh.WaitDelay, sh.Dir, sh.ExtraFiles = c.Env, c.Stdin, c.Stdout, c.Stderr, c.WaitDelay, c.Dir, c.ExtraFiles
			c = sh
			started, err = r.procs.start(j.slot, c)
		}
	}
	r.paced(j.start)
	if locked {
		if !started && err != nil && r.spec.Ended != nil {
			j.startErr, j.endedCalled = err, true
			j.exit, j.sig = 127, 0
			if r.ended(j) {
				r.stopOnEnded(j)
			}
		}
		r.startMu.Unlock()
	}
	// The Timeout timer stops the job unless Wait has returned; it fired
	// only if it did so (fired is read after Wait, under tmu).
	var (
		tmu          sync.Mutex
		fired, ended bool
	)
	if started {
		r.log.Trace("started", "job", j.seq, "slot", j.slot, "pid", c.Process.Pid)
		if sf != nil {
			sf.begin(j.blk)
		}
		if r.spec.Timeout > 0 {
			t := time.AfterFunc(r.spec.Timeout, func() {
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
		r.procs.ended(j.slot)
		// No SIGKILL to the group here: the leader is reaped, its pgid may
		// be reused; spawn kills a stopped job's group's leftovers before
		// it reaps the leader.
	}
	if sf != nil {
		if ferr := sf.end(); ferr != nil {
			r.fail(ferr)
		}
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
			r.out.say("poolrun: Warning: This job was killed because it timed out:\npoolrun: Warning: %s\n", r.cmd.line(j.argv))
			r.log.Debug("job timed out: its process group was killed", "job", j.seq, "timeout", r.spec.Timeout)
		} else if j.sig != 0 && r.procs.ctx.Err() != nil {
			j.stopped = true
		}
	} else {
		// Not started: the command could not be run, or Run is stopping.
		j.exit, j.failed = 127, true
		switch {
		case err == nil:
			j.skip = true // never started: the batch is stopping; not logged
		case r.spec.Ended != nil:
			// Ended was told, and says what it wants (see above).
		default:
			r.out.jobError(j, err)
		}
	}
	for _, l := range lw {
		if l != nil {
			l.flush()
		}
	}
	j.stdout.sized()
	j.stderr.sized()
	j.detach()
}

// jobEnv is the batch's environment plus the job's slot's Share, its
// number and its slot.
func (r *batchRun) jobEnv(j *job) []string {
	var share []string
	if sh := r.sched.share(j.slot); sh != nil {
		share = sh.Env()
	}
	env := make([]string, len(r.env), len(r.env)+len(share)+5)
	copy(env, r.env)
	env = append(env, share...)
	if r.spec.SlotVar != "" {
		env = append(env, r.spec.SlotVar+"="+strconv.Itoa(j.slot-1))
	}
	seq, slot := strconv.Itoa(j.seq), strconv.Itoa(j.slot)
	// GNU parallel's names too, for scripts written for it.
	return append(env, "POOLRUN_SEQ="+seq, "POOLRUN_SLOT="+slot, "PARALLEL_SEQ="+seq, "PARALLEL_JOBSLOT="+slot)
}

// procs is the jobs' processes: the running one of each slot, so that
// they can all be stopped at once.
type procs struct {
	ctx    context.Context // done: the running jobs are being stopped
	cancel context.CancelFunc

	mu      sync.Mutex
	running []*spawn.Cmd // by slot
	killing bool         // stopAll was called: start no more
}

func newProcs(limit int) *procs {
	p := &procs{running: make([]*spawn.Cmd, limit+1)}
	p.ctx, p.cancel = context.WithCancel(context.Background())
	return p
}

// start starts c on slot unless every job is being stopped; stopAll then
// stops it.
func (p *procs) start(slot int, c *spawn.Cmd) (bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.killing {
		return false, nil
	}
	if err := c.Start(); err != nil {
		return false, err
	}
	p.running[slot] = c
	return true, nil
}

// ended forgets the job on slot once it has ended.
func (p *procs) ended(slot int) {
	p.mu.Lock()
	p.running[slot] = nil
	p.mu.Unlock()
}

// stopAll stops every running job's process group (TERM, WaitDelay,
// KILL) and starts no more; it returns once they have all ended.
func (p *procs) stopAll() {
	p.cancel()
	p.mu.Lock()
	p.killing = true
	var cs []*spawn.Cmd
	for _, c := range p.running {
		if c != nil {
			cs = append(cs, c)
		}
	}
	p.mu.Unlock()
	var wg sync.WaitGroup
	for _, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// TERM to the job's process group, KILL after WaitDelay; spawn
			// KILLs what is left of the group (grandchildren that ignore
			// TERM) before it reaps the job's own process, while the
			// group's id cannot have been reused.
			c.Stop()
		}()
	}
	wg.Wait()
}

// pace waits until the next job may start (Spec.Delay). The caller
// starts its job and then calls paced with the start time: the next
// start is booked from the actual one, so that starts are at least Delay
// apart however long a start takes. Starts are one at a time meanwhile.
func (r *batchRun) pace() {
	if r.spec.Delay <= 0 {
		return
	}
	r.paceMu.Lock()
	if d := time.Until(r.nextStart); d > 0 {
		select {
		case <-time.After(d):
		case <-r.procs.ctx.Done():
		}
	}
}

// paced books the next start Delay after this one, at.
func (r *batchRun) paced(at time.Time) {
	if r.spec.Delay <= 0 {
		return
	}
	r.nextStart = at.Add(r.spec.Delay)
	r.paceMu.Unlock()
}

// readyPoll is how often Spec.Ready is asked again while it says no.
const readyPoll = time.Second

// waitReady waits until Spec.Ready says a job may start (GNU parallel's
// --load, --memfree), or the batch is stopping.
func (r *batchRun) waitReady() {
	if r.spec.Ready == nil {
		return
	}
	for !r.spec.Ready() {
		select {
		case <-time.After(readyPoll):
		case <-r.procs.ctx.Done():
			return
		}
	}
}
