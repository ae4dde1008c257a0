package main

import (
	"runtime"
	"strconv"
	"strings"
)

// outputFlags are GNU parallel's flags for where outputs go and how
// inputs are read beyond the sources themselves: --tagstring, --files,
// --tmpdir, --header, --trim, --arg-sep, --arg-file-sep, and the ones
// that shape when jobs start (--shuf, --nice, --load, --memfree).
var outputFlags = []flagSpec{
	{[]string{"--group"}, "", func(o *options, _ string) error { return nil }},     // the default
	{[]string{"--plain"}, "", func(o *options, _ string) error { return nil }},     // no profiles to ignore
	{[]string{"--no-notice"}, "", func(o *options, _ string) error { return nil }}, // no notice to silence
	{[]string{"--process-slot-var"}, "VAR", func(o *options, v string) error {
		if v == "" || strings.Contains(v, "=") {
			return usagef("--process-slot-var %q: want a variable name (each job gets it set to its slot - 1)", v)
		}
		o.slotVar = v
		return nil
	}},
	{[]string{"--number-of-cpus", "--number-of-cores", "--number-of-threads", "--number-of-sockets"}, "", func(o *options, _ string) error {
		o.info = strconv.Itoa(runtime.NumCPU())
		return nil
	}},
	{[]string{"--minversion"}, "VERSION", func(o *options, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil {
			return usagef("--minversion %q: want a GNU parallel version, a date as 20221122", v)
		}
		o.info = strconv.Itoa(parallelVersion)
		if n > parallelVersion {
			o.infoStatus = 255
		}
		return nil
	}},
	{[]string{"--shellquote", "--shell-quote", "--shell_quote"}, "", func(o *options, _ string) error { o.shellQ++; return nil }},
	{[]string{"--csv"}, "", func(o *options, _ string) error { o.csv = true; return nil }},
	{[]string{"--plus"}, "", func(o *options, _ string) error { o.plus = true; return nil }},
	{[]string{"--tagstring", "--ctagstring"}, "STR", func(o *options, v string) error { o.tagString = v; return nil }},
	{[]string{"--files", "--output-as-files", "--outputasfiles"}, "", func(o *options, _ string) error { o.files = true; return nil }},
	{[]string{"--tmpdir", "--tempdir"}, "DIR", func(o *options, v string) error {
		if v == "" {
			return usagef("--tmpdir: empty directory name")
		}
		o.tmpdir = v
		return nil
	}},
	{[]string{"--trim"}, "n|l|r|lr", func(o *options, v string) error {
		switch v {
		case "n", "l", "r", "lr", "rl":
			o.trim = v
			return nil
		}
		return usagef("--trim %q: want n (no trimming), l (left), r (right) or lr (both)", v)
	}},
	{[]string{"--arg-sep", "--argsep"}, "SEP", func(o *options, v string) error {
		if v == "" {
			return usagef("--arg-sep: empty separator")
		}
		o.argSep = v
		return nil
	}},
	{[]string{"--arg-file-sep", "--argfilesep"}, "SEP", func(o *options, v string) error {
		if v == "" {
			return usagef("--arg-file-sep: empty separator")
		}
		o.argFileSep = v
		return nil
	}},
	{[]string{"--shuf"}, "", func(o *options, _ string) error { o.shuf = true; return nil }},
	{[]string{"--nice"}, "N", func(o *options, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < -20 || n > 19 {
			return usagef("--nice %q: want a niceness from -20 to 19 (e.g. --nice 10)", v)
		}
		o.nice, o.niceSet = n, true
		return nil
	}},
	{[]string{"--load"}, "MAX", func(o *options, v string) error {
		f, err := parseLoad(v)
		o.maxLoad = f
		return err
	}},
	{[]string{"--memfree"}, "SIZE", func(o *options, v string) error {
		n, err := parseSize(v)
		if err != nil || n <= 0 {
			return usagef("--memfree %q: want a size of memory (e.g. --memfree 1G, 500M, 100000k)", v)
		}
		o.memFree = n
		return nil
	}},
}

// parallelVersion is the GNU parallel release whose command line poolrun
// follows, for --minversion.
const parallelVersion = 20221122

// remoteFlags are GNU parallel's flags for running jobs on other
// machines, which poolrun does not do: each is refused with a line that
// says what to use instead, never silently run here.
var remoteFlags = map[string]bool{
	"-S": true, "--sshlogin": true, "--slf": true, "--sshloginfile": true, "--onall": true, "--nonall": true,
	"--transfer": false, "--transferfile": true, "--tf": true, "--return": true, "--trc": true, "--cleanup": false,
	"--basefile": true, "--bf": true, "--workdir-remote": true, "--controlmaster": false, "-M": false, "--sshdelay": true,
	"--filter-hosts": false,
}

func init() {
	flagSpecs = append(flagSpecs, outputFlags...)
	for name, takesValue := range remoteFlags {
		name := name
		value := ""
		if takesValue {
			value = "ARG"
		}
		flagSpecs = append(flagSpecs, flagSpec{[]string{name}, value, func(*options, string) error {
			return usagef("%s runs jobs on remote hosts, which poolrun does not do: run a poolrun on each host, sharing one cap with --sem NAME on each machine", name)
		}})
	}
}

// headerLines is how many lines of each source --header makes its
// header outside --pipe: none without --header or with --header 0, else
// one, whatever it says (GNU parallel's header outside --pipe is the
// first line; a number of lines, or a regular expression, is for --pipe).
func (o *options) headerLines() int {
	if o.header == "" || o.header == "0" {
		return 0
	}
	return 1
}

// parseLoad parses --load: a number of running processes (the load
// average), or N% of the CPUs.
func parseLoad(v string) (float64, error) {
	bad := usagef("--load %q: want the most load average at which jobs start (e.g. --load 4, or --load 80%% of the CPUs)", v)
	s, pct := strings.CutSuffix(v, "%")
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || !(f > 0) || f > 1e6 {
		return 0, bad
	}
	if pct {
		f = f / 100 * float64(runtime.NumCPU())
	}
	return f, nil
}
