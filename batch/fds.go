package batch

import (
	"fmt"
	"os"
	"syscall"

	"github.com/poolrun/poolrun/jobserver"
)

// Descriptors a running job costs this process, as measured (ls
// /proc/PID/fd during a run): its two capture files (Grouped) or the read
// ends of its two pipes (LineBuffered), and three pidfds (the os
// package's, the one spawn waits on, the one it stops the group with).
// Starting a job costs up to four more for a moment (the pipe that
// reports a failed exec, and for LineBuffered the child ends of its
// pipes), one job at a time: procs.start starts them under its lock.
const (
	fdsGrouped      = 5
	fdsLineBuffered = 5
	fdsUngrouped    = 3
	fdsKeepOrder    = 2     // a finished job waiting in order, its files open
	fdsResults      = 1     // a result file being written
	fdsJobserver    = 3     // the job's jobserver: its pipe's two ends and our own description of it
	fdsPipe         = 2     // Pipe: the job's stdin pipe (the write end, and the read end until it starts)
	fdsReserve      = 4 + 4 // the joblog, a results directory, the runtime's own; one start
)

// fitFiles sizes what the batch holds open to the descriptor limit
// (ulimit -n): fewer jobs at once, with a warning on Stderr, as GNU
// parallel does, when -j of them would not fit; an error if not even one
// would. It returns how many KeepOrder jobs may wait with a large output
// in open files (two descriptors each) beyond the slots' own.
func (r *batchRun) fitFiles() (maxHeld int, err error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil || lim.Cur > 1<<20 {
		return defaultMaxHeld, nil
	}
	open, ok := openFiles()
	if !ok {
		return defaultMaxHeld, nil
	}
	per := fdsGrouped
	switch r.spec.Output {
	case LineBuffered:
		per = fdsLineBuffered
	case Ungrouped:
		per = fdsUngrouped
	}
	held := 0
	if r.spec.KeepOrder {
		per += fdsKeepOrder
		held = 2 // room for one large output waiting
	}
	if r.spec.Results != "" {
		per += fdsResults
	}
	if r.pipe != nil {
		per += fdsPipe
	}
	avail := int(lim.Cur) - open - fdsReserve
	jobs := (avail - held) / per
	if r.spec.Jobserver != jobserver.Off {
		// A job's jobserver is worth its descriptors only while it costs
		// no job: with as few that it would, the jobs run without one.
		if withJS := (avail - held) / (per + fdsJobserver); withJS >= min(jobs, r.sched.limit) {
			per += fdsJobserver
			jobs = withJS
		} else {
			r.spec.Jobserver = jobserver.Off
			r.log.Debug("no jobserver for the jobs: too few descriptors", "limit", lim.Cur)
		}
	}
	if jobs < 1 {
		return 0, fmt.Errorf("too few file descriptors: the limit is %d (ulimit -n) and %d are open; one job needs %d more: raise it (ulimit -n %d)", lim.Cur, open, per+held+fdsReserve, open+per+held+fdsReserve+16)
	}
	limit := r.sched.limit
	if jobs < limit {
		if r.spec.Jobs != AsManyAsPossible {
			fmt.Fprintf(r.spec.Stderr, "poolrun: warning: only enough file descriptors (ulimit -n %d) to run %d jobs at once: running %d instead of %d\n", lim.Cur, jobs, jobs, limit)
		}
		r.log.Debug("fewer slots: descriptor limit", "limit", lim.Cur, "slots", jobs)
		r.sched.shrink(jobs)
		limit = jobs
	}
	return min(defaultMaxHeld, max(1, (avail-limit*per)/2)), nil
}

// openFiles counts this process's open descriptors.
func openFiles() (int, bool) {
	for _, dir := range []string{"/proc/self/fd", "/dev/fd"} {
		if es, err := os.ReadDir(dir); err == nil {
			return len(es) - 1, true // less the one ReadDir had open
		}
	}
	return 0, false
}
