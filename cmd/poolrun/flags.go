package main

import (
	"errors"
	"fmt"
	"github.com/poolrun/poolrun/batch"
	"math"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/poolrun/poolrun/jobserver"
	"github.com/poolrun/poolrun/semlock"
)

// options is the parsed command line of a batch run.
type options struct {
	jobs     int          // -j, resolved
	jobsSet  bool         // -j was given
	jobsSpec string       // -j as written
	jobsMax  bool         // -j 0: as many as the machine allows (jobs is then maxJobsCap)
	sem      string       // --sem NAME
	sources  []sourceSpec // -a files, then ::: and :::: sources, in order
	link     bool         // --link: pair the sources up instead of the cartesian product
	maxArgs  int          // -n, -N: inputs per job
	noArgs   bool         // -n 0, -N 0: a job per input, without its arguments
	pack     packOptions  // -X, -m, --xargs, -L, -s, -N: several inputs per job (pack.go)
	colsep   *regexp.Regexp
	colsepAs string // --colsep as written
	csv      bool   // --csv: each input is a CSV record
	delim    byte   // input separator: '\n', 0 with -0, or -d
	command  []string
	quote    bool // -q: the command's words as they are, not joined into shell code
	plus     bool // --plus: GNU parallel's extra replacement strings
	shellQ   int  // --shellquote, as many times as given
	verbose  bool // -t: each command on stderr as it starts
	echo     bool // -v: each command on stdout, before its output
	workdir  string
	delay    time.Duration

	keepOrder  bool
	lineBuffer bool
	ungroup    bool
	tag        bool
	results    string
	tagString  string // --tagstring
	files      bool   // --files
	tmpdir     string // --tmpdir

	trim       string // --trim: n, l, r, lr
	argSep     string // --arg-sep: instead of :::
	argFileSep string // --arg-file-sep: instead of ::::
	shuf       bool   // --shuf
	nice       int    // --nice
	niceSet    bool
	maxLoad    float64 // --load: no job starts above this load average
	memFree    int64   // --memfree: no job starts with less memory available
	slotVar    string  // --process-slot-var
	info       string  // --number-of-cpus, --minversion: print this and exit
	infoStatus int     // with info

	timeout time.Duration
	grace   time.Duration
	retries int
	halt    batch.Halt

	joblog       string
	resume       bool
	resumeFailed bool
	dryRun       bool
	bar          bool
	pipe         pipeOptions // --pipe, --pipepart and their flags (pipeflags.go)
	header       string      // --header as written
	help         bool
	version      bool

	jobserver jobserver.Style // --jobserver-style, --no-jobserver (Off)
}

// maxJobsCap is the size of the cap -j 0 makes: batch.AsManyAsPossible
// then runs as many of its slots as the machine's limits allow.
const maxJobsCap = 1000

// usageError is bad input on the command line: one line on stderr, exit 255.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// flagSpec is one flag: its names, whether it takes a value, and what to
// do with it.
type flagSpec struct {
	names []string // "-j", "--jobs"
	value string   // "" for a switch, else the value's placeholder
	set   func(o *options, v string) error
}

var flagSpecs = []flagSpec{
	{[]string{"-j", "--jobs", "-P", "--max-procs"}, "N", func(o *options, v string) error {
		n, err := parseJobs(v, runtime.NumCPU())
		if err != nil {
			return err
		}
		o.jobs, o.jobsSet, o.jobsSpec, o.jobsMax = n, true, v, n == 0
		if n == 0 {
			o.jobs = maxJobsCap
		}
		return nil
	}},
	{[]string{"--sem"}, "NAME", func(o *options, v string) error {
		if err := semlock.ValidateName(v); err != nil && !isEtcd(v) { // an etcd URL is checked by its helper
			return usagef("--sem %q: bad name: letters, digits, '.', '_' or '-', starting with a letter or digit, at most %d bytes", v, semlock.MaxNameLen)
		}
		o.sem = v
		return nil
	}},
	{[]string{"-a", "--arg-file"}, "FILE", func(o *options, v string) error {
		o.sources = append(o.sources, sourceSpec{file: v})
		return nil
	}},
	{[]string{"--link", "--xapply"}, "", func(o *options, _ string) error { o.link = true; return nil }},
	{[]string{"-n", "--max-args", "-N", "--max-replace-args"}, "N", func(o *options, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 100000 {
			return usagef("-n %q: want the number of inputs per job, 0 to 100000 (e.g. -n 2: poolrun -n 2 echo ::: a b c d runs echo a b, echo c d; -n 0: a job per input, without it)", v)
		}
		o.maxArgs, o.noArgs = n, n == 0
		return nil
	}},
	{[]string{"-X"}, "", func(o *options, _ string) error { o.pack.mode = 'X'; return nil }},
	{[]string{"-m"}, "", func(o *options, _ string) error { o.pack.mode = 'm'; return nil }},
	{[]string{"--xargs"}, "", func(o *options, _ string) error { o.pack.mode = 'x'; return nil }},
	{[]string{"-L", "--max-lines"}, "N", setMaxLines},
	{[]string{"-s", "--max-chars"}, "N", setMaxChars},
	{[]string{"-I"}, "STR", setReplace},
	{[]string{"-r", "--no-run-if-empty"}, "", func(o *options, _ string) error { o.pack.noRunIfEmpty = true; return nil }},
	{[]string{"-E"}, "EOF", func(o *options, v string) error { o.pack.eof, o.pack.eofSet = v, true; return nil }},
	{[]string{"-C", "--colsep"}, "REGEXP", func(o *options, v string) error {
		re, err := regexp.Compile(v)
		if err != nil || v == "" {
			return usagef("--colsep %q: want a regular expression that separates an input's columns (--colsep , or --colsep '\\t'): %v", v, err)
		}
		o.colsep, o.colsepAs = re, v
		return nil
	}},
	{[]string{"-0", "--null"}, "", func(o *options, _ string) error { o.delim = 0; return nil }},
	{[]string{"-d", "--delimiter"}, "CHAR", func(o *options, v string) error {
		d, err := parseDelim(v)
		o.delim = d
		return err
	}},
	{[]string{"--will-cite"}, "", func(o *options, _ string) error { return nil }},
	{[]string{"-q", "--quote"}, "", func(o *options, _ string) error { o.quote = true; return nil }},
	{[]string{"-k", "--keep-order"}, "", func(o *options, _ string) error { o.keepOrder = true; return nil }},
	{[]string{"--line-buffer", "--lb", "--linebuffer"}, "", func(o *options, _ string) error { o.lineBuffer = true; return nil }},
	{[]string{"-u", "--ungroup"}, "", func(o *options, _ string) error { o.ungroup = true; return nil }},
	{[]string{"--tag", "--ctag"}, "", func(o *options, _ string) error { o.tag = true; return nil }},
	{[]string{"--results"}, "DIR", func(o *options, v string) error {
		if v == "" {
			return usagef("--results: empty directory name")
		}
		o.results = v
		return nil
	}},
	{[]string{"--timeout"}, "DUR", func(o *options, v string) error {
		d, err := parseDuration("--timeout", v)
		o.timeout = d
		return err
	}},
	{[]string{"--grace"}, "DUR", func(o *options, v string) error {
		d, err := parseDuration("--grace", v)
		o.grace = d
		return err
	}},
	{[]string{"--retries"}, "N", func(o *options, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return usagef("--retries %q: want the number of attempts in all, 1 to 1000 (e.g. --retries 3)", v)
		}
		o.retries = n
		return nil
	}},
	{[]string{"--halt"}, "SPEC", func(o *options, v string) error {
		h, err := parseHalt(v)
		o.halt = h
		return err
	}},
	{[]string{"--joblog", "--jl"}, "FILE", func(o *options, v string) error {
		if v == "" {
			return usagef("--joblog: empty file name")
		}
		o.joblog = v
		return nil
	}},
	{[]string{"--resume"}, "", func(o *options, _ string) error { o.resume = true; return nil }},
	{[]string{"--resume-failed"}, "", func(o *options, _ string) error { o.resumeFailed = true; return nil }},
	{[]string{"-t", "--verbose"}, "", func(o *options, _ string) error { o.verbose = true; return nil }},
	{[]string{"-v"}, "", func(o *options, _ string) error { o.echo = true; return nil }},
	{[]string{"--workdir", "--wd"}, "DIR", func(o *options, v string) error {
		if v == "" {
			return usagef("--workdir: empty directory name")
		}
		o.workdir = v
		return nil
	}},
	{[]string{"--delay"}, "DUR", func(o *options, v string) error {
		d, err := parseDuration("--delay", v)
		o.delay = d
		return err
	}},
	{[]string{"--env"}, "VAR", func(o *options, v string) error { return nil }},
	{[]string{"--dry-run", "--dryrun"}, "", func(o *options, _ string) error { o.dryRun = true; return nil }},
	{[]string{"--bar", "--progress", "--eta"}, "", func(o *options, _ string) error { o.bar = true; return nil }},
	{[]string{"--jobserver-style"}, "STYLE", func(o *options, v string) error {
		st, err := jobserver.ParseStyle(v)
		if err != nil || st == jobserver.Off {
			return usagef("--jobserver-style %q: want pipe (make 4.3 reads only this) or fifo (make 4.4, ninja 1.13); --no-jobserver hands none", v)
		}
		o.jobserver = st
		return nil
	}},
	{[]string{"--no-jobserver"}, "", func(o *options, _ string) error { o.jobserver = jobserver.Off; return nil }},
	{[]string{"-h", "--help"}, "", func(o *options, _ string) error { o.help = true; return nil }},
	{[]string{"--version"}, "", func(o *options, _ string) error { o.version = true; return nil }},
}

func lookupFlag(specs []flagSpec, name string) *flagSpec {
	for i := range specs {
		for _, n := range specs[i].names {
			if n == name {
				return &specs[i]
			}
		}
	}
	return nil
}

// newOptions is the options of a command line with no flags.
func newOptions() *options {
	return &options{delim: '\n', jobs: runtime.NumCPU(), grace: time.Second, retries: 1}
}

// parseFlags applies the flags at the start of args (up to "--", ":::",
// "::::" or the first word that is not a flag) to o, and returns the
// rest. Flags are looked up in specs.
func parseFlags(args []string, specs []flagSpec, o *options) ([]string, error) {
	args = append([]string(nil), args...) // bundled switches are split in place
	i := 0
	for i < len(args) {
		a := args[i]
		if a == "--" {
			i++
			break
		}
		if a == ":::" || a == "::::" || len(a) < 2 || a[0] != '-' {
			break
		}
		name, val, hasVal := a, "", false
		if strings.HasPrefix(a, "--") {
			if k := strings.IndexByte(a, '='); k > 0 {
				name, val, hasVal = a[:k], a[k+1:], true
			}
		} else if len(a) > 2 {
			// -j4, -afile: a short flag with its value attached.
			if f := lookupFlag(specs, a[:2]); f != nil && f.value != "" {
				name, val, hasVal = a[:2], a[2:], true
			}
		}
		if len(a) > 2 && strings.HasPrefix(a, "-i") && !strings.HasPrefix(a, "--") {
			name, val, hasVal = "-i", a[2:], true
		}
		if name == "--replace" || name == "-i" {
			// GNU parallel's --replace[=STR], -i[STR]: an optional value,
			// attached, or the next word if it is not a flag (Getopt's :s).
			if !hasVal && i+1 < len(args) && !strings.HasPrefix(args[i+1], "-") && !o.isSourceSep(args[i+1]) {
				val, hasVal = args[i+1], true
				i++
			}
			if !hasVal {
				val = "{}"
			}
			i++
			if err := setReplace(o, val); err != nil {
				return nil, err
			}
			continue
		}
		f := lookupFlag(specs, name)
		if f == nil && !strings.HasPrefix(a, "--") && len(a) > 2 {
			// Bundled switches, as getopt takes them: -vk is -v -k, -kP4
			// is -k -P4, -vkd, is -v -k -d ,.
			if sw := lookupFlag(specs, a[:2]); sw != nil && sw.value == "" {
				if err := sw.set(o, ""); err != nil {
					return nil, err
				}
				args[i] = "-" + a[2:]
				continue
			}
		}
		if f == nil {
			return nil, usagef("unknown flag %s", a)
		}
		if name == "-N" || name == "--max-replace-args" {
			o.pack.contextN = true
		}
		i++
		if f.value == "" {
			if hasVal {
				return nil, usagef("flag %s takes no value", name)
			}
		} else if !hasVal {
			if i >= len(args) {
				return nil, usagef("flag %s needs a value (%s)", name, f.value)
			}
			val = args[i]
			i++
		}
		if err := f.set(o, val); err != nil {
			return nil, err
		}
	}
	return args[i:], nil
}

// parseArgs parses a batch run's command line: flags, then the command,
// with ":::" and "::::" input sources anywhere after the flags.
func parseArgs(args []string) (*options, error) {
	o := newOptions()
	rest, err := parseFlags(args, flagSpecs, o)
	if err != nil {
		return nil, err
	}
	// The command, then input sources.
	for len(rest) > 0 && !o.isSourceSep(rest[0]) {
		o.command = append(o.command, rest[0])
		rest = rest[1:]
	}
	for len(rest) > 0 {
		sep := rest[0]
		rest = rest[1:]
		var vals []string
		for len(rest) > 0 && !o.isSourceSep(rest[0]) {
			vals = append(vals, rest[0])
			rest = rest[1:]
		}
		linked := sep != o.argSepOr() && sep != o.argFileSepOr()
		if sep == o.argFileSepOr() || sep == o.argFileSepOr()+"+" {
			if len(vals) == 0 {
				return nil, usagef("%s needs at least one file", sep)
			}
			// Each file is a source of its own: :::: f1 f2 is their product.
			for i, f := range vals {
				// ::::+ f1 f2: f1 pairs with the source before it (if
				// any), and f2 with f1, as GNU parallel pairs them.
				o.sources = append(o.sources, sourceSpec{file: f, linked: linked && (i > 0 || len(o.sources) > 0)})
			}
			continue
		}
		o.sources = append(o.sources, sourceSpec{args: vals, isArgs: true, linked: linked})
	}
	if len(o.sources) > 0 && o.sources[0].linked {
		return nil, usagef("%s links a source to the one before it: there is none before it", ":::+")
	}
	return o, o.check()
}

// sourceSpec is one input source: an -a or :::: file ("-" is stdin), or
// the values after a :::.
type sourceSpec struct {
	file   string
	args   []string
	isArgs bool
	linked bool // :::+ or ::::+: paired with the source before it, not multiplied
}

// isSourceSep reports whether a word starts an input source: :::, ::::,
// :::+, ::::+, or the same with --arg-sep and --arg-file-sep's strings.
func (o *options) isSourceSep(w string) bool {
	a, f := o.argSepOr(), o.argFileSepOr()
	return w == a || w == a+"+" || w == f || w == f+"+"
}

func (o *options) argSepOr() string {
	if o.argSep != "" {
		return o.argSep
	}
	return ":::"
}

func (o *options) argFileSepOr() string {
	if o.argFileSep != "" {
		return o.argFileSep
	}
	return "::::"
}

// check rejects combinations that cannot work, before anything runs.
func (o *options) check() error {
	if o.help || o.version || o.info != "" {
		return nil
	}
	if err := o.checkPipe(); err != nil {
		return err
	}
	if o.resume && o.resumeFailed {
		return usagef("--resume and --resume-failed: choose one")
	}
	if (o.resume || o.resumeFailed) && o.joblog == "" {
		return usagef("--resume needs --joblog FILE (the log of the earlier run)")
	}
	if o.csv && o.colsep != nil && len(o.colsepAs) != 1 {
		return usagef("--csv --colsep %q: with --csv the separator is one character (--colsep ';'; a TAB typed as $'\\t')", o.colsepAs)
	}
	if o.csv && o.pipe.on() {
		return usagef("--csv with --pipe or --pipepart (blocks of whole CSV records) is not supported: use --pipe without --csv, or --csv on lines")
	}
	if o.ungroup && (o.lineBuffer || o.keepOrder || o.tag) {
		return usagef("-u (ungrouped output) cannot be combined with -k, --line-buffer or --tag")
	}
	return nil
}

// parseJobs parses -j: a number of jobs, or N% of the CPUs.
func parseJobs(v string, cpus int) (int, error) {
	bad := func(why string) error {
		return usagef("-j %q: %s; want a number of jobs (-j 4), a percentage of the %d CPUs (-j 50%%), the CPUs plus or minus N (-j +2, -j -1), or 0 for as many as the machine allows", v, why, cpus)
	}
	if pct, ok := strings.CutSuffix(v, "%"); ok {
		p, err := strconv.ParseFloat(pct, 64)
		if err != nil || math.IsNaN(p) || math.IsInf(p, 0) {
			return 0, bad("not a percentage")
		}
		if p <= 0 {
			return 0, bad("must be more than 0%")
		}
		n := int(math.Floor(float64(cpus) * p / 100))
		if n < 1 {
			n = 1
		}
		if n > semlock.MaxValue {
			return 0, bad(fmt.Sprintf("more than %d jobs", semlock.MaxValue))
		}
		return n, nil
	}
	rel := v != "" && (v[0] == '+' || v[0] == '-') // +N, -N: the CPUs and N more, N fewer
	n, err := strconv.Atoi(v)
	switch {
	case err != nil && errors.Is(err, strconv.ErrRange):
		return 0, bad("too large")
	case err != nil:
		return 0, bad("not a number")
	case rel:
		n = max(1, cpus+n)
	case n == 0:
		return 0, nil // as many as the machine's limits allow
	case n < 1:
		return 0, bad("must be at least 1")
	case n > semlock.MaxValue:
		return 0, bad(fmt.Sprintf("more than %d jobs (the largest SysV semaphore value)", semlock.MaxValue))
	}
	return n, nil
}

// parseDuration accepts Go durations (1m30s, 500ms) and plain seconds
// (GNU parallel's --timeout 10).
func parseDuration(flag, v string) (time.Duration, error) {
	if s, err := strconv.ParseFloat(v, 64); err == nil && s > 0 && s < 1e9 {
		return time.Duration(s * float64(time.Second)), nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, usagef("%s %q: want a positive duration (%s 30s, %s 1m30s, %s 10 for seconds)", flag, v, flag, flag, flag)
	}
	return d, nil
}

func parseDelim(v string) (byte, error) {
	switch v {
	case `\n`:
		return '\n', nil
	case `\t`:
		return '\t', nil
	case `\0`, "":
		return 0, nil
	}
	if len(v) != 1 {
		return 0, usagef("-d %q: want one byte, or \\n, \\t, \\0", v)
	}
	return v[0], nil
}

// parseHalt parses --halt: never, now|soon,fail|success|done=N|N%, or
// GNU parallel's short forms 0 (never), 1 (soon,fail=1), 2 (now,fail=1).
func parseHalt(v string) (batch.Halt, error) {
	bad := func() error {
		return usagef("--halt %q: want now|soon,fail|success|done=N|N%% (e.g. --halt soon,fail=1 or --halt now,fail=10%%), or never", v)
	}
	switch v {
	case "never", "0":
		return batch.Halt{}, nil
	case "1":
		return batch.Halt{When: batch.HaltSoon, On: batch.HaltOnFail, Count: 1}, nil
	case "2":
		return batch.Halt{When: batch.HaltNow, On: batch.HaltOnFail, Count: 1}, nil
	case "-1":
		return batch.Halt{When: batch.HaltSoon, On: batch.HaltOnSuccess, Count: 1}, nil
	case "-2":
		return batch.Halt{When: batch.HaltNow, On: batch.HaltOnSuccess, Count: 1}, nil
	}
	if p, ok := strings.CutSuffix(v, "%"); ok && !strings.Contains(v, ",") { // 1-99%: soon,fail=N%
		if f, err := strconv.ParseFloat(p, 64); err == nil && f > 0 && f < 100 {
			return batch.Halt{When: batch.HaltSoon, On: batch.HaltOnFail, Percent: f}, nil
		}
		return batch.Halt{}, bad()
	}
	when, cond, ok := strings.Cut(v, ",")
	if !ok {
		return batch.Halt{}, bad()
	}
	var h batch.Halt
	switch when {
	case "now":
		h.When = batch.HaltNow
	case "soon":
		h.When = batch.HaltSoon
	default:
		return h, bad()
	}
	what, n, ok := strings.Cut(cond, "=")
	if !ok {
		return h, bad()
	}
	switch what {
	case "fail":
		h.On = batch.HaltOnFail
	case "success":
		h.On = batch.HaltOnSuccess
	case "done":
		h.On = batch.HaltOnDone
	default:
		return h, bad()
	}
	if p, ok := strings.CutSuffix(n, "%"); ok {
		f, err := strconv.ParseFloat(p, 64)
		if err != nil || !(f > 0 && f <= 100) {
			return h, bad()
		}
		h.Percent = f
		return h, nil
	}
	c, err := strconv.Atoi(n)
	if err != nil || c < 1 {
		return h, bad()
	}
	h.Count = c
	return h, nil
}
