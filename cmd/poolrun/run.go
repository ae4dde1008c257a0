package main

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"os/signal"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"

	"github.com/hashicorp/go-hclog"
	"github.com/poolrun/poolrun/batch"
	"github.com/poolrun/poolrun/slots"
	"github.com/poolrun/poolrun/spawn"
)

// runBatch runs a batch and returns poolrun's exit status.
func runBatch(o *options, log hclog.Logger) int {
	tuneForBatches()
	if o.niceSet {
		if err := setNice(o.nice); err != nil {
			return fail(fmt.Errorf("--nice %d: %v (a niceness below this process's needs privileges)", o.nice, err))
		}
	}
	src, files, names, err := openInputs(o, os.Stdin)
	if err != nil {
		return fail(err)
	}
	defer closeFiles(files)
	shell, err := jobShell()
	if err != nil {
		return fail(err)
	}
	words := append([]string(nil), o.command...)
	results, tagString := o.results, o.tagString
	if o.header != "" {
		// Before the words are joined: a name may hold a space
		// ({E-mail address}).
		for i := range words {
			words[i] = renameColumns(words[i], names)
		}
		results, tagString = renameColumns(results, names), renameColumns(tagString, names)
	}
	command := commandWords(words, o.quote)
	spec := batch.Spec{
		Command:    command,
		Shell:      shell,
		Direct:     o.quote,
		Inputs:     src,
		Pack:       o.packing(),
		Replace:    o.pack.replace,
		Plus:       o.plus,
		ShellQuote: o.shellQ,
		KeepOrder:  o.keepOrder,
		Tag:        o.tag,
		TagString:  tagString,
		Results:    results,
		ArgNames:   names,
		Files:      o.files,
		TempDir:    o.tmpdir,
		Ready:      o.readyTest(),
		Timeout:    o.timeout,
		WaitDelay:  o.grace,
		Retries:    o.retries,
		Halt:       o.halt,
		Joblog:     o.joblog,
		DryRun:     o.dryRun,
		Verbose:    o.verbose,
		Echo:       o.echo,
		SlotVar:    o.slotVar,
		Dir:        o.workdir,
		Delay:      o.delay,
		Progress:   o.bar, // drawn whatever stderr is, as GNU parallel does
		Stdout:     os.Stdout,
		Stderr:     os.Stderr,
		Logger:     log,
		Jobserver:  o.jobserver,
	}
	if o.pipe.on() {
		spec.Pipe, _ = o.pipeSpec() // checked by parseArgs
		spec.Stdin = os.Stdin
		tuneForPipe()
		if o.pipe.part && len(spec.Pipe.Files) == 0 {
			// GNU parallel runs nothing and exits 0; poolrun says so.
			fmt.Fprintln(os.Stderr, "poolrun: Warning: --pipepart without -a FILE: no file to split, no job run")
			return 0
		}
	}
	if o.jobsSet || o.dryRun {
		spec.Jobs = o.jobs
	}
	if o.jobsMax {
		spec.Jobs = batch.AsManyAsPossible
	}
	if name, ok := strings.CutPrefix(o.joblog, "+"); ok {
		spec.Joblog, spec.AppendJoblog = name, true // GNU parallel's --joblog +FILE: append
	}
	switch {
	case o.lineBuffer:
		spec.Output = batch.LineBuffered
	case o.ungroup:
		spec.Output = batch.Ungrouped
	}
	switch {
	case o.resume:
		spec.Resume = batch.ResumeAll
	case o.resumeFailed:
		spec.Resume = batch.ResumeFailed
	}
	if !o.dryRun {
		c, err := openCap(o, log)
		if err != nil {
			return fail(err)
		}
		defer func() {
			if err := c.Close(); err != nil {
				log.Error("closing the cap", "error", err)
			}
		}()
		spec.Cap = c
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var loss capLoss
	loss.watch(spec.Cap, cancel)
	// As GNU parallel: SIGINT and SIGTERM stop every job and end the run
	// with 255 (SIGINT even when poolrun was started with it ignored, as a
	// script's background job is: parallel stops on it all the same);
	// SIGHUP starts no more jobs and lets the running ones finish, unless
	// it is ignored (nohup).
	var got atomicSignal
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	notify(sigs, syscall.SIGHUP)
	defer signal.Stop(sigs)
	drain := make(chan struct{})
	spec.Drain = drain
	// A closed stdout (poolrun ... | head) becomes EPIPE errors that stop
	// the run cleanly, instead of killing poolrun outright.
	signal.Notify(make(chan os.Signal, 1), syscall.SIGPIPE)
	go func() {
		for {
			select {
			case s := <-sigs:
				if s == syscall.SIGHUP {
					if drain != nil {
						fmt.Fprintf(os.Stderr, "poolrun: SIGHUP received. No new jobs will be started.\npoolrun: Waiting for the running jobs to finish. Send SIGTERM to stop now.\n")
						close(drain)
						drain = nil
					}
					continue
				}
				got.store(s.(syscall.Signal))
				cancel()
				return
			case <-ctx.Done():
				return
			}
		}
	}()

	sum, err := batch.Run(ctx, spec)
	var se *batch.SpecError
	var tl *batch.TooLongError
	switch {
	case loss.lost():
		return 255
	case got.load() != 0:
		return 255 // GNU parallel's status when a signal stopped it
	case errors.Is(err, batch.ErrOutputClosed):
		return 128 + int(syscall.SIGPIPE)
	case errors.As(err, &se):
		return fail(usagef("%s", message(err)))
	case errors.As(err, &tl):
		// GNU parallel's words (-s, -m, -X).
		fmt.Fprintf(os.Stderr, "poolrun: Error: Command line too long (%d >= %d) at input %d: %s\n", tl.Len, tl.Max, tl.Index, tl.Input)
		return 255
	case err != nil:
		fmt.Fprintf(os.Stderr, "poolrun: %s\n", message(err))
		return 255
	}
	return exitStatus(sum, &o.halt)
}

// exitStatus is GNU parallel 20221122's exit status for how the batch
// went: the number of failed jobs (101 for more than 100); with --halt:
// 0 when success=... stopped the run; the status of the job that made it
// halt for fail=1 and done=1; the percentage of the jobs that failed,
// rounded up, with N% (of the jobs started when the run did not halt, as
// parallel counts it: over exit 0 6 0 0, now,fail=50% exits 25); and for
// a fail=N or done=N that stopped the run, the number that failed — or
// 101 when none did (parallel takes the smaller of its count of failures,
// not set then, and 101, and its min() skips what is not set). When the
// run halted, the failures are those counted then: parallel fixes its
// status there, and jobs still running that fail later do not change it.
func exitStatus(sum batch.Summary, h *batch.Halt) int {
	pct := func(failed, total int) int {
		if total == 0 {
			return 0
		}
		return int(math.Ceil(float64(failed) / float64(total) * 100))
	}
	switch {
	case h.When == batch.HaltNever:
	case h.On == batch.HaltOnSuccess && sum.Halted:
		return 0
	case sum.Halted && h.Percent == 0 && h.Count == 1:
		return min(sum.HaltExit, 255)
	case sum.Halted && h.Percent > 0:
		// Fixed when it halted: jobs that fail after do not count.
		return pct(sum.HaltFailed, sum.Inputs)
	case h.Percent > 0:
		return pct(sum.Failed, sum.Inputs)
	case sum.Halted && sum.HaltFailed == 0:
		return 101
	case sum.Halted:
		return min(sum.HaltFailed, 101)
	}
	if sum.Failed > 100 {
		return 101
	}
	return sum.Failed
}

// tuneForBatches sets the runtime up for what a batch run does: start
// processes and wait for them, with very little Go code in between.
// poolrun's goroutines never end locked to a thread, so jobs are forked
// where they start (spawn.UnlockedForks), and one P (GOMAXPROCS=1, unless
// the user set GOMAXPROCS) keeps the scheduler from waking and spinning
// threads around every fork and exit: 5 000 x echo at -j 4 took
// 1.09-1.17x xargs -P4 before, 1.03-1.05x after (bench/run.sh engine).
// A goroutine blocked in a system call (the dispatcher waiting for a
// shared cap) gives the P up to the others once sysmon sees it blocked.
func tuneForBatches() {
	spawn.UnlockedForks()
	if os.Getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(1)
	}
}

// commandWords is the command as GNU parallel means it: several words are
// joined with spaces into one line of shell code (so an operator the user
// escaped, echo {}\; echo done, a redirection, $VAR or a glob act as they
// would typed there), and quote (-q) keeps the words as they are. A line
// with nothing of the shell's but blanks is split at them and run
// directly: the same command, without a shell.
func commandWords(words []string, quote bool) []string {
	if quote || len(words) < 2 {
		return words
	}
	line := strings.Join(words, " ")
	// Shell code: an operator, quoting, expansion, a glob, a comment, an
	// assignment before the command (FOO=1 cmd), or a shell builtin.
	if strings.ContainsAny(line, ";&|<>()$`\\\"'*?[]#~!\n") || strings.Contains(words[0], "=") || batch.IsShellBuiltin(words[0]) || batch.IsExportedFunction(words[0], nil) {
		return []string{line}
	}
	return strings.Fields(line)
}

// openCap finds or makes the cap: --sem NAME; else the cap inherited from
// the poolrun job this one runs in (POOLRUN_SEMLOCKS); else a private cap
// of -j slots, removed at the end (by the tracker if poolrun is killed).
func openCap(o *options, log hclog.Logger) (slots.Cap, error) {
	if c, ok, err := openEtcdCap(o, etcdURL(o.sem)); ok {
		return c, err
	}
	if o.sem != "" {
		c, err := slots.Open(o.sem, o.jobs)
		if err != nil {
			return nil, fmt.Errorf("--sem %s: %w", o.sem, err)
		}
		if n := c.Size(); o.jobsSet && n != o.jobs {
			fmt.Fprintf(os.Stderr, "poolrun: --sem %s exists with %d slots (created by an earlier run): -j %s does not resize it; at most %d jobs run at once across all its users\n", o.sem, n, o.jobsSpec, n)
		}
		recordName(o.sem)
		return c, nil
	}
	if c := jobserverClient(o, log); c != nil {
		return c, nil
	}
	c, err := slots.FromEnv()
	switch {
	case err == nil:
		log.Debug("sharing the parent's cap", "size", c.Size())
		return c, nil
	case !errors.Is(err, slots.ErrNoCap):
		fmt.Fprintf(os.Stderr, "poolrun: warning: ignoring the cap inherited from the poolrun job this one runs in (%s): this run has a cap of its own\n", message(err))
	}
	c, err = slots.New(o.jobs)
	if err != nil {
		return nil, fmt.Errorf("creating the cap (%d slots): %s", o.jobs, message(err))
	}
	return c, nil
}

// message is err's text for the person at the terminal, who knows it
// comes from poolrun: without the library's package prefixes.
func message(err error) string {
	s := err.Error()
	for _, p := range []string{"batch: ", "slots: "} {
		s = strings.TrimPrefix(s, p)
	}
	return s
}

// openInputs opens every input file before any job starts, so a missing
// file is bad input (exit 255, nothing started), and combines the sources
// as GNU parallel does: -a files first, then the ::: and :::: sources, in
// order; several make their cartesian product, :::+ and ::::+ pair a
// source with the one before it, --link pairs them all up; stdin if
// there is none.
func openInputs(o *options, stdin *os.File) (_ batch.Source, _ []*os.File, names []string, _ error) {
	if o.pipe.on() {
		return nil, nil, nil, nil // a pipe batch reads blocks, not inputs (pipeflags.go)
	}
	var files []*os.File
	colsep := o.colsep
	if colsep == nil && o.header != "" && !o.csv {
		colsep = tabs // GNU parallel's default --colsep with --header
	}
	split := colsep != nil || o.csv // the inputs are split into columns
	known := true
	var groups [][]batch.Source // sources paired up (:::+), multiplied with each other
	sources := o.sources
	if len(sources) == 0 {
		sources = []sourceSpec{{file: "-"}}
	}
	for _, spec := range sources {
		var src batch.Source
		switch {
		case spec.isArgs:
			src = batch.Args(spec.args...)
		case spec.file == "-":
			src = batch.Lines(stdin.Name(), stdin, o.delim)
		default:
			f, err := openInputFile(spec.file)
			if err != nil {
				closeFiles(files)
				return nil, nil, nil, err
			}
			files = append(files, f)
			src = batch.Lines(spec.file, f, o.delim)
		}
		if o.csv && !spec.isArgs {
			src = csvRecords(src, o.delim) // a quoted field may span lines
		}
		src = o.shapeSource(src)
		switch {
		case o.csv:
			sep := byte(',')
			if o.colsep != nil {
				sep = o.colsepAs[0]
			}
			src = csvColumns(src, sep)
		case colsep != nil:
			src = batch.Columns(src, colsep)
		}
		switch {
		case o.trim != "":
			src = trimmed(src, o.trim)
		case o.colsep != nil || colsep != nil && !o.csv:
			// GNU parallel: --colsep implies --trim rl (but --csv's
			// default separator does not: parallel sets it after).
			src = trimmed(src, "lr")
		}
		if o.headerLines() > 0 {
			// Outside --pipe, GNU parallel's header is the first line
			// whatever --header says (a number of lines is for --pipe).
			h, err := readHeader(src, 1)
			if err != nil {
				closeFiles(files)
				return nil, nil, nil, err
			}
			names = append(names, h...)
		} else if !split {
			names = append(names, strconv.Itoa(len(names)+1))
		} else {
			known = false // as many columns as each line has
		}
		if spec.linked {
			groups[len(groups)-1] = append(groups[len(groups)-1], src)
		} else {
			groups = append(groups, []batch.Source{src})
		}
	}
	var srcs []batch.Source
	for _, g := range groups {
		if len(g) == 1 {
			srcs = append(srcs, g[0])
		} else {
			srcs = append(srcs, batch.Zip(g...))
		}
	}
	if !known && o.header == "" {
		names = nil
	}
	var src batch.Source
	if o.link {
		src = batch.Link(srcs...)
	} else {
		src = batch.Product(srcs...)
	}
	if o.shuf {
		src = shuffled(src)
	}
	group := o.maxArgs
	if o.packing() != nil {
		group = 1 // the engine packs them (Spec.Pack)
	}
	if o.noArgs {
		return withoutArgs(src), files, nil, nil
	}
	return batch.Group(src, group), files, names, nil
}

// tabs is the column separator --header implies without --colsep.
var tabs = regexp.MustCompile("\t")

// openInputFile opens an -a or :::: file.
func openInputFile(name string) (*os.File, error) {
	f, err := os.Open(name)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, usagef("input file %s: %v", name, err)
	}
	if st, err := f.Stat(); err == nil && st.IsDir() {
		f.Close()
		return nil, usagef("input file %s is a directory: -a takes a file of inputs, one a line", name)
	}
	return f, nil
}

func closeFiles(fs []*os.File) {
	for _, f := range fs {
		f.Close()
	}
}
