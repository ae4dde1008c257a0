package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/poolrun/poolrun/batch"
)

// GNU xargs's exit statuses.
const (
	xargsExitFailed   = 123 // a command exited 1-125
	xargsExit255      = 124 // a command exited 255: xargs stops
	xargsExitSignal   = 125 // a command was killed by a signal: xargs stops
	xargsExitCannot   = 126 // the command cannot be run
	xargsExitNotFound = 127 // the command was not found
)

// xargsMain runs the GNU xargs personality: poolrun called as xargs. It
// is GNU findutils 4.9's xargs — its input rules, its flags, its
// messages, its exit statuses — on poolrun's engine, so that its jobs
// take their slots of the machine-wide cap a poolrun job passes on.
func xargsMain(args []string) int {
	prog := "xargs"
	if len(os.Args) > 0 && os.Args[0] != "" {
		prog = os.Args[0] // xargs's messages name it as it was invoked
	}
	return runXargs(prog, args, os.Stdin, os.Stdout, os.Stderr)
}

func runXargs(prog string, args []string, stdin, stdout, stderr *os.File) int {
	o := newXargsOptions(os.Environ())
	p := &xargsParser{prog: prog, stderr: stderr, o: o}
	if err := p.parse(args); err != nil {
		return exitOf(err)
	}
	switch {
	case o.help:
		fmt.Fprint(stdout, strings.ReplaceAll(xargsHelp, "PROG", prog))
		return 0
	case o.version:
		fmt.Fprintf(stdout, "xargs (%s) — GNU findutils xargs 4.9.0 compatible\n", version)
		return 0
	}
	if o.eofStr != "" && o.delim >= 0 {
		p.say("warning: the -E option has no effect if -0 or -d is used.\n")
	}
	if o.envTooBig {
		return exitOf(p.fatal("environment is too large for exec"))
	}
	if o.slotVar != "" {
		os.Unsetenv(o.slotVar)
	}
	input := io.Reader(stdin)
	jobStdin := (*os.File)(nil) // /dev/null
	if o.argFile != "" && o.argFile != "-" {
		f, err := os.Open(o.argFile)
		if err != nil {
			return exitOf(p.fatal("Cannot open input file %s: %s", localeQuote(o.argFile), errnoText(err)))
		}
		defer f.Close()
		input = f
		jobStdin = stdin // -a: the commands get xargs's stdin
	}
	if o.openTTY {
		tty, err := os.Open("/dev/tty")
		if err != nil {
			// GNU xargs fails so in the child, which then dies of an
			// abort: the command "was terminated by a signal" (125).
			p.say("%s: %s", localeQuote("/dev/tty"), errnoText(err))
			return xargsExitSignal
		}
		defer tty.Close()
		jobStdin = tty
	}
	if len(o.command) == 0 {
		o.command = []string{"echo"}
	}
	if o.showLimits {
		showXargsLimits(stderr, o, stdin)
	}
	sp := &xargsSplitter{r: bufio.NewReaderSize(input, 64<<10), delim: o.delim, replace: o.replacing, warn: func(m string) { p.say("%s", m) }}
	if o.delim < 0 {
		sp.eofStr = o.eofStr
	}
	b, err := newXargsBuilder(sp, o.command, o)
	if err != nil {
		return exitOf(p.fatal("%s", err.Error()))
	}
	return xargsRunBatch(p, o, b, jobStdin, stdout, stderr)
}

// xargsRunBatch runs the commands b builds on the engine and returns
// xargs's exit status.
func xargsRunBatch(p *xargsParser, o *xargsOptions, b *xargsBuilder, jobStdin, stdout, stderr *os.File) int {
	tuneForBatches()
	var tty *bufio.Reader
	utf8Locale := localeIsUTF8("LC_CTYPE")
	failed, stop, stopSeq := false, 0, 0
	fatalStatus := 0 // -p could not ask
	name := o.command[0]
	spec := batch.Spec{
		Argv:     true,
		Inputs:   b,
		Jobs:     o.procs,
		JobStdin: jobStdin,
		SlotVar:  o.slotVar,
		Stdout:   stdout,
		Stderr:   stderr,
		Output:   batch.Ungrouped,
		Logger:   newLogger(),
	}
	if o.procs == 0 || o.procs > 1000 {
		// As many as the machine's limits allow, up to 1000 at once,
		// without poolrun's warning about descriptors (GNU xargs has none).
		spec.Jobs = batch.AsManyAsPossible
	}
	if o.procs != 1 && !isTerminal(stdout) {
		// Several at once into a pipe or a file: each command's output
		// whole, never mixed with another's (see docs/xargs.md).
		spec.Output = batch.Grouped
	}
	if o.verbose {
		spec.Before = func(argv []string) (bool, bool) {
			var line strings.Builder
			for i, a := range argv {
				if i > 0 {
					line.WriteByte(' ')
				}
				line.WriteString(shellEscape(a, utf8Locale))
			}
			if !o.interactive {
				line.WriteByte('\n')
				io.WriteString(stderr, line.String())
				return true, false
			}
			io.WriteString(stderr, line.String())
			if tty == nil {
				f, err := os.Open("/dev/tty")
				if err != nil {
					p.say("failed to open /dev/tty for reading: %s", errnoText(err))
					fatalStatus = 1
					return false, true
				}
				tty = bufio.NewReader(f)
			}
			io.WriteString(stderr, "?...")
			ans, err := tty.ReadString('\n')
			if err != nil {
				p.say("Failed to read from standard input")
				fatalStatus = 1
				return false, true
			}
			return ans[0] == 'y' || ans[0] == 'Y', false
		}
	}
	spec.Ended = func(e batch.JobEnd) bool {
		switch {
		case e.StartErr != nil:
			p.say("%s: %s", name, errnoText(e.StartErr))
			code := xargsExitCannot
			if errors.Is(e.StartErr, fs.ErrNotExist) {
				code = xargsExitNotFound
			}
			stop = max(stop, code)
			if stopSeq == 0 {
				stopSeq = e.Seq
			}
			return true
		case e.Exit == 255:
			p.say("%s: exited with status 255; aborting", name)
			stop = max(stop, xargsExit255)
			if stopSeq == 0 {
				stopSeq = e.Seq
			}
			return true
		case e.Signal != 0:
			p.say("%s: terminated by signal %d", name, e.Signal)
			stop = max(stop, xargsExitSignal)
			if stopSeq == 0 {
				stopSeq = e.Seq
			}
			return true
		case e.Exit != 0:
			failed = true
		}
		return false
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var got atomicSignal
	sigs := make(chan os.Signal, 2)
	notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)
	signal.Notify(make(chan os.Signal, 1), syscall.SIGPIPE)
	// GNU xargs takes SIGUSR1 and SIGUSR2 to run one more or one fewer
	// command at a time; poolrun's cap does not change size, but the
	// signals must not kill it either.
	signal.Notify(make(chan os.Signal, 1), syscall.SIGUSR1, syscall.SIGUSR2)
	go func() {
		select {
		case s := <-sigs:
			got.store(s.(syscall.Signal))
			cancel()
		case <-ctx.Done():
		}
	}()
	_, err := batch.Run(ctx, spec)
	code := 0
	if failed {
		code = xargsExitFailed
	}
	var in *errXargsInput
	var fe *xargsFatal
	switch {
	case got.load() != 0:
		return 128 + int(got.load())
	case errors.Is(err, batch.ErrOutputClosed):
		// Grouped output (-P 2 and more into a pipe) met a closed pipe:
		// under GNU xargs the command itself would have died of SIGPIPE.
		p.say("%s: terminated by signal %d", name, int(syscall.SIGPIPE))
		return xargsExitSignal
	case errors.As(err, &in):
		p.say("%s", in.msg)
		return max(code, 1)
	case errors.As(err, &fe):
		p.say("%s", fe.msg)
		return max(code, 1)
	case err != nil:
		p.say("%s", message(err))
		return max(code, 1)
	}
	if fatalStatus != 0 {
		return max(code, fatalStatus)
	}
	if stop != 0 {
		// GNU xargs 4.9 exits with the stop's status from where it noticed
		// it, and its exit handler then puts 123 in its place if a command
		// failed: unless it noticed it in that handler itself, waiting for
		// the last command (a 255 or a signal of the last command wins).
		last := b.ended.Load() && int64(stopSeq) == b.built.Load()
		if failed && (stop >= xargsExitCannot || !last) {
			return xargsExitFailed
		}
		return stop
	}
	return code
}

// showXargsLimits prints --show-limits's lines, as xargs does.
func showXargsLimits(w io.Writer, o *xargsOptions, stdin *os.File) {
	env := 0
	for _, kv := range os.Environ() {
		env += len(kv) + 1
	}
	fmt.Fprintf(w, "Your environment variables take up %d bytes\n", env)
	fmt.Fprintf(w, "POSIX upper limit on argument length (this system): %d\n", o.posixMax)
	fmt.Fprintf(w, "POSIX smallest allowable upper limit on argument length (all systems): %d\n", o.posixMin)
	fmt.Fprintf(w, "Maximum length of command we could actually use: %d\n", o.posixMax-env)
	fmt.Fprintf(w, "Size of command buffer we are actually using: %d\n", o.argMax)
	fmt.Fprintf(w, "Maximum parallelism (--max-procs must be no greater): %d\n", 2147483647)
	if isTerminal(stdin) {
		fmt.Fprintf(w, "\nExecution of xargs will continue now, and it will try to read its input and run commands; if this is not what you wanted to happen, please type the end-of-file keystroke.\n")
		if !o.noRunIfEmpty {
			fmt.Fprintf(w, "Warning: %s will be run at least once.  If you do not want that to happen, then press the interrupt keystroke.\n", o.command[0])
		}
	}
}

// exitOf is the exit status an option error asks for.
func exitOf(err error) int {
	var e *xargsExit
	if errors.As(err, &e) {
		return e.code
	}
	return 1
}

// errnoText is err's errno as glibc's strerror words it ("No such file
// or directory"): Go's texts are the same, in lower case.
func errnoText(err error) string {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		s := errno.Error()
		if s != "" {
			return strings.ToUpper(s[:1]) + s[1:]
		}
	}
	return err.Error()
}

// xargsHelp is --help's text (PROG: the name xargs was called by).
const xargsHelp = `Usage: PROG [OPTION]... [COMMAND [INITIAL-ARGS]...]
Run COMMAND with arguments INITIAL-ARGS and more arguments read from input.

Mandatory and optional arguments to long options are also
mandatory or optional for the corresponding short option.
  -0, --null                   items are separated by a null, not whitespace;
                                 disables quote and backslash processing and
                                 logical EOF processing
  -a, --arg-file=FILE          read arguments from FILE, not standard input
  -d, --delimiter=CHARACTER    items in input stream are separated by CHARACTER,
                                 not by whitespace; disables quote and backslash
                                 processing and logical EOF processing
  -E END                       set logical EOF string; if END occurs as a line
                                 of input, the rest of the input is ignored
                                 (ignored if -0 or -d was specified)
  -e, --eof[=END]              equivalent to -E END if END is specified;
                                 otherwise, there is no end-of-file string
  -I R                         same as --replace=R
  -i, --replace[=R]            replace R in INITIAL-ARGS with names read
                                 from standard input, split at newlines;
                                 if R is unspecified, assume {}
  -L, --max-lines=MAX-LINES    use at most MAX-LINES non-blank input lines per
                                 command line
  -l[MAX-LINES]                similar to -L but defaults to at most one non-
                                 blank input line if MAX-LINES is not specified
  -n, --max-args=MAX-ARGS      use at most MAX-ARGS arguments per command line
  -o, --open-tty               Reopen standard input as /dev/tty in the child
                                 process before executing the command; useful to
                                 run an interactive application.
  -P, --max-procs=MAX-PROCS    run at most MAX-PROCS processes at a time
  -p, --interactive            prompt before running commands
      --process-slot-var=VAR   set environment variable VAR in child processes
  -r, --no-run-if-empty        if there are no arguments, then do not run COMMAND;
                                 if this option is not given, COMMAND will be
                                 run at least once
  -s, --max-chars=MAX-CHARS    limit length of command line to MAX-CHARS
      --show-limits            show limits on command-line length
  -t, --verbose                print commands before executing them
  -x, --exit                   exit if the size (see -s) is exceeded
      --help                   display this help and exit
      --version                output version information and exit

If COMMAND is omitted, the default is 'echo'.

This is poolrun's xargs personality (poolrun called as xargs): GNU xargs's
behaviour on poolrun's engine. Its commands take their slots of the cap a
poolrun job passes on, so an xargs -P 8 inside a poolrun -j 4 job shares
the 4 slots. See docs/xargs.md.
`
