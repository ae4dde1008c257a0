package main

import (
	"bytes"
	"slices"
	"strings"
	"testing"
)

func parseXargs(args ...string) (*xargsOptions, string, error) {
	var errb bytes.Buffer
	o := newXargsOptions([]string{"A=1"})
	p := &xargsParser{prog: "xargs", stderr: &errb, o: o}
	err := p.parse(args)
	return o, errb.String(), err
}

func TestXargsOptions(t *testing.T) {
	for _, c := range []struct {
		args    []string
		check   func(o *xargsOptions) bool
		stderr  string
		command []string
	}{
		{[]string{"-0rtn1", "echo", "-n"}, func(o *xargsOptions) bool {
			return o.delim == 0 && o.noRunIfEmpty && o.verbose && o.maxArgs == 1
		}, "", []string{"echo", "-n"}},
		{[]string{"--max-a=2", "--verb", "--", "-x"}, func(o *xargsOptions) bool { return o.maxArgs == 2 && o.verbose }, "", []string{"-x"}},
		{[]string{"-iXX", "cmd"}, func(o *xargsOptions) bool { return o.replacing && o.replace == "XX" }, "", []string{"cmd"}},
		{[]string{"-i", "cmd"}, func(o *xargsOptions) bool { return o.replace == "{}" }, "", []string{"cmd"}},
		{[]string{"-I{}", "-n1"}, func(o *xargsOptions) bool { return o.replacing && o.maxArgs == 0 }, "", nil},
		{[]string{"-L2", "-n", "3"}, func(o *xargsOptions) bool { return o.maxLines == 0 && o.maxArgs == 3 },
			"xargs: warning: options --max-lines and --max-args/-n are mutually exclusive, ignoring previous --max-lines value\n", nil},
		{[]string{"-l", "-e", "x"}, func(o *xargsOptions) bool { return o.maxLines == 1 && o.eofStr == "" }, "", []string{"x"}},
		{[]string{"-d", "\\x41", "-s", "  100"}, func(o *xargsOptions) bool { return o.delim == 'A' && o.argMax == 100 }, "", nil},
		{[]string{"-s", "0"}, func(o *xargsOptions) bool { return o.argMax == 1 }, "xargs: value 0 for -s option should be >= 1\n", nil},
	} {
		o, stderr, err := parseXargs(c.args...)
		if err != nil || !c.check(o) || stderr != c.stderr || !slices.Equal(o.command, c.command) {
			t.Errorf("%q: %+v, stderr %q, %v", c.args, o, stderr, err)
		}
	}
}

func TestXargsOptionErrors(t *testing.T) {
	for _, c := range []struct {
		args   []string
		stderr string
	}{
		{[]string{"--foo"}, "xargs: unrecognized option '--foo'\n"},
		{[]string{"-z"}, "xargs: invalid option -- 'z'\n"},
		{[]string{"-n"}, "xargs: option requires an argument -- 'n'\n"},
		{[]string{"--max-args"}, "xargs: option '--max-args' requires an argument\n"},
		{[]string{"--null=1"}, "xargs: option '--null' doesn't allow an argument\n"},
		{[]string{"--max"}, "xargs: option '--max' is ambiguous; possibilities: '--max-lines' '--max-args' '--max-chars' '--max-procs'\n"},
		{[]string{"-n", "1x"}, "xargs: invalid number \"1x\" for -n option\n"},
		{[]string{"-P", "-1"}, "xargs: value -1 for -P option should be >= 0\n"},
	} {
		_, stderr, err := parseXargs(c.args...)
		want := c.stderr + "Try 'xargs --help' for more information.\n"
		if exitOf(err) != 1 || stderr != want {
			t.Errorf("%q: stderr %q exit %d, want %q exit 1", c.args, stderr, exitOf(err), want)
		}
	}
	for _, d := range []string{"ab", "\\q", "\\777", "\\12z", ""} {
		if _, stderr, err := parseXargs("-d", d); exitOf(err) != 1 || !strings.HasPrefix(stderr, "xargs: Invalid") {
			t.Errorf("-d %q: stderr %q, %v", d, stderr, err)
		}
	}
}

// FuzzXargsOptions: any command line parses without a panic, into
// options and a command that is what follows them, or fails with exit 1
// and a message naming xargs.
func FuzzXargsOptions(f *testing.F) {
	f.Fuzz(func(t *testing.T, line string) {
		args := strings.Split(line, " ")
		o, stderr, err := parseXargs(args...)
		if err != nil {
			if exitOf(err) != 1 || !strings.HasPrefix(stderr, "xargs: ") {
				t.Fatalf("%q: %v, stderr %q", args, err, stderr)
			}
			return
		}
		if len(o.command) > len(args) || !slices.Equal(o.command, args[len(args)-len(o.command):]) {
			t.Fatalf("%q: command %q is not what follows the options", args, o.command)
		}
		if o.maxArgs < 0 || o.maxLines < 0 || o.argMax < 1 || o.argMax > o.posixMax || o.procs < 0 {
			t.Fatalf("%q: out of range: %+v", args, o)
		}
	})
}
