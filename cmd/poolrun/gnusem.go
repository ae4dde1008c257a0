package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/poolrun/poolrun/jobserver"
	"github.com/poolrun/poolrun/semlock"
)

// The GNU sem personality (docs/sem.md): poolrun called as sem, or with
// --semaphore, is GNU parallel's sem. Its semaphore is a semlock.Tally
// named by --id: a count of holders in which each call brings its own
// -j, as GNU sem's directory of pid links does, but held with SEM_UNDO, so
// a holder that is killed stops holding at once and --wait (wait for a
// count of zero) can never hang on it.
//
// The hold is the command's, with no process in between: on Linux the
// command is started with CLONE_SYSVSEM, sharing this process's undo list,
// which the kernel applies only when the last process that shares it
// exits. In the foreground (--fg) sem waits for the command, leaves the
// tally and removes its set if nobody else holds it: one process start,
// the command's. In the background (the default) sem starts a holder, a
// re-exec of itself in a session of its own that shares the undo list the
// same way, and returns; the holder runs the command, prints its output,
// leaves and removes the set if it was the last. Nothing is created per
// call and no tracker is needed: the set is the only kernel object, and
// the last user out removes it (sem --wait removes it too).

// gnuSemMain runs the GNU sem personality: poolrun called as sem, or
// with --semaphore.
func gnuSemMain(args []string) int {
	o, err := parseSemArgs(args)
	if err != nil {
		return semFail(err)
	}
	switch {
	case o.help:
		fmt.Print(semHelpText)
		return 0
	case o.version:
		fmt.Println(version)
		return 0
	case o.holder:
		return semHolderMain(o)
	}
	id := o.id
	if !o.idSet {
		id = defaultSemID()
	}
	if isEtcd(id) {
		return semEtcdMain(o, args, id)
	}
	name := semSetName(id)
	if o.wait {
		// GNU sem --wait ignores a command given with it.
		return semWaitIdle(name)
	}
	limit := 1
	if o.jobs != "" {
		if limit, err = parseSemJobs(o.jobs, runtime.NumCPU()); err != nil {
			return semFail(err)
		}
	}
	if len(o.command) == 0 {
		return 0 // GNU sem with nothing to run: nothing to do
	}
	job, err := newSemJob(o)
	if err != nil {
		return semFail(err)
	}
	var js *jobserver.Client
	if !o.fg && !o.noJS {
		js = semJobserver() // before the wait: a bad MAKEFLAGS is said at once
	}
	c, status := semEnter(name, limit, o.st)
	if c == nil {
		return status
	}
	if !o.fg {
		return semBackground(c, o, args, js)
	}
	status = job.run()
	semLeave(c)
	return status
}

// semEtcdMain is sem --id etcd://…: its slot is one of an etcd cap's
// (gnusem_etcd.go).
func semEtcdMain(o *semOptions, args []string, url string) int {
	if o.wait {
		return semEtcdWait(url)
	}
	limit := 1
	if o.jobs != "" {
		var err error
		if limit, err = parseSemJobs(o.jobs, runtime.NumCPU()); err != nil {
			return semFail(err)
		}
	}
	if len(o.command) == 0 {
		return 0
	}
	if o.fg {
		return semEtcdFg(o, url, limit)
	}
	if _, err := newSemJob(o); err != nil {
		return semFail(err)
	}
	var js *jobserver.Client
	if !o.noJS {
		js = semJobserver()
	}
	return semBackground(nil, o, args, js)
}

// semEnter opens the tally name and holds it: it waits until fewer than
// limit hold it. With st > 0 it holds it anyway after st; with st < 0 it
// gives up after -st. A set removed while it waits (its last user left)
// is opened anew. It returns the held tally, or nil and sem's exit status:
// 1 when it gave up (GNU's), 255 on an error, said on stderr.
func semEnter(name string, limit int, st time.Duration) (*semlock.Tally, int) {
	ctx := context.Background()
	if st != 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, max(st, -st))
		defer cancel()
	}
	for attempt := 0; ; attempt++ {
		c, err := semlock.OpenTally(name)
		if err != nil {
			return nil, semFail(semSetErr(name, err))
		}
		err = c.Enter(ctx, limit)
		if errors.Is(err, context.DeadlineExceeded) {
			if st < 0 {
				fmt.Fprintln(os.Stderr, "poolrun: Warning: Semaphore timed out. Exiting.")
				return nil, 1
			}
			fmt.Fprintln(os.Stderr, "poolrun: Warning: Semaphore timed out. Stealing the semaphore.")
			err = c.Force(context.Background())
		}
		if errors.Is(err, semlock.ErrRemoved) && attempt < 1000 {
			continue // its last user removed it meanwhile: make it again
		}
		if err != nil {
			return nil, semFail(semSetErr(name, err))
		}
		return c, 0
	}
}

// semLeave stops holding c and removes its set if nobody else holds it:
// the last user out leaves nothing behind.
func semLeave(c *semlock.Tally) {
	if err := c.Leave(); err != nil {
		fmt.Fprintf(os.Stderr, "poolrun: sem: giving the slot back: %v\n", err)
		return
	}
	if _, err := c.RemoveIfIdle(); err != nil && !errors.Is(err, semlock.ErrRemoved) && !errors.Is(err, semlock.ErrStale) {
		fmt.Fprintf(os.Stderr, "poolrun: sem: removing the idle semaphore: %v\n", err)
	}
}

// semWaitIdle is sem --wait: wait until no command started with the id
// runs, then remove the set.
func semWaitIdle(name string) int {
	h, err := semlock.LookupName(name)
	if errors.Is(err, semlock.ErrRemoved) {
		return 0 // no set: nothing runs
	}
	if err != nil {
		return semFail(semSetErr(name, err))
	}
	c, err := semlock.AttachTally(h)
	if errors.Is(err, semlock.ErrRemoved) || errors.Is(err, semlock.ErrStale) {
		return 0
	}
	if err != nil {
		return semFail(semSetErr(name, err))
	}
	if err := c.WaitIdle(context.Background()); err != nil {
		return semFail(semSetErr(name, err))
	}
	if _, err := c.RemoveIfIdle(); err != nil && !errors.Is(err, semlock.ErrRemoved) && !errors.Is(err, semlock.ErrStale) {
		return semFail(semSetErr(name, err))
	}
	return 0
}

// semSetErr says what is wrong with the set of name, and what to do.
func semSetErr(name string, err error) error {
	if errors.Is(err, semlock.ErrMismatch) {
		return fmt.Errorf("sem --id %s: %s: it is not a GNU sem semaphore (a poolrun --sem or sem run cap of that name?): choose another --id, or remove it with poolrun sem rm %s", name, message(err), name)
	}
	return fmt.Errorf("sem --id %s: %s", name, message(err))
}

// semFail prints err as one line on stderr and returns 255, GNU sem's
// status for bad input.
func semFail(err error) int {
	if errors.Is(err, errNoJobs) {
		fmt.Fprintln(os.Stderr, "poolrun: Error: Cannot run any jobs. (-j -N leaves fewer than 1)")
		return 255
	}
	fmt.Fprintf(os.Stderr, "poolrun: %v\n", err)
	return 255
}

// defaultSemID is GNU sem's default --id: the name of the terminal on
// stdin, as tty(1) prints it, or "not a tty".
func defaultSemID() string {
	if isTerminal(os.Stdin) {
		if p, err := os.Readlink("/proc/self/fd/0"); err == nil {
			return p
		}
	}
	return "not a tty"
}

// wantsSemaphore reports whether args ask for the GNU sem personality,
// as GNU parallel decides: --semaphore, or one of sem's own options
// (--id, --semaphorename, --semaphoretimeout, --st, --fg, --bg, --wait),
// among the options before the command (after it they are the
// command's).
func wantsSemaphore(args []string) bool {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" || a == ":::" || a == "::::" || len(a) < 2 || a[0] != '-' {
			return false
		}
		name, _, hasVal := a, "", false
		if k := strings.IndexByte(a, '='); k > 0 {
			name, hasVal = a[:k], true
		}
		if semOnlyFlags[strings.TrimLeft(name, "-")] {
			return true
		}
		if f := lookupFlag(flagSpecs, name); f != nil && f.value != "" && !hasVal {
			i++ // its value
		}
	}
	return false
}

// semOnlyFlags are the options that make GNU parallel a semaphore.
var semOnlyFlags = map[string]bool{"semaphore": true, "id": true, "semaphorename": true, "semaphore-name": true,
	"semaphoretimeout": true, "semaphore-timeout": true, "st": true, "fg": true, "bg": true, "wait": true}

// sweepIdleTallies removes the GNU sem semaphores that nobody holds (left
// when the last holder was killed and no sem --wait or later call of
// that id came), for poolrun sem gc.
func sweepIdleTallies() []semlock.Info {
	removed, err := semlock.RemoveIdleTallies()
	for _, in := range removed {
		fmt.Printf("removed set %d (a GNU sem semaphore): nobody holds it\n", in.ID)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "poolrun: sem gc: %v\n", err)
	}
	return removed
}

// semJobserver is the make (or cargo) jobserver a background sem takes
// its command's token from (docs/jobserver.md, "GNU sem under make"), or
// nil: none named (a getenv of each variable is all it costs then), or
// one named that cannot be used, which is one warning line, and sem runs
// as without one, as poolrun does.
func semJobserver() *jobserver.Client {
	named := false
	for _, k := range []string{"CARGO_MAKEFLAGS", "MAKEFLAGS", "MFLAGS"} {
		if strings.Contains(os.Getenv(k), "--jobserver-") {
			named = true
		}
	}
	if !named {
		return nil
	}
	c, err := jobserver.ClientFromEnv(nil)
	switch {
	case errors.Is(err, jobserver.ErrNoJobserver):
		return nil
	case err != nil:
		fmt.Fprintf(os.Stderr, "poolrun: warning: %s; sem runs without it\n", strings.TrimPrefix(err.Error(), "jobserver: "))
		return nil
	}
	return c
}
