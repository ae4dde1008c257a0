package main

import (
	"errors"
	"fmt"
	"math"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/poolrun/poolrun/semlock"
)

// semOptions is the parsed command line of the GNU sem personality.
type semOptions struct {
	fg       bool
	wait     bool
	id       string // --id as given; "" : the default (the terminal's name)
	idSet    bool
	jobs     string        // -j as written; "" : 1 (a mutex), as GNU sem's default
	st       time.Duration // --semaphoretimeout: > 0 take the slot anyway after it, < 0 give up after it
	timeout  time.Duration // --timeout: kill the command after it
	ungroup  bool          // -u: the command writes straight to sem's stdout and stderr
	quote    bool          // -q: the command's words as they are
	noJS     bool          // --no-jobserver: take no token from a make sem runs under (poolrun's own)
	help     bool
	version  bool
	command  []string
	holder   bool // --poolrun-holder: this process is the background holder (internal)
	holderFd int  // the descriptor the holder reports on
}

// semFlag is one option of the sem personality.
type semFlag struct {
	names []string
	value bool // takes a value
	set   func(o *semOptions, v string) error
}

// semFlags are GNU sem's options (and the few of GNU parallel's that make
// sense for one command). GNU parallel accepts a long option with one dash
// or two (Getopt::Long); so does this table.
var semFlags = []semFlag{
	{[]string{"--fg"}, false, func(o *semOptions, _ string) error { o.fg = true; return nil }},
	{[]string{"--bg"}, false, func(o *semOptions, _ string) error { o.fg = false; return nil }},
	{[]string{"--wait"}, false, func(o *semOptions, _ string) error { o.wait = true; return nil }},
	{[]string{"--semaphore"}, false, func(o *semOptions, _ string) error { return nil }},
	{[]string{"--id", "--semaphorename", "--semaphore-name"}, true, func(o *semOptions, v string) error {
		o.id, o.idSet = v, true
		return nil
	}},
	{[]string{"--st", "--semaphoretimeout", "--semaphore-timeout"}, true, func(o *semOptions, v string) error {
		o.st = parseSemTimeout(v)
		return nil
	}},
	{[]string{"-j", "--jobs", "-P", "--max-procs"}, true, func(o *semOptions, v string) error { o.jobs = v; return nil }},
	{[]string{"--timeout"}, true, func(o *semOptions, v string) error {
		d, ok := parseTimeUnits(v)
		if !ok || d <= 0 {
			return usagef("--timeout %q must be seconds (10, 1.5) or a time with units (2m30s, 1h)", v)
		}
		o.timeout = d
		return nil
	}},
	{[]string{"-u", "--ungroup"}, false, func(o *semOptions, _ string) error { o.ungroup = true; return nil }},
	{[]string{"--line-buffer", "--lb"}, false, func(o *semOptions, _ string) error { o.ungroup = true; return nil }},
	{[]string{"--no-jobserver"}, false, func(o *semOptions, _ string) error { o.noJS = true; return nil }},
	{[]string{"-q", "--quote"}, false, func(o *semOptions, _ string) error { o.quote = true; return nil }},
	// GNU parallel's options that change nothing for one command are
	// accepted, as scripts pass them to sem.
	{[]string{"--will-cite", "--no-notice", "-k", "--keep-order"}, false, func(o *semOptions, _ string) error { return nil }},
	{[]string{"-h", "--help"}, false, func(o *semOptions, _ string) error { o.help = true; return nil }},
	{[]string{"--version", "-V"}, false, func(o *semOptions, _ string) error { o.version = true; return nil }},
	{[]string{holderFlag}, true, func(o *semOptions, v string) error {
		fd, err := strconv.Atoi(v)
		if err != nil || fd < 3 {
			return usagef("%s is poolrun's own: do not use it", holderFlag)
		}
		o.holder, o.holderFd = true, fd
		return nil
	}},
}

// holderFlag marks the background holder's command line (see gnusem_bg.go).
const holderFlag = "--poolrun-holder"

// lookupSemFlag finds the option named name ("--id", "-id", "-j").
func lookupSemFlag(name string) *semFlag {
	long := name
	if !strings.HasPrefix(name, "--") && len(name) > 2 {
		long = "-" + name // Getopt::Long: -fg is --fg
	}
	for i := range semFlags {
		for _, n := range semFlags[i].names {
			if n == name || n == long {
				return &semFlags[i]
			}
		}
	}
	return nil
}

// parseSemArgs parses sem's command line: options, then the command (the
// first word that is not an option, or the words after "--"). Options
// after the command are the command's.
func parseSemArgs(args []string) (*semOptions, error) {
	o := &semOptions{}
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
		name, val, hasVal := a, "", false
		if k := strings.IndexByte(a, '='); k > 0 {
			name, val, hasVal = a[:k], a[k+1:], true
		} else if !strings.HasPrefix(a, "--") && len(a) > 2 && lookupSemFlag(a) == nil {
			// -j4, -P2: a short option with its value attached.
			if f := lookupSemFlag(a[:2]); f != nil && f.value {
				name, val, hasVal = a[:2], a[2:], true
			}
		}
		f := lookupSemFlag(name)
		if f == nil {
			return nil, usagef("unknown option %s: sem takes --fg, --bg, --wait, --id NAME, -j N, --st SECS, --timeout SECS (see sem --help)", a)
		}
		i++
		if !f.value {
			if hasVal {
				return nil, usagef("option %s takes no value", name)
			}
		} else if !hasVal {
			if i >= len(args) {
				return nil, usagef("option %s needs a value", name)
			}
			val = args[i]
			i++
		}
		if err := f.set(o, val); err != nil {
			return nil, err
		}
	}
	o.command = args[i:]
	return o, nil
}

// errNoJobs is GNU parallel's "Cannot run any jobs.": -j -N leaves fewer
// than one job.
var errNoJobs = errors.New("cannot run any jobs")

// parseSemJobs resolves sem's -j as GNU sem does: N (0: no limit), +N and
// -N (the CPUs plus or minus N; less than 1 is errNoJobs), N% of the CPUs
// (at least 1), or the name of a file that holds one of those. The result
// is 1 to semlock.MaxValue.
func parseSemJobs(v string, cpus int) (int, error) {
	return parseSemJobsDepth(v, cpus, 0)
}

func parseSemJobsDepth(v string, cpus, depth int) (int, error) {
	bad := func() error {
		return usagef("-j %q: want a number of jobs (-j 4), 0 for no limit, the CPUs plus or minus N (-j +2, -j -1), N%% of the %d CPUs (-j 50%%), or a file that holds one of those", v, cpus)
	}
	s := strings.TrimSpace(v)
	if pct, ok := strings.CutSuffix(s, "%"); ok {
		p, err := strconv.ParseFloat(pct, 64)
		if err != nil || math.IsNaN(p) || math.IsInf(p, 0) || p < 0 || strings.ContainsAny(pct, "xXpPeEiInN_") {
			return 0, bad()
		}
		n := math.Floor(float64(cpus) * p / 100)
		return int(max(1, min(n, semlock.MaxValue))), nil
	}
	if semJobsRe.MatchString(s) {
		rel := s[0] == '+' || s[0] == '-'
		n, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return 0, bad()
		}
		if rel {
			n += float64(cpus)
			if n < 1 {
				return 0, errNoJobs
			}
		}
		n = math.Floor(n)
		if n == 0 || n > semlock.MaxValue {
			return semlock.MaxValue, nil // -j 0: as many as can run
		}
		return int(n), nil
	}
	// A procfile: its first line is the -j.
	if depth == 0 && s != "" {
		if b, err := os.ReadFile(s); err == nil {
			line, _, _ := strings.Cut(string(b), "\n")
			if n, err := parseSemJobsDepth(line, cpus, 1); err == nil {
				return n, nil
			}
			return 0, usagef("-j %s: the file holds %q, not a number of jobs (4, +2, -1, 50%%)", v, strings.TrimSpace(line))
		}
	}
	return 0, bad()
}

// semJobsRe is a -j number: digits with an optional sign and fraction.
var semJobsRe = regexp.MustCompile(`^[+-]?[0-9]+(\.[0-9]*)?$|^[+-]?\.[0-9]+$`)

// parseSemTimeout parses --semaphoretimeout as GNU parallel does:
// seconds, or a time with units (1m30s, -2h), whole seconds only; what
// it cannot read is 0, no timeout.
func parseSemTimeout(v string) time.Duration {
	d, ok := parseTimeUnits(v)
	if !ok {
		return 0
	}
	return d.Truncate(time.Second)
}

// parseTimeUnits reads GNU parallel's times: a number of seconds
// ("10", "1.5", "-3"), or numbers with units s, m, h, d ("1h30m", "2d"),
// with an optional sign in front.
func parseTimeUnits(v string) (time.Duration, bool) {
	s := strings.TrimSpace(v)
	neg := false
	if s != "" && (s[0] == '-' || s[0] == '+') {
		neg, s = s[0] == '-', s[1:]
	}
	if s == "" {
		return 0, false
	}
	var total float64
	for s != "" {
		j := 0
		for j < len(s) && (s[j] >= '0' && s[j] <= '9' || s[j] == '.') {
			j++
		}
		if j == 0 {
			return 0, false
		}
		n, err := strconv.ParseFloat(s[:j], 64)
		if err != nil {
			return 0, false
		}
		unit := 1.0
		if j < len(s) {
			switch s[j] {
			case 's', 'S':
				unit = 1
			case 'm', 'M':
				unit = 60
			case 'h', 'H':
				unit = 3600
			case 'd', 'D':
				unit = 86400
			default:
				return 0, false
			}
			j++
		} else if total != 0 {
			return 0, false // "1m30": a number after a unit needs its own
		}
		total += n * unit
		s = s[j:]
	}
	if total > 1e9 {
		return 0, false
	}
	if neg {
		total = -total
	}
	return time.Duration(total * float64(time.Second)), true
}

// semSetName is the name of the set of GNU sem's --id id: the id itself
// when it is a valid set name, else GNU's own mangling ("id-" and every
// byte outside [-_a-zA-Z0-9] in hex: "/dev/pts/3" is
// "id-2fdev2fpts2f3"), with a hash in place of the end of one too long.
func semSetName(id string) string {
	if semlock.ValidateName(id) == nil {
		return id
	}
	var b strings.Builder
	b.WriteString("id-")
	for i := 0; i < len(id); i++ {
		c := id[i]
		if c == '-' || c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%x", c)
		}
	}
	name := b.String()
	if len(name) > semlock.MaxNameLen {
		var h uint32 = 2166136261 // FNV-1a of the whole id
		for i := 0; i < len(id); i++ {
			h = (h ^ uint32(id[i])) * 16777619
		}
		name = fmt.Sprintf("%s-%08x", name[:semlock.MaxNameLen-9], h)
	}
	return name
}
