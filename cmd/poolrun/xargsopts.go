package main

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// xargsOptions is a parsed GNU xargs command line.
type xargsOptions struct {
	delim        int // -1: blanks and quotes; else -0/-d's byte
	argFile      string
	eofStr       string
	replace      string
	replacing    bool
	maxLines     int
	maxArgs      int
	openTTY      bool
	interactive  bool
	noRunIfEmpty bool
	argMax       int // -s
	verbose      bool
	showLimits   bool
	exitIfSize   bool
	procs        int // -P; 0: as many as possible
	slotVar      string
	help         bool
	version      bool
	command      []string

	posixMax    int // the largest -s: ARG_MAX - environment - 2048
	posixMin    int
	maxArgCount int
	envSize     int
	envTooBig   bool
}

// xargsLong is GNU xargs 4.9's long options, in its order (which its
// "is ambiguous; possibilities:" message follows).
var xargsLong = []struct {
	name string
	arg  int // 0 none, 1 required, 2 optional
	opt  byte
}{
	{"null", 0, '0'}, {"arg-file", 1, 'a'}, {"delimiter", 1, 'd'}, {"eof", 2, 'e'},
	{"replace", 2, 'I'}, {"max-lines", 2, 'l'}, {"max-args", 1, 'n'}, {"open-tty", 0, 'o'},
	{"interactive", 0, 'p'}, {"no-run-if-empty", 0, 'r'}, {"max-chars", 1, 's'}, {"verbose", 0, 't'},
	{"show-limits", 0, 'S'}, {"exit", 0, 'x'}, {"max-procs", 1, 'P'}, {"process-slot-var", 1, 'V'},
	{"version", 0, 'v'}, {"help", 0, 'h'},
}

// xargsShort is its getopt string: a ':' after a letter takes a value,
// '::' an optional one (attached only).
const xargsShort = "0a:E:e::i::I:l::L:n:oprs:txP:d:"

// xargsExit is an exit that parsing asks for, after what it printed.
type xargsExit struct{ code int }

func (e *xargsExit) Error() string { return "exit " + strconv.Itoa(e.code) }

// xargsParser parses xargs's command line as getopt_long does with
// "+": options up to the first word that is not one, or "--".
type xargsParser struct {
	prog   string
	stderr io.Writer
	o      *xargsOptions
}

func (p *xargsParser) say(format string, args ...any) {
	fmt.Fprintf(p.stderr, "%s: %s\n", p.prog, fmt.Sprintf(format, args...))
}

// usageFail is getopt's or parse_num's complaint, then the hint, exit 1.
func (p *xargsParser) usageFail(format string, args ...any) error {
	p.say(format, args...)
	fmt.Fprintf(p.stderr, "Try '%s --help' for more information.\n", p.prog)
	return &xargsExit{1}
}

func (p *xargsParser) fatal(format string, args ...any) error {
	p.say(format, args...)
	return &xargsExit{1}
}

func newXargsOptions(environ []string) *xargsOptions {
	o := &xargsOptions{delim: -1, procs: 1, posixMin: 4096}
	for _, kv := range environ {
		o.envSize += len(kv) + 1
	}
	argMax := sysArgMax()
	const headroom = 2048
	if o.envSize > argMax || o.envSize+headroom >= argMax {
		o.envTooBig = true
		o.posixMax = argMax
	} else {
		o.posixMax = argMax - o.envSize - headroom
	}
	o.maxArgCount = o.posixMax/8 - 2
	o.argMax = min(max(128*1024, o.posixMin), o.posixMax)
	return o
}

// sysArgMax is sysconf(_SC_ARG_MAX) as glibc computes it on Linux: a
// quarter of the stack limit, at least 128 KiB.
func sysArgMax() int {
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_STACK, &rl); err != nil {
		return 128 * 1024
	}
	q := rl.Cur / 4
	if rl.Cur == unix.RLIM_INFINITY || q > math.MaxInt32 {
		return math.MaxInt32
	}
	return max(128*1024, int(q))
}

func (p *xargsParser) parse(args []string) error {
	i := 0
	for i < len(args) {
		a := args[i]
		if a == "--" {
			i++
			break
		}
		if len(a) < 2 || a[0] != '-' {
			break
		}
		i++
		if strings.HasPrefix(a, "--") {
			name, val, hasVal := strings.Cut(a[2:], "=")
			li := -1
			var matches []int
			for k, l := range xargsLong {
				if l.name == name {
					li = k
					matches = nil
					break
				}
				if strings.HasPrefix(l.name, name) {
					matches = append(matches, k)
				}
			}
			if li < 0 {
				switch len(matches) {
				case 0:
					return p.usageFail("unrecognized option '%s'", a)
				case 1:
					li = matches[0]
				default:
					var b strings.Builder
					for _, k := range matches {
						fmt.Fprintf(&b, " '--%s'", xargsLong[k].name)
					}
					return p.usageFail("option '--%s' is ambiguous; possibilities:%s", name, b.String())
				}
			}
			l := xargsLong[li]
			switch {
			case l.arg == 0 && hasVal:
				return p.usageFail("option '--%s' doesn't allow an argument", l.name)
			case l.arg == 1 && !hasVal:
				if i >= len(args) {
					return p.usageFail("option '--%s' requires an argument", l.name)
				}
				val, hasVal = args[i], true
				i++
			}
			if err := p.apply(l.opt, val, hasVal, "--"+l.name); err != nil {
				return err
			}
			continue
		}
		for k := 1; k < len(a); k++ {
			c := a[k]
			j := strings.IndexByte(xargsShort, c)
			if j < 0 || c == ':' {
				return p.usageFail("invalid option -- '%c'", c)
			}
			takes := j+1 < len(xargsShort) && xargsShort[j+1] == ':'
			optional := takes && j+2 < len(xargsShort) && xargsShort[j+2] == ':'
			if !takes {
				if err := p.apply(c, "", false, "-"+string(c)); err != nil {
					return err
				}
				continue
			}
			val, hasVal := a[k+1:], k+1 < len(a)
			if !hasVal && !optional {
				if i >= len(args) {
					return p.usageFail("option requires an argument -- '%c'", c)
				}
				val, hasVal = args[i], true
				i++
			}
			if err := p.apply(c, val, hasVal, "-"+string(c)); err != nil {
				return err
			}
			break
		}
	}
	p.o.command = args[i:]
	return nil
}

// warnExclusive is xargs's warning when an option cancels an earlier one.
func (p *xargsParser) warnExclusive(option, offending string) {
	p.say("warning: options %s and %s are mutually exclusive, ignoring previous %s value", offending, option, offending)
}

// apply is what xargs does with one option, in the order given.
func (p *xargsParser) apply(c byte, val string, hasVal bool, _ string) error {
	o := p.o
	var err error
	switch c {
	case '0':
		o.delim = 0
	case 'd':
		var d byte
		if d, err = p.delimiter(val); err == nil {
			o.delim = int(d)
		}
	case 'E', 'e':
		o.eofStr = ""
		if hasVal {
			o.eofStr = val
		}
	case 'h':
		o.help = true
	case 'I', 'i':
		o.replace, o.replacing = "{}", true
		if hasVal {
			o.replace = val
		}
		if o.maxArgs != 0 {
			p.warnExclusive("--replace/-I/-i", "--max-args")
			o.maxArgs = 0
		}
		if o.maxLines != 0 {
			p.warnExclusive("--replace/-I/-i", "--max-lines")
			o.maxLines = 0
		}
	case 'L', 'l':
		name := "-L"
		if c == 'l' {
			name = "--max-lines/-l"
		}
		o.maxLines = 1
		if c == 'L' || hasVal {
			if o.maxLines, err = p.num(val, c, 1, -1, true); err != nil {
				return err
			}
		}
		if o.maxArgs != 0 {
			p.warnExclusive(name, "--max-args")
			o.maxArgs = 0
		}
		if o.replacing {
			p.warnExclusive(name, "--replace")
			o.replacing = false
		}
	case 'n':
		if o.maxArgs, err = p.num(val, 'n', 1, -1, true); err != nil {
			return err
		}
		if o.maxLines != 0 {
			p.warnExclusive("--max-args/-n", "--max-lines")
			o.maxLines = 0
		}
		if o.replacing {
			if o.maxArgs == 1 {
				o.maxArgs = 0 // -I -n1: -n1 is ignored, as xargs does
			} else {
				p.warnExclusive("--max-args/-n", "--replace")
				o.replacing = false
			}
		}
	case 's':
		if o.envTooBig {
			return p.fatal("environment is too large for exec")
		}
		if o.argMax, err = p.num(val, 's', 1, o.posixMax, false); err != nil {
			return err
		}
	case 'S':
		o.showLimits = true
	case 't':
		o.verbose = true
	case 'x':
		o.exitIfSize = true
	case 'o':
		o.openTTY = true
	case 'p':
		o.interactive, o.verbose = true, true
	case 'r':
		o.noRunIfEmpty = true
	case 'P':
		if o.procs, err = p.num(val, 'P', 0, math.MaxInt32, true); err != nil {
			return err
		}
	case 'a':
		o.argFile = val
	case 'v':
		o.version = true
	case 'V':
		if strings.Contains(val, "=") {
			return p.fatal("option --process-slot-var may not be set to a value which includes `='")
		}
		o.slotVar = val
	}
	return err
}

// num parses a number as xargs's parse_num does (strtol, base 10):
// out of [lo, hi] (hi < 0: no upper bound) it complains and, if fatal,
// exits; else it takes the bound.
func (p *xargsParser) num(s string, opt byte, lo, hi int, fatal bool) (int, error) {
	t := strings.TrimLeft(s, " \t\n\v\f\r")
	neg := false
	if t != "" && (t[0] == '+' || t[0] == '-') {
		neg = t[0] == '-'
		t = t[1:]
	}
	if t == "" || strings.TrimLeft(t, "0123456789") != "" {
		return 0, p.usageFail("invalid number \"%s\" for -%c option", s, opt)
	}
	v, err := strconv.ParseInt(t, 10, 64)
	if err != nil { // out of range: strtol's LONG_MAX or LONG_MIN
		v = math.MaxInt64
	}
	if neg {
		v = -v
		if err != nil {
			v = math.MinInt64
		}
	}
	complain := func(format string, bound int) (int, error) {
		if fatal {
			return 0, p.usageFail(format, s, opt, bound)
		}
		p.say(format, s, opt, bound)
		return bound, nil
	}
	switch {
	case v < int64(lo):
		return complain("value %s for -%c option should be >= %d", lo)
	case hi >= 0 && v > int64(hi):
		return complain("value %s for -%c option should be <= %d", hi)
	}
	return int(v), nil
}

// delimiter parses -d as xargs's get_input_delimiter: one byte, or an
// escape: \a \b \f \n \r \t \v \\, \ooo (octal), \xHH (hex).
func (p *xargsParser) delimiter(s string) (byte, error) {
	if len(s) == 1 {
		return s[0], nil
	}
	if s == "" || s[0] != '\\' {
		return 0, p.fatal("Invalid input delimiter specification %s: the delimiter must be either a single character or an escape sequence starting with \\.", s)
	}
	switch s[1] {
	case 'a':
		return '\a', nil
	case 'b':
		return '\b', nil
	case 'f':
		return '\f', nil
	case 'n':
		return '\n', nil
	case 'r':
		return '\r', nil
	case 't':
		return '\t', nil
	case 'v':
		return '\v', nil
	case '\\':
		return '\\', nil
	}
	base, digits, rest := 8, "01234567", s[1:]
	switch {
	case s[1] == 'x':
		base, digits, rest = 16, "0123456789abcdefABCDEF", s[2:]
	case s[1] >= '0' && s[1] <= '9':
	default:
		return 0, p.fatal("Invalid escape sequence %s in input delimiter specification.", s)
	}
	n := len(rest) - len(strings.TrimLeft(rest, digits))
	var v uint64
	if n > 0 {
		var err error
		if v, err = strconv.ParseUint(rest[:n], base, 64); err != nil {
			v = math.MaxUint64
		}
	}
	if v > 0xff {
		if base == 16 {
			return 0, p.fatal("Invalid escape sequence %s in input delimiter specification; character values must not exceed %x.", s, 0xff)
		}
		return 0, p.fatal("Invalid escape sequence %s in input delimiter specification; character values must not exceed %o.", s, 0xff)
	}
	if n < len(rest) {
		return 0, p.fatal("Invalid escape sequence %s in input delimiter specification; trailing characters %s not recognised.", s, rest[n:])
	}
	return byte(v), nil
}
