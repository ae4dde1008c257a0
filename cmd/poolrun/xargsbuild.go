package main

import (
	"io"
	"strings"
	"sync/atomic"
)

// xargsBuilder is a batch.Source of whole command lines (batch.Spec.Argv)
// built from the splitter's arguments as GNU xargs builds them (its
// buildcmd.c): the command and its initial arguments, then as many
// arguments as fit in argMax bytes (each counts its length and a NUL),
// at most maxArgs of them (-n) or those of maxLines lines (-L); with -I,
// one command per line, the line put in place of the replace string in
// each initial argument. A fatal error ends it after the commands built
// before it, as xargs runs those before it exits.
type xargsBuilder struct {
	sp *xargsSplitter

	initial      []string // the command and its initial arguments
	initialChars int      // their size, NULs included
	argMax       int      // -s
	maxArgs      int      // -n (0: no limit)
	maxLines     int      // -L (0: no limit)
	exitIfSize   bool     // -x, also implied by -I and -L
	alwaysRun    bool     // no -r: run once on empty input
	replace      string   // -I
	replacing    bool
	maxArgCount  int // xargs's limit on the number of arguments

	cur     []string // the arguments after initial of the command being built
	chars   int      // the size of initial + cur
	lineno  int
	ranAny  bool
	ready   [][]string // built command lines not handed out yet
	fatal   error      // once ready is empty, Next returns it
	inputOK bool       // the input has ended (or failed): no more reading
	// replaceInitial: -I has pushed the command name once (xargs then
	// counts it as an initial argument when it sizes the next lines).
	replaceInitial bool

	// built counts the command lines handed out; ended is set once Next
	// has said there are no more (read by xargs's exit status rules).
	built atomic.Int64
	ended atomic.Bool
}

// xargsFatal is an error that ends xargs with status 1 after the message.
type xargsFatal struct{ msg string }

func (e *xargsFatal) Error() string { return e.msg }

func newXargsBuilder(sp *xargsSplitter, initial []string, o *xargsOptions) (*xargsBuilder, error) {
	b := &xargsBuilder{
		sp: sp, initial: initial, argMax: o.argMax, maxArgs: o.maxArgs, maxLines: o.maxLines,
		exitIfSize: o.exitIfSize || o.replacing || o.maxLines > 0, alwaysRun: !o.noRunIfEmpty,
		replace: o.replace, replacing: o.replacing, maxArgCount: o.maxArgCount,
	}
	if b.replacing {
		// The lines are read before the command name counts (xargs's
		// endbuf on the first line).
		sp.maxLen = b.argMax
		if len(initial[0])+1 > b.argMax {
			return nil, &xargsFatal{"cannot fit single argument within argument list size limit"}
		}
		return b, nil
	}
	for _, a := range initial {
		n := len(a) + 1
		if b.chars+n > b.argMax {
			return nil, &xargsFatal{"cannot fit single argument within argument list size limit"}
		}
		b.chars += n
	}
	b.initialChars = b.chars
	sp.maxLen = b.argMax - b.initialChars
	return b, nil
}

// Next returns the next command line (argv[0] first).
func (b *xargsBuilder) Next() ([]string, error) {
	for len(b.ready) == 0 {
		if b.fatal != nil {
			b.ended.Store(true)
			return nil, b.fatal
		}
		if b.inputOK {
			b.ended.Store(true)
			return nil, io.EOF
		}
		b.step()
	}
	argv := b.ready[0]
	b.ready = b.ready[1:]
	b.built.Add(1)
	return argv, nil
}

// step reads one line of input and builds what it completes.
func (b *xargsBuilder) step() {
	if b.replacing {
		b.stepReplace()
		return
	}
	args, lines, done, err := b.sp.readLine()
	for _, a := range args {
		if ferr := b.push(a); ferr != nil {
			b.fatal, b.inputOK = ferr, true
			return
		}
	}
	b.lineno += lines
	if err != nil {
		// exec_if_possible: what was read runs, unless it would break -x.
		if len(b.cur) > 0 && !b.exitIfSize {
			b.exec()
		}
		b.fatal, b.inputOK = err, true
		return
	}
	if b.maxLines > 0 && b.lineno >= b.maxLines {
		b.exec()
		b.lineno = 0
	}
	if done {
		b.inputOK = true
		if len(b.cur) > 0 || (b.alwaysRun && !b.ranAny) {
			b.exec()
		}
	}
}

// push adds one argument (xargs's bc_push_arg), running the command
// first if the argument does not fit or -n is reached.
func (b *xargsBuilder) push(a string) error {
	n := len(a) + 1
	if b.chars+n > b.argMax {
		if len(b.cur) == 0 {
			return &xargsFatal{"cannot fit single argument within argument list size limit"}
		}
		if b.exitIfSize && (b.maxLines > 0 || b.maxArgs > 0) {
			return &xargsFatal{"argument list too long"}
		}
		b.exec()
	}
	if b.limitReached() {
		b.exec()
	}
	b.cur = append(b.cur, a)
	b.chars += n
	if b.limitReached() {
		b.exec()
	}
	return nil
}

func (b *xargsBuilder) limitReached() bool {
	return b.maxArgs > 0 && len(b.cur) == b.maxArgs || len(b.initial)+len(b.cur) == b.maxArgCount
}

// exec hands the command built so far out and starts a new one.
func (b *xargsBuilder) exec() {
	argv := make([]string, 0, len(b.initial)+len(b.cur))
	for _, a := range b.initial {
		argv = append(argv, cString(a))
	}
	for _, a := range b.cur {
		argv = append(argv, cString(a))
	}
	b.ready = append(b.ready, argv)
	b.ranAny = true
	b.cur = b.cur[:0]
	b.chars = b.initialChars
}

// stepReplace is step for -I: one command per line.
func (b *xargsBuilder) stepReplace() {
	args, _, done, err := b.sp.readLine()
	if done {
		b.inputOK = true
	}
	for _, line := range args {
		argv := []string{cString(b.initial[0])}
		chars := len(b.initial[0]) + 1
		for _, a := range b.initial[1:] {
			ins, ok := xargsInsert(a, b.replace, line, b.argMax-1)
			if !ok {
				b.fatal, b.inputOK = &xargsFatal{"command too long"}, true
				return
			}
			if chars+len(ins)+1 > b.argMax {
				b.fatal, b.inputOK = &xargsFatal{"argument list too long"}, true
				return
			}
			chars += len(ins) + 1
			argv = append(argv, cString(ins))
		}
		if len(argv) == b.maxArgCount {
			// xargs would run the command name alone first; nothing
			// real gets here (it takes a limit of the order of 10^5).
			break
		}
		b.ready = append(b.ready, argv)
		if !b.replaceInitial {
			// From the second line on, xargs sizes lines as if the command
			// name were an initial argument.
			b.replaceInitial = true
			b.sp.maxLen = b.argMax - (len(b.initial[0]) + 1)
		}
	}
	if err != nil {
		b.fatal, b.inputOK = err, true
	}
}

// xargsInsert puts line in place of each pat in arg, in at most room
// bytes (xargs's bc_do_insert); false: it does not fit ("command too
// long"). An empty pat matches everywhere, so it never fits, as in xargs.
func xargsInsert(arg, pat, line string, room int) (string, bool) {
	if pat == "" && arg != "" {
		return "", false // xargs fills the room with copies of line (or never ends)
	}
	var out strings.Builder
	for {
		i := strings.Index(arg, pat)
		n := len(arg)
		if i >= 0 {
			n = i
		}
		if room <= n {
			return "", false
		}
		room -= n
		out.WriteString(arg[:n])
		arg = arg[n:]
		if i >= 0 {
			if room <= len(line) {
				return "", false
			}
			room -= len(line)
			out.WriteString(line)
			arg = arg[len(pat):]
		}
		if arg == "" {
			return out.String(), true
		}
	}
}

// cString is s as a C program passes it on: up to its first NUL.
func cString(s string) string {
	if i := strings.IndexByte(s, 0); i >= 0 {
		return s[:i]
	}
	return s
}
