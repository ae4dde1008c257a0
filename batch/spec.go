package batch

import (
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/poolrun/poolrun/jobserver"
	"github.com/poolrun/poolrun/slots"
)

// Spec describes a batch: the command, its inputs, the cap, and what to
// do with the output. The zero value of each field is a sane default.
type Spec struct {
	// Command is the command template, word by word, with GNU parallel's
	// replacement strings ({} {.} {/} {//} {/.} {#} {%}); with none, the
	// input is appended. Several words run directly, without a shell; one
	// word with shell syntax runs under sh -c, each replacement quoted for
	// where it sits. Empty: each input is a shell command.
	Command []string
	// Direct runs Command's words as they are, never under a shell, even
	// one word with shell syntax (GNU parallel's -q: "echo {} x" is then
	// a program of that name).
	Direct bool
	// Shell runs the commands that are shell code (a path; "": /bin/sh).
	// GNU parallel runs them under the shell that started it, so that
	// functions exported from bash (export -f) work.
	Shell string
	// Inputs yields one input per job. nil: the lines of Stdin.
	Inputs Source
	// Pack, if set, puts as many inputs into each job as fit (GNU
	// parallel's -m, -X, --xargs, -s, -N, -L).
	Pack *Packing
	// Replace, if set, is the string that stands for the input in Command
	// instead of {} (GNU parallel's -I); {} is then plain text. The other
	// replacement strings ({.} {#} ...) are unchanged.
	Replace string
	// Plus adds GNU parallel's --plus replacement strings, in Command,
	// TagString and Results: {+/} {+.} {+..} {+...} {..} {...} {/..}
	// {/...}, {##} (the number of jobs: every input is read before the
	// first job starts), {0#} {0%} (zero-padded {#} and {%}), and the
	// bash-like {:-str} {:N} {:N:M} {#re} {##re} {%re} {%%re} {/re/str}
	// {//re/str} {/#re/str} {/%re/str} {^re} {^^re} {,re} {,,re}, each
	// with a positional form ({2+.}, {-1:-x}) but for the job's values.
	// Regular expressions are Go's (RE2).
	Plus bool
	// ShellQuote, if more than 0, makes each job print its command line
	// (as DryRun shows it) quoted for the shell that many times, instead
	// of running it (GNU parallel's --shellquote, given ShellQuote times).
	ShellQuote int

	// Jobs is the most jobs run at once. 0: the cap's size if Cap is
	// set or inherited, else the number of CPUs. AsManyAsPossible: as
	// many as the machine's limits allow (descriptors), up to 1000.
	Jobs int
	// Cap is what jobs take their slots from. nil: slots.Default — the
	// cap inherited from the poolrun job this process runs in, or a
	// private cap of Jobs slots made for the batch and removed after it.
	// A Cap given here is not closed by Run. Under a make jobserver
	// (MAKEFLAGS in Env names a usable one) the default is a client of
	// it (jobserver.Client), unless Jobserver is jobserver.Off.
	Cap slots.Cap
	// Jobserver is the GNU make jobserver each job gets, backed by the
	// cap (docs/jobserver.md): jobserver.Pipe (the zero value: make 4.3
	// reads only this), jobserver.Fifo (make ≥ 4.4, ninja ≥ 1.13), or
	// jobserver.Off (none; the jobs' MAKEFLAGS lose their jobserver
	// words, and the batch is no client of one either).
	Jobserver jobserver.Style

	// Output is how jobs' output is printed (default: Grouped).
	Output OutputMode
	// KeepOrder prints outputs in input order. With LineBuffered, the
	// lines of the earliest job still running print as they come, and
	// each later job's wait (in memory) until the ones before it ended.
	KeepOrder bool
	// Tag prefixes each line of output with the input and a TAB.
	Tag bool
	// TagString, if set, is the tag instead of the input (and implies
	// Tag): a template with the replacement strings of Command, rendered
	// unquoted, followed by a TAB (GNU parallel's --tagstring).
	TagString string
	// Results, if set, saves each job's output in files instead of
	// printing it, in the layouts of GNU parallel's --results:
	//   - DIR: DIR/NAME/VALUE/…/{seq,stdout,stderr}, a NAME/VALUE pair
	//     for each argument of the job (see ArgNames);
	//   - a path with replacement strings, rendered for each job: its
	//     stdout in PATH, its stderr in PATH.err, its number in
	//     PATH.seq; if PATH ends in '/', a directory of the three;
	//   - NAME.csv, NAME.tsv, NAME.json: one table, a record per job
	//     (-.csv, -.tsv, -.json: the table on Stdout).
	Results string
	// ArgNames names a job's arguments in Results: argument i is named
	// ArgNames[i % len(ArgNames)] (a job of -n 2 over two sources has
	// four). nil: by position, 1, 2, ….
	ArgNames []string
	// Files saves each job's stdout in a new file in TempDir and prints
	// the file's name instead (GNU parallel's --files); the job's stderr
	// is discarded. The files are left for the caller.
	Files bool
	// TempDir is where Files puts its files. "": os.TempDir().
	TempDir string

	// Timeout, if set, kills a job that runs longer: SIGTERM to its
	// process group, then SIGKILL after WaitDelay. It counts as failed.
	Timeout time.Duration
	// WaitDelay is the time between SIGTERM and SIGKILL when a job is
	// stopped (a timeout, Halt with HaltNow, ctx done). 0: one second.
	WaitDelay time.Duration
	// Retries is how many times in all a failing job is run (0 or 1:
	// once). Only the last attempt's output is printed.
	Retries int
	// Halt stops the batch early on a condition.
	Halt Halt

	// Joblog, if set, is a file that gets one TSV line per job, with GNU
	// parallel's columns. It is started anew unless AppendJoblog or
	// Resume is set.
	Joblog       string
	AppendJoblog bool
	// Resume skips the jobs Joblog lists (ResumeAll), or reruns only the
	// ones it lists as failed (ResumeFailed). It needs Joblog.
	Resume ResumeMode
	// DryRun prints each job's command line on Stdout instead of running it.
	DryRun bool
	// Progress draws a progress bar on Stderr.
	Progress bool
	// Echo prints each job's command line on Stdout, before its output
	// (GNU parallel's -v; grouped output only).
	Echo bool
	// Verbose prints each job's command line on Stderr as it starts.
	Verbose bool
	// Dir is the jobs' working directory. "": this process's.
	Dir string
	// Delay spaces the jobs' starts at least this far apart.
	Delay time.Duration
	// Drain, if set, starts no more jobs once it is closed; the running
	// ones finish and Run returns as usual (GNU parallel on SIGHUP).
	Drain <-chan struct{}
	// Ready, if set, is asked before each job starts: while it returns
	// false the job waits (holding its slot), asked again every second.
	// GNU parallel's --load and --memfree are such tests.
	Ready func() bool

	// Stdin is read for inputs when Inputs is nil. Jobs get /dev/null.
	// With Pipe, it is the input split into blocks.
	Stdin io.Reader
	// Pipe, if set, gives each job a block of the input on its stdin
	// (GNU parallel's --pipe, --pipepart) instead of arguments.
	Pipe *Pipe
	// Stdout and Stderr get the jobs' output and poolrun's messages
	// about them. nil: discarded.
	Stdout, Stderr io.Writer
	// Env is the jobs' environment. nil: this process's. Each job also
	// gets POOLRUN_SEQ (its number), POOLRUN_SLOT (1..Jobs), the same as
	// GNU parallel's PARALLEL_SEQ and PARALLEL_JOBSLOT, and what it
	// needs to share the cap.
	Env []string
	// Logger gets the engine's logs. nil: none.
	Logger hclog.Logger

	// Argv makes each input the whole command line of its job, word by
	// word: run directly, argv[0] looked up in PATH as execvp(3) does, no
	// shell and no replacement strings. Command must be empty. GNU xargs's
	// personality builds its command lines itself and runs them so.
	Argv bool
	// JobStdin is the jobs' stdin. nil: /dev/null.
	JobStdin *os.File
	// SlotVar, if set, names a variable each job gets set to its slot
	// counted from 0 (GNU xargs's --process-slot-var).
	SlotVar string
	// Before, if set, is called just before each job starts, one call at a
	// time, with its command line (argv[0] first). run false skips the
	// job: it does not run and does not count as started (xargs's -t and
	// -p); stop true also stops the batch as Ended's true does.
	Before func(argv []string) (run, stop bool)
	// Ended, if set, is called as each job ends, one call at a time, with
	// how it ended; true stops the batch as Halt with HaltSoon does: no new
	// job starts, the running ones finish, and Summary.Halted is set. A job
	// that could not start is reported to Ended alone (Run prints nothing
	// of its own for it). It is how xargs's rules (stop on exit 255, on a
	// signal, on a command that cannot run) are built.
	Ended func(JobEnd) (stop bool)
}

// JobEnd is how one job ended, as Spec.Ended sees it.
type JobEnd struct {
	Seq  int      // the job's number, from 1
	Argv []string // its command line
	// Exit is its exit status; -1 if a signal killed it.
	Exit int
	// Signal is the signal that killed it; 0 if none.
	Signal int
	// StartErr is why the command could not start (then Exit is 127):
	// errors.Is(StartErr, fs.ErrNotExist) for a program not found,
	// fs.ErrPermission for one that is not executable.
	StartErr error
}

// AsManyAsPossible as Spec.Jobs runs as many jobs at once as the
// machine's limits allow, up to maxJobs (GNU parallel's -j 0).
const AsManyAsPossible = -1

// maxJobs is the most jobs AsManyAsPossible runs at once.
const maxJobs = 1000

// OutputMode is how the jobs' output reaches Stdout and Stderr.
type OutputMode uint8

const (
	// Grouped prints each job's stdout, then its stderr, whole when it
	// ends: never mixed with another job's output.
	Grouped OutputMode = iota
	// LineBuffered prints whole lines as they come; lines of different
	// jobs never mix.
	LineBuffered
	// Ungrouped lets jobs write to Stdout and Stderr directly.
	Ungrouped
)

// ResumeMode is what Spec.Resume does with an earlier run's joblog.
type ResumeMode uint8

const (
	// ResumeNone runs every job and starts a new joblog.
	ResumeNone ResumeMode = iota
	// ResumeAll skips every job the joblog lists.
	ResumeAll
	// ResumeFailed skips the jobs the joblog lists as succeeded.
	ResumeFailed
)

// Halt is when to stop a batch early: when Count jobs (or Percent of all
// of them) have failed, succeeded or finished. The zero Halt never stops.
type Halt struct {
	When    HaltWhen
	On      HaltOn
	Count   int     // at least this many jobs; used when Percent is 0
	Percent float64 // at least this share of the jobs, 0 < Percent <= 100
}

// HaltWhen is how a batch halts.
type HaltWhen uint8

const (
	// HaltNever runs every job.
	HaltNever HaltWhen = iota
	// HaltSoon starts no new job and lets running ones finish.
	HaltSoon
	// HaltNow starts no new job and stops the running ones.
	HaltNow
)

// HaltOn is what jobs Halt counts.
type HaltOn uint8

const (
	// HaltOnFail counts failed jobs.
	HaltOnFail HaltOn = iota
	// HaltOnSuccess counts jobs that succeeded.
	HaltOnSuccess
	// HaltOnDone counts every finished job.
	HaltOnDone
)

// reached reports whether the halt condition holds after done jobs
// finished, failed of them failed, out of total (0 if not known yet:
// then percentages count the jobs started so far, started).
func (h *Halt) reached(done, failed, total, started int) bool {
	if h.When == HaltNever {
		return false
	}
	n := failed
	switch h.On {
	case HaltOnSuccess:
		n = done - failed
	case HaltOnDone:
		n = done
	}
	if h.Percent == 0 {
		return n >= h.Count
	}
	if total == 0 {
		total = started
	}
	return total > 0 && float64(n)*100 >= h.Percent*float64(total)
}

// Summary is how a batch went.
type Summary struct {
	Inputs  int // inputs read (jobs to run, had the batch not stopped early)
	Started int // jobs started (a job's retries count once)
	Failed  int // jobs that failed, timeouts included; not those Run stopped
	Skipped int // jobs skipped by Resume
	Stopped int // jobs Run stopped itself (HaltNow, ctx done, output closed)
	Halted  bool
	// HaltExit is the exit status of the job whose end made the batch
	// halt (128+N if a signal N killed it), when Halted.
	HaltExit int
	// HaltFailed is how many jobs had failed when the batch halted (jobs
	// still running then may fail later: GNU parallel's exit status with
	// --halt is fixed when it halts).
	HaltFailed int
}

// ErrOutputClosed means Stdout is a closed pipe (poolrun ... | head): Run
// stopped the jobs and started no more.
var ErrOutputClosed = errors.New("batch: output closed")

// SpecError is a Spec that cannot run: nothing was started.
type SpecError struct {
	Field string // the Spec field at fault
	Err   error
}

func (e *SpecError) Error() string {
	return "batch: " + e.Err.Error()
}

func (e *SpecError) Unwrap() error { return e.Err }

func specErr(field, format string, args ...any) error {
	return &SpecError{Field: field, Err: fmt.Errorf(format, args...)}
}

// WriteError is a record or an output that could not be written (a full
// disk, a closed file): Run stopped starting jobs, since what they would
// leave would be lost.
type WriteError struct {
	Path string // the file ("" for Stdout)
	Err  error
}

func (e *WriteError) Error() string {
	if e.Path == "" {
		return "batch: writing the output: " + e.Err.Error()
	}
	return "batch: writing " + e.Path + ": " + e.Err.Error()
}

func (e *WriteError) Unwrap() error { return e.Err }
