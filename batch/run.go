package batch

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/oklog/run"
	"github.com/poolrun/poolrun/slots"
)

// Run runs the batch spec describes and returns how it went: how many
// jobs started, failed, were skipped or stopped.
//
// The error is nil when every input got its job (whether the jobs
// succeeded or not is in the Summary); a *SpecError when the Spec cannot
// run (nothing was started); ctx's error when ctx ended the batch (every
// running job was stopped first: SIGTERM to its process group, WaitDelay,
// SIGKILL); ErrOutputClosed when Stdout is a closed pipe (stopped the
// same way); a *WriteError when the joblog, a result file or Stdout could
// not be written (no job is started after it); or the error that stopped
// it otherwise (reading the inputs, taking a slot of the cap). Run returns
// once every job it started has ended.
func Run(ctx context.Context, spec Spec) (Summary, error) {
	r, err := newRun(&spec)
	if err != nil {
		return Summary{}, err
	}
	sum, err := r.run(ctx)
	if cerr := r.close(); err == nil {
		err = cerr
	}
	return sum, err
}

// batchRun is one batch: the parts that each own their state — the
// scheduler (slots, the cap, the inputs), the jobs' processes, the
// printer (order, tag, the output streams) and the recorder (joblog,
// results) — and the counts.
type batchRun struct {
	spec *Spec
	log  hclog.Logger
	cmd  *command
	// tagString is Spec.TagString parsed; nil: none.
	tagString *template
	sched     *scheduler
	procs     *procs
	out       *printer
	rec       *recorder
	tally     tally
	begin     time.Time

	closeCap slots.Cap     // the cap Run made (Spec.Cap nil): closed at the end
	pipe     *pipeRules    // Spec.Pipe, compiled; nil: not a pipe batch
	parts    *partSplitter // Pipe.Files, opened
	devNull  *os.File      // the jobs' stdin
	env      []string      // the jobs' environment, without their own variables

	shareWarn sync.Once
	hookMu    sync.Mutex  // Spec.Before and Spec.Ended: one call at a time
	startMu   sync.Mutex  // with Before or Ended: one job's start decided at a time
	js        *jobservers // nil: a dry run
	jsWarn    sync.Once

	paceMu    sync.Mutex // Delay: when the next job may start
	nextStart time.Time

	dispatchCtx  context.Context // done: start no more jobs
	stopDispatch context.CancelFunc

	errMu sync.Mutex
	err   error // the first error that stopped the batch (fail)

	counts *runCounts // what --plus's {##} {0#} {0%} render
}

// runCounts are the batch's values of --plus's {##} {0#} {0%}: the
// number of jobs (counted before the first starts, when a template
// needs it) and of slots.
type runCounts struct {
	total, slots int
}

// vars is what a job's templates are rendered with.
func (c *runCounts) vars(args []string, seq, slot int, context bool) *jobVars {
	v := &jobVars{args: args, seq: seq, slot: slot, context: context}
	if c != nil {
		v.total, v.slots = c.total, c.slots
	}
	return v
}

func newRun(spec *Spec) (_ *batchRun, err error) {
	r := &batchRun{spec: spec, log: spec.Logger}
	if r.log == nil {
		r.log = hclog.NewNullLogger()
	}
	if spec.Stdout == nil {
		spec.Stdout = io.Discard
	}
	if spec.Stderr == nil {
		spec.Stderr = io.Discard
	}
	if spec.WaitDelay <= 0 {
		spec.WaitDelay = time.Second
	}
	if err := spec.check(); err != nil {
		return nil, err
	}
	if spec.Pipe != nil {
		if r.pipe, err = compilePipe(spec.Pipe, spec); err != nil {
			return nil, err
		}
	}
	if spec.Argv {
		r.cmd = &command{argvMode: true}
	} else if r.cmd, err = parseCommandFor(spec.Command, spec); err != nil {
		return nil, &SpecError{Field: "Command", Err: err}
	}
	if r.pipe != nil && !spec.Pipe.Cat {
		r.cmd.appendIn = false // the input is on stdin; {} is empty
	}
	if spec.TagString != "" {
		t, err := parseTemplateWith(spec.TagString, "", spec.Plus)
		if err != nil {
			return nil, &SpecError{Field: "TagString", Err: err}
		}
		r.tagString = &t
	}
	defer func() {
		if err != nil {
			r.close()
		}
	}()
	if r.rec, err = newRecorder(spec); err != nil {
		return nil, err
	}
	limit, maxHeld := spec.Jobs, defaultMaxHeld
	if limit == AsManyAsPossible {
		limit = maxJobs // fitFiles makes it fewer, without a word, if need be
	}
	if !spec.DryRun {
		c := spec.Cap
		if c == nil {
			n := limit
			if n == 0 {
				n = runtime.NumCPU()
			}
			if c = jobserverCap(spec); c == nil {
				if c, err = slots.Default(n); err != nil {
					return nil, err
				}
			}
			r.closeCap = c
		}
		if limit == 0 {
			limit = c.Size()
		}
		r.sched = newScheduler(c, limit, r.shareFailed)
		if maxHeld, err = r.fitFiles(); err != nil {
			return nil, err
		}
		if r.devNull, err = os.Open(os.DevNull); err != nil {
			return nil, err
		}
	} else {
		if limit == 0 {
			limit = runtime.NumCPU()
		}
		r.sched = dryScheduler(limit)
	}
	if r.pipe != nil && len(spec.Pipe.Files) > 0 {
		if r.parts, err = openParts(spec.Pipe.Files, r.pipe, r.sched.limit); err != nil {
			return nil, err
		}
	}
	r.counts = &runCounts{slots: r.sched.limit}
	if r.rec.results != nil {
		r.rec.results.counts = r.counts
	}
	if pk := spec.Pack; r.needsTotal() && (pk != nil && (pk.Spread || pk.MaxChars > 0 || pk.MaxInputs == 0) || r.pipe != nil) {
		// GNU parallel: {##} "is incompatible with -X/-m/--xargs" (it
		// prints numbers that change as it goes), and --pipe with it dies.
		return nil, specErr("Command", "{##} and {0#} (the number of jobs) cannot be combined with -X, -m, --xargs, -s or --pipe: the number of jobs is not known before they run")
	}
	r.procs = newProcs(r.sched.limit)
	r.out = newPrinter(spec, r, maxHeld)
	drop := r.sched.keys
	if spec.SlotVar != "" {
		drop = append(drop[:len(drop):len(drop)], spec.SlotVar)
	}
	r.env = jobBaseEnv(spec.Env, drop)
	if !spec.DryRun {
		r.js, r.env = newJobservers(spec.Jobserver, r.env, r.sched.cap.Size())
	}
	return r, nil
}

// shareFailed says, once, that jobs run without what lets poolruns
// started in them share the cap.
func (r *batchRun) shareFailed(slot int, err error) {
	r.shareWarn.Do(func() {
		const format = "poolrun: warning: %s: the jobs of slot %d (and of any other slot this hits) run, but poolruns started inside them do not share the cap\n"
		msg := strings.TrimPrefix(err.Error(), "slots: ")
		if r.out == nil { // slot 1's, made before the printer (and any job)
			fmt.Fprintf(r.spec.Stderr, format, msg, slot)
			return
		}
		r.out.say(format, msg, slot) // a worker's: jobs may be printing
	})
	r.log.Debug("a slot without its share of the cap", "slot", slot, "error", err)
}

// check rejects a Spec that cannot work, before anything runs.
func (s *Spec) check() error {
	switch {
	case s.Jobs < 0 && s.Jobs != AsManyAsPossible:
		return specErr("Jobs", "%d jobs at once: want at least 1 (or 0 for the default)", s.Jobs)
	case s.Retries < 0:
		return specErr("Retries", "%d attempts: want at least 1", s.Retries)
	case s.Delay < 0:
		return specErr("Delay", "a negative delay (%v)", s.Delay)
	case s.Timeout < 0:
		return specErr("Timeout", "a negative timeout (%v)", s.Timeout)
	case s.Resume != ResumeNone && s.Joblog == "":
		return specErr("Resume", "resuming needs the joblog of the earlier run (Joblog)")
	case s.KeepOrder && s.Output == Ungrouped:
		return specErr("KeepOrder", "keeping the order needs grouped or line-buffered output: ungrouped output is the jobs' own")
	case (s.Tag || s.TagString != "") && s.Output == Ungrouped:
		return specErr("Tag", "tagging lines needs grouped or line-buffered output")
	case s.Files && s.Results != "":
		return specErr("Files", "the outputs go to files of their own (Files) or to Results, not both")
	case s.Halt.When != HaltNever && s.Halt.Percent == 0 && s.Halt.Count < 1:
		return specErr("Halt", "halt after %d jobs: want at least 1, or a percentage", s.Halt.Count)
	case s.Pack != nil && (s.Pack.MaxInputs < 0 || s.Pack.MaxChars < 0):
		return specErr("Pack", "packing with a negative limit (%d inputs, %d bytes)", s.Pack.MaxInputs, s.Pack.MaxChars)
	case s.Argv && len(s.Command) > 0:
		return specErr("Argv", "each input is its own command line (Argv): Command must be empty")
	case s.Halt.Percent < 0 || s.Halt.Percent > 100:
		return specErr("Halt", "halt at %v%% of the jobs: want more than 0 and at most 100", s.Halt.Percent)
	}
	return nil
}

func (r *batchRun) run(ctx context.Context) (Summary, error) {
	r.dispatchCtx, r.stopDispatch = context.WithCancel(context.Background())
	defer r.stopDispatch()
	r.begin = time.Now()
	var in *feed
	if r.pipe != nil {
		in = r.sched.feedBlocks(r)
	} else {
		src := r.inputs()
		if r.needsTotal() {
			// {##} and {0#}: every job is counted before the first starts,
			// as GNU parallel reads every input first for them.
			all, err := readAll(src)
			if err != nil {
				return Summary{}, err
			}
			r.counts.total = len(all)
			if pk := r.spec.Pack; pk != nil {
				// -N N: GNU parallel counts ceil(inputs/N).
				r.counts.total = (len(all) + pk.MaxInputs - 1) / pk.MaxInputs
			}
			src = &recordSource{rest: all}
		}
		if r.spec.Pack != nil {
			src = newPackSource(src, *r.spec.Pack, r.cmd, r.sched.limit)
		}
		in = r.sched.feed(src)
	}
	defer in.stop()

	var g run.Group
	{ // ctx: stops everything
		quit := make(chan struct{})
		g.Add(func() error {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-quit:
				return nil
			}
		}, func(error) { close(quit) })
	}
	{ // the dispatcher: takes slots of the cap, starts slot workers, waits for them
		g.Add(func() error {
			if err := r.sched.dispatch(r.dispatchCtx, r); err != nil {
				r.fail(err)
			}
			r.out.endJobs()
			return nil
		}, func(err error) {
			r.stopDispatch()
			if err != nil {
				r.log.Info("stopping every job", "reason", err)
				r.procs.stopAll()
			}
		})
	}
	if r.spec.KeepOrder {
		g.Add(func() error {
			r.out.inOrder(r)
			return nil
		}, func(error) {})
	}
	if r.spec.Drain != nil { // Drain closed: no more jobs start
		quit := make(chan struct{})
		g.Add(func() error {
			select {
			case <-r.spec.Drain:
				r.log.Debug("drain: starting no more jobs, waiting for the running ones")
				r.stopDispatch()
			case <-quit:
			}
			<-quit
			return nil
		}, func(error) { close(quit) })
	}
	if r.spec.Progress {
		stop := make(chan struct{})
		g.Add(func() error {
			r.progress(stop)
			return nil
		}, func(error) { close(stop) })
	}
	err := g.Run()
	sum := r.tally.summary()
	sum.Inputs = int(in.count.Load())
	r.log.Debug("done", "jobs", sum.Started, "failed", sum.Failed, "wall", time.Since(r.begin))
	switch {
	case err != nil:
		return sum, err
	case r.out.closed.Load():
		return sum, ErrOutputClosed
	}
	r.errMu.Lock()
	defer r.errMu.Unlock()
	return sum, r.err
}

// needsTotal reports whether a template renders the number of jobs
// ({##} or {0#}, with Plus).
func (r *batchRun) needsTotal() bool {
	if !r.spec.Plus {
		return false
	}
	ts := append([]template(nil), r.cmd.args...)
	if r.tagString != nil {
		ts = append(ts, *r.tagString)
	}
	if res := r.rec.results; res != nil && res.kind == resultsTemplate {
		ts = append(ts, res.tmpl)
	}
	for _, t := range ts {
		for _, p := range t.parts {
			if p.kind == pTotal || p.kind == pSeq0 {
				return true
			}
		}
	}
	return false
}

// recordSource is a Source of records read already.
type recordSource struct{ rest [][]string }

func (s *recordSource) Next() ([]string, error) {
	if len(s.rest) == 0 {
		return nil, io.EOF
	}
	rec := s.rest[0]
	s.rest = s.rest[1:]
	return rec, nil
}

// inputs is the batch's Source.
func (r *batchRun) inputs() Source {
	if r.spec.Inputs != nil {
		return r.spec.Inputs
	}
	if r.spec.Stdin == nil {
		return Args()
	}
	return Lines("stdin", r.spec.Stdin, '\n')
}

// fail records err as what stopped the batch (the first one counts) and
// starts no more jobs; running ones finish.
func (r *batchRun) fail(err error) {
	r.errMu.Lock()
	first := r.err == nil
	if first {
		r.err = err
	}
	r.errMu.Unlock()
	if first {
		r.log.Debug("stopping: no more jobs", "error", err)
	}
	r.stopDispatch()
}

// close removes what newRun made. Its error is the joblog's, which may
// have failed to close (its last lines lost).
func (r *batchRun) close() error {
	if r.sched != nil {
		r.sched.close()
	}
	if r.closeCap != nil {
		if err := r.closeCap.Close(); err != nil {
			r.log.Error("removing the cap", "error", err)
		}
	}
	var err error
	if r.rec != nil {
		err = r.rec.close()
	}
	if r.devNull != nil {
		r.devNull.Close()
	}
	if r.parts != nil {
		r.parts.close()
	}
	return err
}

// jobBaseEnv is env (nil: this process's) without the variables each job
// gets its own of.
func jobBaseEnv(env []string, drop []string) []string {
	if env == nil {
		env = os.Environ()
	}
	drop = append(drop, "POOLRUN_SEQ", "POOLRUN_SLOT", "PARALLEL_SEQ", "PARALLEL_JOBSLOT")
	out := make([]string, 0, len(env))
next:
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		for _, d := range drop {
			if k == d {
				continue next
			}
		}
		out = append(out, kv)
	}
	return out
}

// tally counts the batch's jobs and decides --halt.
type tally struct {
	started  atomic.Int64
	running  atomic.Int64
	finished atomic.Int64
	skipped  atomic.Int64

	mu         sync.Mutex
	done       int
	failed     int
	stopped    int
	halted     bool
	haltExit   int // the exit status of the job that made the batch halt
	haltFailed int // the jobs that had failed when it halted
}

// count records a finished job and reports whether it makes the batch
// halt (only the first time).
func (t *tally) count(j *job, h *Halt, total int) (halt bool) {
	t.finished.Add(1)
	t.mu.Lock()
	defer t.mu.Unlock()
	t.done++
	switch {
	case j.stopped:
		t.stopped++
	case j.failed:
		t.failed++
	}
	if !t.halted && h.reached(t.done, t.failed, total, int(t.started.Load())) {
		t.halted = true
		t.haltFailed = t.failed
		t.haltExit = j.exit
		if j.sig != 0 {
			t.haltExit = 128 + j.sig
		}
		return true
	}
	return false
}

// sayHaltKind says, as GNU parallel does with --halt, that a job of the
// kind --halt counts ended: "This job failed:" (fail=), "succeeded"
// (success=), "finished" (done=), then its command. Jobs Run stopped
// itself are not said.
func (r *batchRun) sayHaltKind(j *job) {
	h := &r.spec.Halt
	if h.When == HaltNever || j.stopped || j.skip {
		return
	}
	what := ""
	switch {
	case h.On == HaltOnFail && j.failed:
		what = "failed"
	case h.On == HaltOnSuccess && !j.failed:
		what = "succeeded"
	case h.On == HaltOnDone:
		what = "finished"
	default:
		return
	}
	r.out.say("poolrun: This job %s:\n%s\n", what, r.cmd.line(j.argv))
}

// setHalted records that j's end made the batch stop (Spec.Ended), unless
// something else did first.
func (t *tally) setHalted(j *job) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.halted {
		return
	}
	t.halted = true
	t.haltFailed = t.failed
	t.haltExit = j.exit
	if j.sig != 0 {
		t.haltExit = 128 + j.sig
	}
}

func (t *tally) summary() Summary {
	t.mu.Lock()
	defer t.mu.Unlock()
	return Summary{Started: int(t.started.Load()), Failed: t.failed, Skipped: int(t.skipped.Load()), Stopped: t.stopped, Halted: t.halted, HaltExit: t.haltExit, HaltFailed: t.haltFailed}
}

func (t *tally) failedNow() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.failed
}

// halt applies Halt once j's end has reached it, saying on Stderr which
// job it was, in GNU parallel's words.
func (r *batchRun) halt(j *job) {
	if r.spec.Halt.When == HaltSoon {
		if n := r.tally.running.Load() - 1; n > 0 { // the others still running
			r.out.say("poolrun: Starting no more jobs. Waiting for %d jobs to finish.\n", n)
		}
	}
	r.stopDispatch()
	if r.spec.Halt.When == HaltNow {
		r.log.Debug("halt: stopping the running jobs, starting no more")
		go r.procs.stopAll()
		return
	}
	r.log.Debug("halt: starting no more jobs, waiting for the running ones")
}
