package main

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/poolrun/poolrun/semlock"
)

// GNU sem's -j on 2 CPUs, as parallel 20221122 resolves it (sem --fg -j X
// runs, or says "Cannot run any jobs." with 255).
func TestParseSemJobs(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int
	}{{"1", 1}, {"4", 4}, {"0", semlock.MaxValue}, {"+0", 2}, {"+2", 4}, {"-1", 1}, {"50%", 1}, {"100%", 2},
		{"150%", 3}, {"1%", 1}, {"0%", 1}, {" 3 ", 3}, {"2.5", 2}, {"99999", semlock.MaxValue}} {
		got, err := parseSemJobs(tc.in, 2)
		if err != nil || got != tc.want {
			t.Errorf("parseSemJobs(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
		}
	}
	for _, in := range []string{"-2", "-5"} {
		if _, err := parseSemJobs(in, 2); !errors.Is(err, errNoJobs) {
			t.Errorf("parseSemJobs(%q): %v, want errNoJobs (GNU: Cannot run any jobs.)", in, err)
		}
	}
	for _, in := range []string{"abc", "", "+", "x%", "NaN%", "-5%", "1e3", "0x10", "Inf%"} {
		_, err := parseSemJobs(in, 2)
		var ue *usageError
		if !errors.As(err, &ue) {
			t.Errorf("parseSemJobs(%q): %v, want a usage error", in, err)
		}
	}
	// A procfile holds the -j.
	dir := t.TempDir()
	pf := filepath.Join(dir, "procs")
	os.WriteFile(pf, []byte("+1\n"), 0o644)
	if n, err := parseSemJobs(pf, 2); err != nil || n != 3 {
		t.Errorf("procfile with +1: %d, %v; want 3", n, err)
	}
	os.WriteFile(pf, []byte("lots\n"), 0o644)
	if _, err := parseSemJobs(pf, 2); err == nil || !strings.Contains(err.Error(), "lots") {
		t.Errorf("procfile with lots: %v, want an error naming what it holds", err)
	}
}

func TestParseTimeUnits(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{{"10", 10 * time.Second, true}, {"1.5", 1500 * time.Millisecond, true}, {"-3", -3 * time.Second, true},
		{"2m", 2 * time.Minute, true}, {"1h30m", 90 * time.Minute, true}, {"1d", 24 * time.Hour, true}, {"-1m30s", -90 * time.Second, true},
		{"abc", 0, false}, {"", 0, false}, {"1x", 0, false}, {"1m30", 0, false}, {"-", 0, false}} {
		got, ok := parseTimeUnits(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("parseTimeUnits(%q) = %v, %v; want %v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
	// --st reads what it cannot parse as 0, as GNU does, in whole seconds.
	if d := parseSemTimeout("abc"); d != 0 {
		t.Errorf("--st abc: %v, want 0", d)
	}
	if d := parseSemTimeout("1.7"); d != time.Second {
		t.Errorf("--st 1.7: %v, want 1s", d)
	}
}

func TestSemSetName(t *testing.T) {
	for _, tc := range []struct{ id, want string }{
		{"pod2html", "pod2html"}, {"a.b-c_d", "a.b-c_d"}, {"/dev/pts/3", "id-2fdev2fpts2f3"}, {"not a tty", "id-not20a20tty"},
		{"-x", "id--x"}, {"", "id-"},
	} {
		if got := semSetName(tc.id); got != tc.want {
			t.Errorf("semSetName(%q) = %q, want %q", tc.id, got, tc.want)
		}
	}
	long := strings.Repeat("/", 200)
	a, b := semSetName(long), semSetName(long+"x")
	if semlock.ValidateName(a) != nil || a == b || len(a) > semlock.MaxNameLen {
		t.Errorf("long ids: %q and %q (want valid, distinct names)", a, b)
	}
}

func TestParseSemArgs(t *testing.T) {
	o, err := parseSemArgs([]string{"--fg", "--id=x", "-j4", "--st", "-2", "--timeout", "1m", "-u", "echo", "--fg", "-j", "9"})
	if err != nil {
		t.Fatal(err)
	}
	want := &semOptions{fg: true, id: "x", idSet: true, jobs: "4", st: -2 * time.Second, timeout: time.Minute, ungroup: true,
		command: []string{"echo", "--fg", "-j", "9"}}
	if !reflect.DeepEqual(o, want) {
		t.Errorf("got %+v\nwant %+v", o, want)
	}
	// Getopt::Long's single-dash long options, --semaphorename, -P.
	o, err = parseSemArgs([]string{"-fg", "-semaphorename", "y", "-P", "3", "--", "-x"})
	if err != nil || !o.fg || o.id != "y" || o.jobs != "3" || !reflect.DeepEqual(o.command, []string{"-x"}) {
		t.Errorf("got %+v, %v", o, err)
	}
	// poolrun's own --no-jobserver; an etcd cap as the id.
	o, err = parseSemArgs([]string{"--no-jobserver", "--id", "etcd://h:1/n", "true"})
	if err != nil || !o.noJS || o.id != "etcd://h:1/n" || !reflect.DeepEqual(o.command, []string{"true"}) {
		t.Errorf("got %+v, %v", o, err)
	}
	for _, args := range [][]string{{"--bogus"}, {"-j"}, {"--id"}, {"--fg=1"}, {"--timeout", "soon"}, {"--timeout", "-1"}, {holderFlag, "x"}} {
		_, err := parseSemArgs(args)
		var ue *usageError
		if !errors.As(err, &ue) {
			t.Errorf("parseSemArgs(%q): %v, want a usage error", args, err)
		}
	}
}

func TestWantsSemaphore(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want bool
	}{
		{[]string{"--semaphore", "true"}, true},
		{[]string{"-j", "4", "--semaphore", "true"}, true},
		{[]string{"--id", "x", "true"}, true},
		{[]string{"--fg", "true"}, true},
		{[]string{"--wait"}, true},
		{[]string{"--st=1", "x"}, true},
		{[]string{"-j", "4", "echo", "--semaphore"}, false}, // the command's
		{[]string{"echo", ":::", "--fg"}, false},
		{[]string{"-k", "echo"}, false},
		{[]string{"sem", "ls"}, false},
		{nil, false},
	} {
		if got := wantsSemaphore(tc.args); got != tc.want {
			t.Errorf("wantsSemaphore(%q) = %v, want %v", tc.args, got, tc.want)
		}
	}
}

func TestNewSemJob(t *testing.T) {
	for _, tc := range []struct {
		cmd  []string
		argv []string
	}{
		{[]string{"true"}, []string{"true"}},
		{[]string{"echo", "a", "b"}, []string{"echo", "a", "b"}},
		{[]string{"echo a; echo b"}, []string{"sh", "-c", "echo a; echo b"}},
		{[]string{"echo", "a", ";", "echo", "b"}, []string{"sh", "-c", "echo a ; echo b"}},
		{[]string{"exit 3"}, []string{"sh", "-c", "exit 3"}},
		{[]string{"no-such-program-here"}, []string{"sh", "-c", "no-such-program-here"}},
	} {
		j, err := newSemJob(&semOptions{command: tc.cmd})
		if err != nil || !reflect.DeepEqual(j.argv, tc.argv) {
			t.Errorf("newSemJob(%q): %q, %v; want %q", tc.cmd, j.argv, err, tc.argv)
		}
	}
	if _, err := newSemJob(&semOptions{command: []string{"no-such-program-here"}, quote: true}); err == nil {
		t.Error("-q with a missing program: no error")
	}
}

// FuzzParseSemJobs: any -j resolves to 1..MaxValue or fails with a usage
// error or errNoJobs, never a panic.
func FuzzParseSemJobs(f *testing.F) {
	for _, s := range []string{"4", "0", "+2", "-1", "-5", "50%", "1.5", "abc", "", "%", "1e9%", "-0", "99999999999999999999"} {
		f.Add(s, 2)
	}
	f.Fuzz(func(t *testing.T, v string, cpus int) {
		if cpus < 1 || cpus > 4096 {
			return
		}
		if _, err := os.Stat(strings.TrimSpace(v)); err == nil {
			return // names a file here: a procfile, not what this fuzzes
		}
		n, err := parseSemJobs(v, cpus)
		var ue *usageError
		switch {
		case err == nil && (n < 1 || n > semlock.MaxValue):
			t.Fatalf("parseSemJobs(%q, %d) = %d", v, cpus, n)
		case err != nil && !errors.Is(err, errNoJobs) && !errors.As(err, &ue):
			t.Fatalf("parseSemJobs(%q, %d): %v", v, cpus, err)
		}
	})
}

// FuzzParseSemArgs: any command line parses or fails with a usage error;
// the command is a suffix of the line.
func FuzzParseSemArgs(f *testing.F) {
	for _, s := range []string{"--fg\x00-j\x004\x00true", "--id=x\x00--wait", "-j4\x00--st\x00-1\x00sleep 1", "--bogus", "-j", "--\x00-x", "--timeout\x001m\x00-u\x00a"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		args := strings.Split(line, "\x00")
		o, err := parseSemArgs(args)
		if err != nil {
			var ue *usageError
			if !errors.As(err, &ue) {
				t.Fatalf("parseSemArgs(%q): %v", args, err)
			}
			return
		}
		if len(o.command) > len(args) || !reflect.DeepEqual(o.command, args[len(args)-len(o.command):]) {
			t.Fatalf("parseSemArgs(%q): command %q is not the line's end", args, o.command)
		}
	})
}

// FuzzParseTimeUnits: never a panic; a parse that succeeds has the sign
// it was written with.
func FuzzParseTimeUnits(f *testing.F) {
	for _, s := range []string{"10", "1.5", "-3", "1h30m", "2d", "abc", "", "1m30", "..", "-", "9999999999d"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		d, ok := parseTimeUnits(v)
		if ok && strings.HasPrefix(strings.TrimSpace(v), "-") && d > 0 {
			t.Fatalf("parseTimeUnits(%q) = %v, want <= 0", v, d)
		}
	})
}
