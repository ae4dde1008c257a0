package batch

import (
	"errors"
	"os"
	"sync"
)

// recorder keeps the batch's records: the joblog (and what an earlier
// run's joblog says for Resume) and the Results directory. A record that
// cannot be written (a full disk) is an error that stops the batch: the
// records of later jobs would be lost, and a resumed run would run again
// the jobs whose lines are missing.
type recorder struct {
	jl      *joblog
	resume  resumeState // nil: not resuming
	mode    ResumeMode
	results *results // nil: no Results

	mu     sync.Mutex
	failed bool // a write failed: later ones are not tried
}

func newRecorder(spec *Spec) (*recorder, error) {
	rec := &recorder{mode: spec.Resume}
	var err error
	if spec.Resume != ResumeNone {
		if rec.resume, err = readJoblog(spec.Joblog); err != nil {
			return nil, err
		}
	}
	if spec.Results != "" {
		if rec.results, err = newResults(spec); err != nil {
			return nil, err
		}
	}
	if spec.Joblog != "" && !spec.DryRun {
		if rec.jl, err = openJoblog(spec.Joblog, spec.Resume != ResumeNone || spec.AppendJoblog, !spec.AppendJoblog, spec.Stdout); err != nil {
			return nil, err
		}
	}
	return rec, nil
}

// resumed reports whether job seq is skipped: the earlier run's joblog
// lists it (ResumeAll) or lists it as succeeded (ResumeFailed).
func (rec *recorder) resumed(seq int) bool {
	if rec.resume == nil {
		return false
	}
	succeeded, seen := rec.resume[seq]
	return seen && (rec.mode == ResumeAll || succeeded)
}

// log writes the job's joblog line.
func (rec *recorder) log(j *job, cmd *command) error {
	if rec.jl == nil || rec.stopped() || j.stopped {
		// A job Run stopped (a signal, --halt now) is not logged, as GNU
		// parallel logs none: a --resume runs it again.
		return nil
	}
	return rec.check(rec.jl.write(j.seq, j.start, j.dur, j.sent, j.stdout.size+j.stderr.size, j.exit, j.sig, cmd.line(j.argv)))
}

// save writes the job's Results files (see results.save).
func (rec *recorder) save(j *job) error {
	if rec.results == nil || rec.stopped() {
		return nil
	}
	return rec.check(rec.results.save(j))
}

// record writes the job's Results table record, if Results is a table.
func (rec *recorder) record(j *job, cmd *command) error {
	if rec.results == nil || rec.results.kind != resultsTable || rec.stopped() {
		return nil
	}
	return rec.check(rec.results.record(j, cmd.line(j.argv)))
}

// writeFile creates path, fills it with fill and closes it; any failure
// is a *WriteError naming path.
func writeFile(path string, fill func(*os.File) error) error {
	f, err := os.Create(path)
	if err != nil {
		return &WriteError{Path: path, Err: unwrapPath(err)}
	}
	err = fill(f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return &WriteError{Path: path, Err: unwrapPath(err)}
	}
	return nil
}

func (rec *recorder) stopped() bool {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return rec.failed
}

// check notes a failed write: the first is reported, later records are
// not tried.
func (rec *recorder) check(err error) error {
	if err == nil {
		return nil
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if rec.failed {
		return nil
	}
	rec.failed = true
	var we *WriteError
	if !errors.As(err, &we) {
		err = &WriteError{Err: err}
	}
	return err
}

func (rec *recorder) close() error {
	if err := rec.results.close(); err != nil {
		return rec.check(err)
	}
	if rec.jl == nil {
		return nil
	}
	if err := rec.jl.close(); err != nil {
		return rec.check(&WriteError{Path: rec.jl.path, Err: unwrapPath(err)})
	}
	return nil
}
